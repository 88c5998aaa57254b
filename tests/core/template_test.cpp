#include <gtest/gtest.h>

#include "squall/core/template.hpp"

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
}

TEST(TemplateTest, TextPrintsAsPythonStr) {
    EXPECT_EQ(*RenderString("repo={{ trigger.body.repository.full_name }}!", kCtx), "repo=octo/repo!");
    EXPECT_EQ(*RenderString("{{ trigger.body.ok }}/{{ trigger.body.none }}", kCtx), "True/None");
    EXPECT_EQ(*RenderString("l={{ trigger.body.list }}", kCtx), "l=['a', 1, True]");
    EXPECT_EQ(
        *RenderString("{{ trigger.body.commits[1].id }} {{ trigger.body.headers['X-Event'] }}", kCtx), "def push"
    );
}

TEST(TemplateTest, RendersNestedValues) {
    Json v = Json::parse(R"({"a": ["{{ trigger.body.n }}", "x{{ trigger.body.n }}"], "b": 5})");
    EXPECT_EQ(*RenderValue(v, kCtx), Json::parse(R"({"a": [3, "x3"], "b": 5})"));
}

TEST(TemplateTest, UndefinedIsAnErrorNamingVariableAndColumn) {
    Result<std::string> r = RenderString("echo {{ trigger.body.missing.x }}", kCtx);
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "template error at column 6: 'trigger.body.missing' is undefined in \"echo {{ trigger.body.missing.x }}\""
    );
    EXPECT_FALSE(RenderString("{{ trigger.body", kCtx));
}

TEST(TemplateTest, LookupPath) {
    ASSERT_NE(LookupPath(kCtx, "trigger.body.commits[0].id"), nullptr);
    EXPECT_EQ(*LookupPath(kCtx, "trigger.body.commits[0].id"), "abc");
    EXPECT_EQ(LookupPath(kCtx, "trigger.body.nope"), nullptr);
    EXPECT_EQ(LookupPath(kCtx, "trigger.body.commits[7]"), nullptr);
}

}  // namespace
}  // namespace squall::core
