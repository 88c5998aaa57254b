#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "squall/templates/template.hpp"

namespace squall::core {
namespace {

const Json kCtx = Json::parse(R"({
  "trigger": {"body": {"ref": "refs/heads/main", "n": 3, "ok": true, "none": null,
              "repository": {"full_name": "octo/repo"}, "commits": [{"id": "abc"}, {"id": "def"}],
              "list": ["a", 1, true], "headers": {"X-Event": "push"}}}
})");

TEST(TemplateTest, SingleExpressionKeepsJsonType) {
    EXPECT_EQ(*RenderValue("{{ trigger.body.n }}", kCtx), Json(3));
    EXPECT_EQ(*RenderValue("{{trigger.body.ok}}", kCtx), Json(true));
    EXPECT_EQ(*RenderValue("{{ trigger.body.list }}", kCtx), Json::parse(R"(["a", 1, true])"));
    EXPECT_EQ(*RenderValue("{{ trigger.body.none }}", kCtx), Json(nullptr));
    EXPECT_EQ(*RenderValue(" {{ trigger.body.n * 2 }} ", kCtx), Json(6));
    EXPECT_EQ(*RenderValue("{{ trigger.body.list | length }}", kCtx), Json(3));
    EXPECT_EQ(*RenderValue("{{ '5' | int }}", kCtx), Json(5));
    EXPECT_EQ(*RenderValue("{{ trigger.body.n }}{{ trigger.body.n }}", kCtx), Json("33"));
}

TEST(TemplateTest, TextPrintsAsPythonStr) {
    EXPECT_EQ(*RenderString("repo={{ trigger.body.repository.full_name }}!", kCtx), "repo=octo/repo!");
    EXPECT_EQ(*RenderString("{{ trigger.body.ok }}/{{ trigger.body.none }}", kCtx), "True/None");
    EXPECT_EQ(*RenderString("l={{ trigger.body.list }}", kCtx), "l=['a', 1, True]");
    EXPECT_EQ(
        *RenderString("{{ trigger.body.commits[1].id }} {{ trigger.body.headers['X-Event'] }}", kCtx), "def push"
    );
    EXPECT_EQ(
        *RenderString("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 10 / 4 }}", kCtx), "1.0 0.30000000000000004 1e+20 2.5"
    );
}

TEST(TemplateTest, RendersNestedValues) {
    Json v = Json::parse(R"({"a": ["{{ trigger.body.n }}", "x{{ trigger.body.n }}"], "b": 5, "c": "plain\n"})");
    EXPECT_EQ(*RenderValue(v, kCtx), Json::parse(R"({"a": [3, "x3"], "b": 5, "c": "plain\n"})"));
}

TEST(TemplateTest, UndefinedBehavesAsJinja2) {
    EXPECT_EQ(*RenderString("[{{ nope }}][{{ trigger.body.nope }}]", kCtx), "[][]");
    EXPECT_EQ(*RenderString("{{ nope | default('d') }}", kCtx), "d");
    EXPECT_EQ(*RenderString("{% if nope %}y{% else %}n{% endif %}", kCtx), "n");
    EXPECT_EQ(*RenderValue("{{ nope }}", kCtx), Json(""));
    Result<std::string> r = RenderString("echo {{ trigger.body.missing.x }}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "template error at column 9: 'trigger.body.missing' is undefined in \"echo {{ trigger.body.missing.x }}\""
    );
    EXPECT_FALSE(RenderString("{{ trigger.body", kCtx));
}

TEST(TemplateTest, ErrorsNameColumnAndText) {
    Result<std::string> r = RenderString("{{ trigger.x | uper }}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "template error at column 14: unknown filter \"uper\" (did you mean \"upper\"?) in \"{{ trigger.x | uper }}\""
    );
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    Result<std::string> e = RenderString("{% if x %}", kCtx);
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("endif"), std::string::npos);
}

TEST(TemplateTest, Statements) {
    EXPECT_EQ(
        *RenderString(
            "{% for c in trigger.body.commits %}{{ loop.index }}={{ c.id }}{{ ',' if not loop.last }}{% endfor %}", kCtx
        ),
        "1=abc,2=def"
    );
    EXPECT_EQ(*RenderString("{% set x = trigger.body.n + 1 %}{{ x }}", kCtx), "4");
    EXPECT_EQ(*RenderString("a {%- if true -%} b {%- endif -%} c", kCtx), "abc");
    EXPECT_EQ(*RenderString("{% raw %}{{ x }}{% endraw %}{# c #}", kCtx), "{{ x }}");
}

