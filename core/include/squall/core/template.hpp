// Transitional: the template engine is its own library, squall::templates (core/templates/, header
// squall/templates/template.hpp). This header keeps only what core itself needs from it, the KeyValueLookup
// interface, for the includers that still name it here (store/kv_store.hpp); new code includes kv_lookup.hpp.
#pragma once

#include "squall/core/kv_lookup.hpp"
