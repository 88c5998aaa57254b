// StackStorm's expression functions that both template languages share (st2common's expressions/functions:
// time, version, jsonpath_query): the Jinja filters (filters.cpp) and the YAQL functions (yaql.cpp) call these,
// so the two give the same answers. Each returns an error text where StackStorm's Python raises.
#pragma once

#include <string>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core::templates {

/// The magic string st2's `use_none` returns for None; parameter casting turns it back into null.
inline constexpr const char* kNoneMagicValue = "%*****__%NONE%__*****%";

/// to_human_time_from_seconds: 12345 → "3h25m45s" (years, days of the month, hours, minutes, seconds from the
/// first non-zero part, as st2 computes it over datetime(1, 1, 1) + timedelta(seconds)); under 1 → "<n>μs".
Result<Json> HumanTimeFromSeconds(const Json& seconds);

/// The version_* functions over semantic versions (semver's Version.parse, compare, match, bump_*).
/// `name` is the function's name (version_compare, version_more_than, ..., version_strip_patch); `pattern` is the
/// second argument (ignored by the one-argument functions).
Result<Json> VersionFunction(const std::string& name, const Json& value, const Json& pattern);
/// True for the names VersionFunction knows; `*arity` gets its argument count.
bool IsVersionFunction(const std::string& name, int* arity);

/// jsonpath_query(value, query): the values the JSONPath `query` finds (jsonpath_rw's `$`, `.name`, `..name`,
/// `.*`, `[n]`, `[*]`, `[a:b]`, `['name']`), or null when it finds none.
Result<Json> JsonPathQuery(const Json& value, const std::string& query);

}  // namespace squall::core::templates