class FakeKv : public KeyValueLookup {
public:
    std::optional<std::string> Get(std::string_view scope, std::string_view key) const override {
        ++calls;
        auto it = values.find(std::string(scope) + "/" + std::string(key));
        if (it == values.end()) return std::nullopt;
        return it->second;
    }
    std::map<std::string, std::string> values;
    mutable int calls = 0;
};

TEST(TemplateTest, IntegersBeyond64BitsAreExactAndBounded) {
    // A webhook payload chooses these numbers: Python's ints have no limit, so a result beyond 64 bits is computed
    // exactly (never wrapped, never a trap), printed as Python prints it, and leaves a template as its digits.
    const Json ctx = {{"max", INT64_MAX}, {"min", INT64_MIN}};
    auto out = [&](const std::string& t) {
        Result<Json> r = RenderValue(t, ctx);
        return r ? *r : Json("error: " + r.error().message);
    };
    EXPECT_EQ(out("{{ max * 2 }}"), Json(uint64_t{18446744073709551614U}));
    EXPECT_EQ(out("{{ max + 1 }}"), Json(uint64_t{9223372036854775808U}));
    EXPECT_EQ(out("{{ min - 1 }}"), Json("-9223372036854775809"));
    EXPECT_EQ(out("{{ -min }}"), Json(uint64_t{9223372036854775808U}));
    EXPECT_EQ(out("{{ min // -1 }}"), Json(uint64_t{9223372036854775808U}));
    EXPECT_EQ(out("{{ min | abs }}"), Json(uint64_t{9223372036854775808U}));
    EXPECT_EQ(out("{{ 2 ** 100 }}"), Json("1267650600228229401496703205376"));
    EXPECT_EQ(out("{{ 2 ** 100 // 2 ** 98 }}"), Json(4));  // back within 64 bits: an int again
    EXPECT_EQ(out("{{ (2 ** 100) is integer }}"), Json(true));
    EXPECT_EQ(out("{{ [max + 1, 2 ** 70] | tojson }}"), Json("[9223372036854775808, 1180591620717411303424]"));
    EXPECT_EQ(out("{{ min % -1 }}"), Json(0));
    EXPECT_EQ(out("{{ 2 ** 62 }}"), Json(int64_t{1} << 62));
    EXPECT_EQ(out("{{ (-2) ** 63 }}"), Json(INT64_MIN));
    EXPECT_EQ(out("{{ 1 ** 999999999999999 }}"), Json(1));
    EXPECT_EQ(out("{{ (-1) ** 999999999999999 }}"), Json(-1));
    EXPECT_EQ(out("{{ 1e20 | int }}"), Json("100000000000000000000"));
    EXPECT_EQ(out("{{ '-99999999999999999999999' | int }}"), Json("-99999999999999999999999"));
    EXPECT_EQ(out("{{ range(max - 2, max, 5) | list }}"), Json::array({INT64_MAX - 2}));
    // The bound: Python's own limit for printing an int, 4300 digits, refused before it is computed.
    for (const char* t : {"{{ 3 ** 99999999999 }}", "{{ 10 ** 4300 }}", "{{ (10 ** 4000) * (10 ** 4000) }}"}) {
        const std::string e = out(t).get<std::string>();
        EXPECT_NE(e.find("integer too large"), std::string::npos) << t << ": " << e;
        EXPECT_NE(e.find("4300 digits"), std::string::npos) << t << ": " << e;
    }
    EXPECT_EQ(out("{{ (10 ** 4299) | string | length }}"), Json(4300));
    // Multiplying the largest allowed ints in a loop stays within the render budget (each product is bounded).
    Result<std::string> loop = RenderString("{% for k in range(300) %}{% set x = 7 ** 5000 %}{% endfor %}", ctx);
    EXPECT_TRUE(loop) << (loop ? "" : loop.error().message);
}

TEST(TemplateTest, RepetitionIsBounded) {
    EXPECT_EQ(*RenderValue("{{ 'ab' * 3 }}", kCtx), Json("ababab"));
    EXPECT_EQ(*RenderValue("{{ '' * 999999999999 }}", kCtx), Json(""));
    EXPECT_EQ(*RenderValue("{{ [] * 999999999999 }}", kCtx), Json::array());
    Result<Json> big = RenderValue("{{ 'ab' * 999999999999 }}", kCtx);
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("too large"), std::string::npos) << big.error().message;
}

