#pragma once

// YAQL, the second expression language of Orquesta workflows (`<% $.name %>`, `<% ctx(x) + 1 %>`), in the
// subset StackStorm's workflows use: `$` and `$.path`, literals, lists and dicts, arithmetic, comparison,
// `and`/`or`/`not`, `in`, indexing, method-call syntax and the functions given in RenderOptions::functions
// (Orquesta's ctx(), result(), item(), task_status()...), st2kv through RenderOptions::kv.
//
// Semantics follow YAQL 1.x (openstack/yaql) as Orquesta runs it:
// - `$.a.b`, `$.a[0]`, `$['k']`, `$.list.name` (maps `.name` over a list's items), `$.x?.y` (null when $.x is null).
//   A missing key is an error (`unable to resolve key 'k'`), as YAQL's KeyError; `$.d.get('k', default)` and
//   `$['k', default]` read optional keys.
// - A bare name is a string (`ctx(name)` is `ctx('name')`); `true`, `false`, `null` are the constants.
// - Precedence, tightest first: `.` `?.` `[]`; unary `+ -`; `=~ !~`; `* / mod`; `+ -`; comparisons and `in`; `not`;
//   `and`; `or`. `int / int` floors and `mod` takes the divisor's sign (Python's // and %); `and`/`or` return an
//   operand; `null` orders before every value.
// - Every function also works as a method (`$.list.len()` is `len($.list)`); select, where/filter, any, all,
//   orderBy, orderByDescending and selectMany evaluate their expression with `$` bound to each item.
// - RenderOptions::functions come first; then `st2kv(key, decrypt => bool, default => value)` ('system.' or
//   'user.' prefix, system by default), then the standard library and StackStorm's functions (yaql.cpp lists them).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/templates/template.hpp"

namespace squall::core {

/// Evaluates one YAQL expression — the text between `<%` and `%>` — with `$` bound to `root`. Errors name the
/// column: `yaql error at column N: <what> in "<expression>"`. Never throws; bounded by options' budgets.
Result<Json> EvaluateYaql(std::string_view expression, const Json& root, const RenderOptions& options = {});

/// True when `text` holds a `<% ... %>` expression (on one line, as RenderYaqlString finds them).
bool HasYaql(std::string_view text);

/// One `<% ... %>` expression of a text that does not parse.
struct YaqlSyntaxError {
    std::string expression;  ///< with its delimiters, as Orquesta reports it
    std::string message;     ///< `yaql error at column N: <what> in "<expression>"`, as EvaluateYaql words it
};

/// Parses, without evaluating, every `<% ... %>` expression of `text` (found as RenderYaqlString finds them), as
/// Orquesta's YAQLEvaluator.validate does when a workflow is inspected. Empty: every expression parses.
std::vector<YaqlSyntaxError> YaqlSyntaxErrors(std::string_view text);

/// Renders a string holding `<% %>` expressions as Orquesta does: a string that is exactly one expression
/// (surrounding whitespace allowed) gives the expression's JSON value; otherwise each expression is replaced by
/// its value printed as Python's str() and the result is a string. As Orquesta's pattern `<%.*?%>`, an expression
/// ends at the first `%>` and does not span lines; an unclosed `<%` is text.
Result<Json> RenderYaqlString(std::string_view text, const Json& root, const RenderOptions& options = {});

/// The names of StackStorm's expression functions as its orquesta runner registers them for both languages
/// (basename, to_json_string, json_dump, version_compare, jsonpath_query, use_none...): Orquesta's Jinja calls
/// them as global functions too, which the workflow conductor provides through CallSt2Function.
const std::vector<std::string>& St2FunctionNames();

/// Calls StackStorm's function `name` (one of St2FunctionNames) with plain values, as the YAQL builtin of that
/// name does. Errors are the function's own message (`1.2 is not valid SemVer string`).
Result<Json> CallSt2Function(
    const std::string& name, const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs
);

}  // namespace squall::core
