// The template evaluator: runs the AST over a JSON context with Python's semantics. Errors are collected in
// `error` (rendering never throws); every step is charged to the render's budget of work and memory.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ast.hpp"
#include "builtins.hpp"
#include "pystr.hpp"
#include "squall/templates/template.hpp"
#include "value.hpp"

namespace squall::core {

struct Template::Impl {
    std::string source;  // as given, for error messages
    templates::Body body;
    const templates::Expr* single = nullptr;  // set when the template is exactly one `{{ expr }}`
};

}  // namespace squall::core

namespace squall::core::templates {

/// `template error at [line L ]column C: <what> in "<source>"`.
std::string ErrorText(std::string_view source, size_t pos, const std::string& what);
/// The dotted name of an access chain (`trigger.body.x`, `a['k'][0]`), for undefined-value messages.
std::string ExprPath(const Expr& e);
/// Where an access chain starts in the source.
size_t ChainStart(const Expr& e);

struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    /// Argument `i` (after the subject) or keyword `name`; null when absent.
    const Value* Get(size_t i, const char* name) const {
        if (i < pos.size()) return &pos[i];
        for (const auto& [k, v] : kw) {
            if (k == name) return &v;
        }
        return nullptr;
    }
};

class Evaluator {
public:
    Evaluator(const Template::Impl& t, const Json& root, const RenderOptions& o) : t_(t), root_(root), opts_(o) {}

    std::optional<Error> error;

    /// Sets `error`: `v` (looked up by `e`) is undefined.
    void FailUndefined(const Expr& e, const Value& v) { Undef(e, v); }

    bool Exec(const Body& body, std::string& out);

    /// Evaluates `e`, charging the node and what it builds to the budget.
    Value Eval(const Expr& e);

private:
    Value EvalNode(const Expr& e);
    Value Fail(size_t pos, const std::string& what);

    // An operation on an undefined value: Jinja's UndefinedError.
    Value Undef(const Expr& e, const Value& v);

    Value Lookup(const std::string& name);

    Value GetAttr(const Expr& e, const Value& base, const std::string& name);

    Value GetItem(const Expr& e, const Value& base, const Value& key);

    Value EvalSlice(const Expr& e);

    /// `text % values`: a tuple gives its items, a dict (or list) is also the mapping for `%(name)s`.
    Value PercentFormat(const Expr& e, const std::string& text, const Value& r, bool tuple);

    Value EvalBinary(const Expr& e);
    /// Python's arithmetic `x op y` on floats.
    Value FloatArith(const Expr& e, const std::string& op, double x, double y);
    /// Python's arithmetic on two ints, one of them (or the result) beyond 64 bits.
    Value BigArith(const Expr& e, const std::string& op, const Json& a, const Json& b);

    bool In(const Expr& e, const Value& l, const Value& r, bool* result);

    Value EvalCompare(const Expr& e);

    bool EvalArgs(const Expr& e, Args* args);