TEST(TemplateTest, St2kvResolvesLazily) {
    FakeKv kv;
    kv.values["system/host"] = "db1";
    kv.values["user/a.b"] = "nested";
    RenderOptions opts;
    opts.kv = &kv;
    EXPECT_EQ(
        *RenderString("{{ st2kv.system.host }}|{{ st2kv.user.a.b }}|{{ st2kv.system.none }}", kCtx, opts), "db1|nested|"
    );
    EXPECT_EQ(*RenderString("{{ st2kv.system.none | default('x') }}", kCtx, opts), "x");
    const int calls = kv.calls;
    EXPECT_EQ(*RenderString("{{ trigger.body.n }}", kCtx, opts), "3");
    EXPECT_EQ(kv.calls, calls);                                         // nothing is fetched unless st2kv is used
    EXPECT_EQ(*RenderString("[{{ st2kv.system.host }}]", kCtx), "[]");  // no lookup → undefined
}

TEST(TemplateTest, CompiledOnceAndCached) {
    auto a = Template::Cached("{{ trigger.body.n }}");
    auto b = Template::Cached("{{ trigger.body.n }}");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->get(), b->get());
    EXPECT_TRUE((*a)->IsSingleExpression());
}

TEST(TemplateTest, LookupPath) {
    ASSERT_NE(LookupPath(kCtx, "trigger.body.commits[0].id"), nullptr);
    EXPECT_EQ(*LookupPath(kCtx, "trigger.body.commits[0].id"), "abc");
    EXPECT_EQ(LookupPath(kCtx, "trigger.body.nope"), nullptr);
    EXPECT_EQ(LookupPath(kCtx, "trigger.body.commits[7]"), nullptr);
}

// Tuples print as Python's (the corpus checks that against Jinja2) but leave the template as JSON lists, as
// StackStorm's JSON serialisation of a rendered parameter does; undefined values kept in a list leave as null.
TEST(TemplateTest, TuplesAndKeptUndefinedLeaveAsPlainJson) {
    EXPECT_EQ(*RenderString("{{ (1, 'a') }}", kCtx), "(1, 'a')");
    EXPECT_EQ(*RenderValue("{{ (1, 'a') }}", kCtx), Json::parse(R"([1, "a"])"));
    EXPECT_EQ(*RenderValue("{{ {'k': (1, (2,))} }}", kCtx), Json::parse(R"({"k": [1, [2]]})"));
    EXPECT_EQ(*RenderValue("{{ trigger.body.headers.items() | list }}", kCtx), Json::parse(R"([["X-Event", "push"]])"));
    EXPECT_EQ(*RenderValue("{{ [nope, 1] }}", kCtx), Json::parse("[null, 1]"));
    EXPECT_EQ(
        *RenderValue("{{ trigger.body.commits | map(attribute='nope') | list }}", kCtx), Json::parse("[null, null]")
    );
    // A caller's function gets plain JSON too.
    TemplateFunctions fns;
    Json seen;
    fns["probe"] = [&](const std::vector<Json>& args,
                       const std::vector<std::pair<std::string, Json>>&) -> Result<Json> {
        seen = args.at(0);
        return Json(true);
    };
    RenderOptions o;
    o.functions = &fns;
    ASSERT_TRUE(RenderString("{{ probe(((1, 2), [nope])) }}", kCtx, o));
    EXPECT_EQ(seen, Json::parse("[[1, 2], [null]]"));
}

// `sort(attribute=...)` keeps the items (it sorted by the attribute and returned the attribute values before).
TEST(TemplateTest, AttributeFiltersKeepTheItems) {
    const Json ctx = Json::parse(R"({"users": [{"n": "b", "a": {"x": 2}}, {"n": "a", "a": {"x": 1}}]})");
    EXPECT_EQ(
        *RenderValue("{{ users | sort(attribute='a.x') | map(attribute='n') | list }}", ctx),
        Json::parse(R"(["a", "b"])")
    );
    EXPECT_EQ(*RenderValue("{{ (users | max(attribute='a.x')).n }}", ctx), Json("b"));
    EXPECT_EQ(*RenderValue("{{ users | sum(attribute='a.x') }}", ctx), Json(3));
}

}  // namespace
}  // namespace squall::core
