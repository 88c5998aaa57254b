#pragma once

// YAQL, the second expression language of Orquesta workflows (`<% $.name %>`, `<% ctx(x) + 1 %>`), in the
// subset StackStorm's workflows use: `$` and `$.path`, literals, lists and dicts, arithmetic, comparison,
// `and`/`or`/`not`, `in`, indexing, method-call syntax and the functions given in RenderOptions::functions
// (Orquesta's ctx(), result(), item(), task_status()...), st2kv through RenderOptions::kv.
#include <string_view>

#include "squall/core/error.hpp"
#include "squall/templates/template.hpp"

namespace squall::core {

/// Evaluates one YAQL expression — the text between `<%` and `%>` — with `$` bound to `root`. Errors name the
/// column: `yaql error at column N: <what> in "<expression>"`. Never throws; bounded by options' budgets.
Result<Json> EvaluateYaql(std::string_view expression, const Json& root, const RenderOptions& options = {});

/// True when `text` holds a `<% ... %>` expression.
bool HasYaql(std::string_view text);

/// Renders a string holding `<% %>` expressions as Orquesta does: a string that is exactly one expression
/// (surrounding whitespace allowed) gives the expression's JSON value; otherwise each expression is replaced by
/// its value printed as Python's str() and the result is a string.
Result<Json> RenderYaqlString(std::string_view text, const Json& root, const RenderOptions& options = {});

}  // namespace squall::core
