// The one table of builtin filters, tests and global functions: name → implementation. The parser's
// "unknown filter" check, its "did you mean" hint, the `filter`/`test` tests and map()/select() all read it;
// there is no other list of known names.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ast.hpp"
#include "value.hpp"

namespace squall::core::templates {

class Evaluator;
struct Args;

using FilterFn = Value (Evaluator::*)(const Expr& e, const std::string& n, Value v, const Args& args);
using TestFn = Value (Evaluator::*)(const Expr& e, const std::string& n, const Value& v, const Args& args);
using FunctionFn = Value (Evaluator::*)(const Expr& e, Args& args);

struct BuiltinTable {
    std::map<std::string, FilterFn, std::less<>> filters;
    std::map<std::string, TestFn, std::less<>> tests;
    std::map<std::string, FunctionFn, std::less<>> functions;

    const FilterFn* Filter(std::string_view name) const;
    const TestFn* Test(std::string_view name) const;
    const FunctionFn* Function(std::string_view name) const;
};

/// Fill the table; each is defined next to the implementations it registers.
void RegisterFilters(BuiltinTable& table);
void RegisterTests(BuiltinTable& table);
void RegisterFunctions(BuiltinTable& table);

/// The table, built once on first use (thread-safe; immutable afterwards).
const BuiltinTable& Builtins();

/// The closest name in `names` to `name` (edit distance at most 2, and less than the name's length), or "" when
/// none is close: the "did you mean" of an unknown filter or test.
std::string ClosestOf(const std::map<std::string, FilterFn, std::less<>>& names, std::string_view name);
std::string ClosestOf(const std::map<std::string, TestFn, std::less<>>& names, std::string_view name);

}  // namespace squall::core::templates
