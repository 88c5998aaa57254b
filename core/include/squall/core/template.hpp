#pragma once

#include <string>
#include <string_view>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core {

/// Parameter rendering with `{{ path }}` expressions over a JSON context (e.g. {"trigger": payload}).
/// A path is a variable followed by `.name`, `[n]` or `['key']` steps. Semantics follow StackStorm (Jinja2 with
/// StrictUndefined): an undefined path is an error naming it. A string that is exactly one `{{ expr }}` keeps the
/// JSON type of the value; inside longer text values print as Python's str() does (True, None, ['a', 1]).
/// This is the walking skeleton's subset; filters, tests and blocks arrive with the full engine.
/// Thread-safe (pure).
Result<std::string> RenderString(std::string_view text, const Json& context);

/// Renders every string inside `value` (recursively through objects and arrays); other values are kept.
Result<Json> RenderValue(const Json& value, const Json& context);

/// Looks up a dotted path like `trigger.body.ref` or `trigger.commits[0]['id']` (used by criteria keys);
/// returns nullptr when any step is missing.
const Json* LookupPath(const Json& root, std::string_view path);

/// Python str() of a JSON value, as Jinja prints it.
std::string PythonStr(const Json& v);

}  // namespace squall::core
