// The render budget (issue 18, "poison events end"), the per-render global functions, and the builtin table's
// "did you mean".
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "squall/templates/template.hpp"

namespace squall::core {
namespace {

const Json kCtx = Json::object();

bool Contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST(TemplateBudgetTest, NestedLoopsStopAtTheStepBudget) {
    const auto start = std::chrono::steady_clock::now();
    Result<std::string> r =
        RenderString("{% for i in range(100000) %}{% for j in range(300) %}x{% endfor %}{% endfor %}", kCtx);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "template error at column")) << r.error().message;
    EXPECT_TRUE(
        Contains(r.error().message, "exceeded the render budget of 10000000 steps") ||
        Contains(r.error().message, "exceeded the render budget of 64 MiB")
    ) << r.error().message;
    // Generous for a sanitizer build on a loaded machine; unbounded, this ran for minutes.
    EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(took).count(), 60);
}

// A string parsed by from_json_string is bounded like every JSON that enters (core::ParseJsonLimited): nested
// 100,000 deep, it overflowed the stack of the next walk of the value (a webhook body rendered by a rule crashed
// the server, found by a tester driving a live one).
TEST(TemplateBudgetTest, FromJsonStringRefusesJsonNestedTooDeep) {
    const Json ctx = {{"s", std::string(100000, '[') + std::string(100000, ']')}};
    for (const char* text : {"{{ s | from_json_string }}", "{{ s | from_json_string | length }}"}) {
        Result<std::string> r = RenderString(text, ctx);
        ASSERT_FALSE(r) << text;
        EXPECT_TRUE(Contains(r.error().message, "from_json_string: invalid JSON")) << r.error().message.substr(0, 200);
        EXPECT_TRUE(Contains(r.error().message, "nested deeper than the limit of 256 levels"))
            << r.error().message.substr(0, 200);
    }
    const Json fine = {{"s", std::string(200, '[') + std::string(200, ']')}};
    EXPECT_EQ(*RenderString("{{ s | from_json_string | length }}", fine), "1");
}

// Found by the criteria fuzz target: a few KB of `+` made a left-deep tree whose evaluation overflowed the stack;
// parentheses, unary signs, attribute and filter chains and nested blocks did the same in the parser. Each is
// refused at compile time with its position, while ordinary depths still render.
TEST(TemplateBudgetTest, DeepNestingIsACompileErrorNotAStackOverflow) {
    auto repeat = [](const std::string& s, int n) {
        std::string out;
        for (int i = 0; i < n; ++i) out += s;
        return out;
    };
    const std::vector<std::string> deep = {
        "{{ " + repeat("(", 3000) + "1" + repeat(")", 3000) + " }}",
        "{{ 1" + repeat(" + 1", 5000) + " }}",
        "{{ " + repeat("-", 5000) + "1 }}",
        "{{ x" + repeat(".a", 5000) + " }}",
        "{{ x" + repeat("|string", 5000) + " }}",
        "{{ not " + repeat("not ", 5000) + "x }}",
        repeat("{% if 1 %}", 3000) + repeat("{% endif %}", 3000),
    };
    for (const auto& text : deep) {
        Result<std::string> r = RenderString(text, kCtx);
        ASSERT_FALSE(r) << text.substr(0, 40);
        EXPECT_TRUE(Contains(r.error().message, "nested too deeply (more than 500 levels)")) << r.error().message;
        EXPECT_TRUE(Contains(r.error().message, "template error at column")) << r.error().message;
    }
    EXPECT_EQ(*RenderString("{{ " + repeat("(", 90) + "1" + repeat(")", 90) + " }}", kCtx), "1");
    EXPECT_EQ(*RenderString("{{ 1" + repeat(" + 1", 400) + " }}", kCtx), "401");
    EXPECT_EQ(*RenderString(repeat("{% if 1 %}", 100) + "y" + repeat("{% endif %}", 100), kCtx), "y");
}