    Value EvalFilter(const Expr& e);
    /// Filter `n` on `v` (the filter expression `e` gives the position and the subject's name for errors).
    Value ApplyFilter(const Expr& e, const std::string& n, Value v, const Args& args);
    /// select/reject/selectattr/rejectattr and map('filter', ...) over a sequence.
    Value SelectOrMap(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value EvalTest(const Expr& e);
    Value ApplyTest(const Expr& e, const std::string& n, const Value& v, const Args& args, bool negated);
    Value EvalCall(const Expr& e);
    /// Python str methods beyond the common ones (strmethods.cpp); nullopt when `m` is not one of them.
    std::optional<Value> StrMethod(const Expr& e, const std::string& s, const std::string& m, Args& args);
    /// Calls macro (or call block) `m` with `args`; its body renders to the returned string.
    Value CallMacro(const Expr& e, const Stmt& m, Args& args);
    /// The macro bound to `name` in the locals, or null.
    const Stmt* FindMacro(const std::string& name) const;
    bool ExecScoped(const Stmt& s, std::string& out);
    bool ExecFor(const Stmt& s, std::string& out);
    /// One run of a for loop over `seq`; `loop_depth` is loop.depth (a recursive loop's loop(x) runs it one deeper).
    bool ExecForOver(const Stmt& s, const Value& seq, int loop_depth, std::string& out);
    /// A global function: the caller's (RenderOptions::functions) first, then the builtin table.
    Value CallFunction(const Expr& e, Args& args);
    Value CallRecursiveLoop(const Expr& e, Args& args);
    /// How deep loop(children) may nest: each level is a few evaluator frames on the native stack.
    static constexpr int kMaxLoopDepth = 100;

    /// Charges `steps` units of work and `bytes` built to the render budget (RenderOptions::max_steps and
    /// max_bytes); false with `error` set once either is exceeded.
    bool Spend(size_t pos, uint64_t steps, uint64_t bytes = 0);
    /// Charges a value built by an operation: its size counts against the memory budget and its length as work.
    bool SpendBuilt(size_t pos, const Value& v);
    /// Spend for sorting n items: a step per comparison, n·log2(n).
    bool SpendSort(size_t pos, size_t n);
    /// Spend for the items Iterate makes of `v` before it makes them: a str becomes one str per code point.
    bool SpendIterated(size_t pos, const Value& v);

    // Builtin filters, tests and functions: registered by name in the one BuiltinTable (builtins.hpp) by
    // RegisterFilters (filters.cpp), RegisterTests (tests.cpp) and RegisterFunctions (functions.cpp).
    friend void RegisterFilters(BuiltinTable& table);
    friend void RegisterTests(BuiltinTable& table);
    friend void RegisterFunctions(BuiltinTable& table);
    Value FilterDefault(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterUpper(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterLower(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterCapitalize(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterTitle(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterTrim(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterReplace(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterString(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterLength(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterBool(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterInt(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterFloat(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterAbs(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterRound(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterSelectOrMap(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterFormat(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterEscape(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterSafe(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterTextLayout(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterUrlencode(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterFilesizeformat(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterDictsort(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterBatch(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterSequence(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterGroupby(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterItems(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterToJson(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterFromJsonString(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterToYamlString(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterRegex(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterPath(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterUseNone(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterDecryptKv(const Expr& e, const std::string& n, Value v, const Args& args);
    /// StackStorm's time, version, jsonpath_query, to_complex and from_yaml_string filters (st2fns.hpp).
    Value FilterSt2Function(const Expr& e, const std::string& n, Value v, const Args& args);
    Value TestDefined(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestUndefined(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestNone(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestString(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestNumber(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestBoolean(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestInteger(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestFloat(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestMapping(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestIterable(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestFilter(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestTrue(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestLower(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestEven(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value TestCompare(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value FunctionRange(const Expr& e, Args& args);
    Value FunctionDict(const Expr& e, Args& args);
    Value FilterRandom(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterAttr(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterStriptags(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterWordwrap(const Expr& e, const std::string& n, Value v, const Args& args);
    Value FilterPprint(const Expr& e, const std::string& n, Value v, const Args& args);
    Value TestCallable(const Expr& e, const std::string& n, const Value& v, const Args& args);

    void Assign(const std::string& name, Value v);

    bool SetAttr(const Stmt& s, Value v);

    const Template::Impl& t_;
    const Json& root_;
    const RenderOptions& opts_;
    // Locals live in a deque so that values borrowed from them stay valid while more are pushed.
    std::deque<std::pair<const std::string*, Value>> locals_;
    size_t frame_ = 0;  // locals below this index belong to enclosing loops and are shadowed, not overwritten
    int depth_ = 0;
    int macro_depth_ = 0;
    /// The recursive loops being run: the statement, its loop.depth, and depth_ inside it (loop(x) is the innermost
    /// loop's, and only when that loop is recursive).
    struct RecursiveLoop {
        const Stmt* stmt;
        int loop_depth;
        int depth;
    };
    std::vector<RecursiveLoop> recursive_loops_;
    std::vector<std::optional<Json>> loop_changed_;  // per loop being run: the last value loop.changed() saw  // macro
                                                     // calls in progress (bounded: a macro may call itself)
    uint64_t steps_ = 0;                             // work done so far (see Spend)
    uint64_t bytes_ = 0;                             // bytes built so far, the output included
};

}  // namespace squall::core::templates