TEST(TemplateBudgetTest, PureLoopWorkStopsAtTheStepBudget) {
    RenderOptions o;
    o.max_steps = 10000;
    Result<std::string> r = RenderString("{% for i in range(100000) %}{% endfor %}", kCtx, o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 10000 steps")) << r.error().message;
    // Under the budget the same template renders.
    o.max_steps = 5000000;
    EXPECT_TRUE(RenderString("{% for i in range(100000) %}{% endfor %}", kCtx, o));
}

TEST(TemplateBudgetTest, SortingAndUniqueSpendTheStepBudget) {
    // A long fuzz run found `s | sort | join(long) | sort | join(long) ...`: each sort of millions of characters
    // cost seconds of comparisons the budget did not count. A sort now spends n·log2(n) steps.
    RenderOptions o;
    o.max_steps = 100000;
    Result<std::string> r = RenderString("{{ ('ab' * 20000) | sort | join }}", kCtx, o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 100000 steps")) << r.error().message;
    EXPECT_EQ(*RenderString("{{ ('ba' * 3) | sort | join }}", kCtx, o), "aaabbb");
    // unique compares an item only with seen items of the same hash: 100,000 distinct items are not 5·10^9
    // comparisons, and 1, 1.0 and true are still one item, as in Python.
    Result<std::string> many = RenderString("{{ range(100000) | unique | list | length }}", kCtx);
    ASSERT_TRUE(many) << many.error().message;
    EXPECT_EQ(*many, "100000");
    EXPECT_EQ(
        *RenderString("{{ [1, 1.0, true, 'a', 'a', (1, 2), (1, 2), none, none] | unique | list }}", kCtx),
        "[1, 'a', (1, 2), None]"
    );
}

TEST(TemplateBudgetTest, LargeRepeatedStringsStopAtTheMemoryBudget) {
    Result<std::string> r = RenderString("{% for i in range(60) %}{{ 'a'*16000000 }}{% endfor %}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 64 MiB")) << r.error().message;
}

TEST(TemplateBudgetTest, ListRepetitionIsCountedInBytesNotItems) {
    // 100 items of 16 MB each would be 1.6 GB; the budget refuses before building it.
    Result<Json> r = RenderValue("{{ ['a'*16000000] * 100 }}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 64 MiB")) << r.error().message;
}

TEST(TemplateBudgetTest, BudgetIsSettablePerRender) {
    RenderOptions o;
    o.max_bytes = 1000;
    Result<std::string> r = RenderString("{{ 'a' * 2000 }}", kCtx, o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 1000 bytes")) << r.error().message;
    EXPECT_EQ(*RenderString("{{ 'a' * 200 }}", kCtx, o), std::string(200, 'a'));
    // The existing repetition cap still applies first.
    Result<std::string> big = RenderString("{{ 'a' * 17000000 }}", kCtx);
    ASSERT_FALSE(big);
    EXPECT_TRUE(Contains(big.error().message, "result of * too large")) << big.error().message;
}

TEST(TemplateBudgetTest, StringConcatenationInALoopIsBounded) {
    // Quadratic growth: each iteration copies the string built so far.
    Result<std::string> r = RenderString(
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ 'xxxxxxxxxx' %}{% endfor %}"
        "{{ ns.s | length }}",
        kCtx
    );
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of")) << r.error().message;
}

TEST(TemplateFunctionsTest, CallerFunctionsAreCalledForOneRender) {
    TemplateFunctions fns;
    fns["ctx"] = [](const std::vector<Json>& args,
                    const std::vector<std::pair<std::string, Json>>& kw) -> Result<Json> {
        if (args.size() != 1 || !args[0].is_string()) return InvalidArgument("ctx() takes one name");
        return Json("value of " + args[0].get<std::string>());
    };
    fns["task"] = [](const std::vector<Json>&, const std::vector<std::pair<std::string, Json>>& kw) -> Result<Json> {
        Json out = Json::object();
        for (const auto& [k, v] : kw) out[k] = v;
        return out;
    };
    RenderOptions o;
    o.functions = &fns;
    EXPECT_EQ(*RenderString("{{ ctx('x') | upper }}", kCtx, o), "VALUE OF X");
    EXPECT_EQ(*RenderValue("{{ task(id=3, name='t') }}", kCtx, o), Json::parse(R"({"id": 3, "name": "t"})"));
    Result<std::string> bad = RenderString("{{ ctx(1, 2) }}", kCtx, o);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(Contains(bad.error().message, "ctx(): ctx() takes one name")) << bad.error().message;
    // Builtins stay available next to them; without the table the name is undefined.
    EXPECT_EQ(*RenderValue("{{ range(3) | list }}", kCtx, o), Json::parse("[0, 1, 2]"));
    Result<std::string> none = RenderString("{{ ctx('x') }}", kCtx);
    ASSERT_FALSE(none);
    EXPECT_TRUE(Contains(none.error().message, "'ctx' is undefined")) << none.error().message;
}

TEST(TemplateBuiltinTableTest, UnknownNamesSuggestTheClosestFromTheSameTable) {
    Result<TemplatePtr> f = Template::Compile("{{ x | tojsn }}");
    ASSERT_FALSE(f);
    EXPECT_TRUE(Contains(f.error().message, R"(unknown filter "tojsn" (did you mean "tojson"?))")) << f.error().message;
    Result<TemplatePtr> t = Template::Compile("{{ x is defind }}");
    ASSERT_FALSE(t);
    EXPECT_TRUE(Contains(t.error().message, R"(unknown test "defind" (did you mean "defined"?))")) << t.error().message;
    Result<TemplatePtr> far = Template::Compile("{{ x | zzzzzzzz }}");
    ASSERT_FALSE(far);
    EXPECT_TRUE(Contains(far.error().message, R"(unknown filter "zzzzzzzz" in)")) << far.error().message;
    // The `filter` and `test` tests read the same table.
    EXPECT_EQ(*RenderValue("{{ 'tojson' is filter }}", kCtx), Json(true));
    EXPECT_EQ(*RenderValue("{{ 'tojsn' is filter }}", kCtx), Json(false));
    EXPECT_EQ(*RenderValue("{{ 'divisibleby' is test }}", kCtx), Json(true));
}

// A macro may call itself; unbounded, that recursion overflowed the native stack long before the step budget.
TEST(TemplateBudgetTest, MacroRecursionIsBoundedAndMacroLoopsSpendTheBudget) {
    Result<std::string> r = RenderString("{% macro m(x) %}{{ m(x + 1) }}{% endmacro %}{{ m(0) }}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "maximum recursion depth exceeded")) << r.error().message;
    // Depths templates use still work.
    Result<std::string> ok = RenderString(
        "{% macro m(x) %}{% if x > 0 %}{{ x }}.{{ m(x - 1) }}{% endif %}{% endmacro %}{{ m(50) | length }}", kCtx
    );
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(*ok, "141");
    // Each call is charged: a macro called in a big loop stops at the budget (a small one, to keep this quick).
    RenderOptions small;
    small.max_steps = 200'000;
    Result<std::string> loop = RenderString(
        "{% macro m(x) %}{% for i in range(1000) %}{{ x }}{% endfor %}{% endmacro %}"
        "{% for i in range(100000) %}{{ m(i) }}{% endfor %}",
        kCtx,
        small
    );
    ASSERT_FALSE(loop);
    EXPECT_TRUE(Contains(loop.error().message, "exceeded the render budget")) << loop.error().message;
    // A call block's body and a filter block's body are charged as well.
    Result<std::string> call = RenderString(
        "{% macro each(n) %}{% for i in range(n) %}{{ caller(i) }}{% endfor %}{% endmacro %}"
        "{% filter upper %}{% call(i) each(100000) %}{% for j in range(1000) %}x{% endfor %}{% endcall %}{% endfilter "
        "%}",
        kCtx,
        small
    );
    ASSERT_FALSE(call);
    EXPECT_TRUE(Contains(call.error().message, "exceeded the render budget")) << call.error().message;
}

}  // namespace
}  // namespace squall::core
