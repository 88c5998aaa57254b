#include <gtest/gtest.h>

#include <map>

#include "squall/workflows/spec.hpp"

namespace squall::workflows {
namespace {

TEST(WorkflowSpec, ParsesEveryPartOfTheLanguage) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
input:
  - a
  - b: 2
vars:
  - v: "{{ ctx('a') }}"
output:
  - out: <% ctx(v) %>
tasks:
  t1:
    action: core.local cmd="echo <% ctx(a) %>" timeout=10
    next:
      - when: <% succeeded() %>
        publish: x=<% result().stdout %> y=2
        do: t2, t3
  t2:
    action: core.noop
    with:
      items: i, j in <% zip(ctx(a), ctx(b)) %>
      concurrency: 2
    retry:
      when: <% failed() %>
      count: 3
      delay: 1
  t3:
    join: all
    delay: 5
    next:
      - do:
          - fail
)",
        "wf.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    EXPECT_EQ(spec->required_input, std::vector<std::string>{"a"});
    const TaskSpec& t1 = spec->tasks.at("t1");
    EXPECT_EQ(t1.action, "core.local");
    EXPECT_EQ(t1.input["cmd"], "echo <% ctx(a) %>");
    EXPECT_EQ(t1.input["timeout"], 10);
    EXPECT_EQ(t1.line, 10);
    ASSERT_EQ(t1.next.size(), 1u);
    EXPECT_EQ(t1.next[0].targets, (std::vector<std::string>{"t2", "t3"}));
    ASSERT_EQ(t1.next[0].publish.size(), 2u);
    EXPECT_EQ(t1.next[0].publish[0].second, "<% result().stdout %>");
    EXPECT_EQ(t1.next[0].publish[1].second, 2);
    const TaskSpec& t2 = spec->tasks.at("t2");
    EXPECT_TRUE(t2.has_items);
    EXPECT_EQ(t2.item_names, (std::vector<std::string>{"i", "j"}));
    EXPECT_EQ(t2.items, "<% zip(ctx(a), ctx(b)) %>");
    EXPECT_EQ(t2.concurrency, 2);
    EXPECT_TRUE(t2.has_retry);
    EXPECT_EQ(spec->tasks.at("t3").join, -1);
    EXPECT_EQ(spec->order, (std::vector<std::string>{"t1", "t2", "t3"}));
    EXPECT_EQ(spec->StartTasks(), std::vector<std::string>{"t1"});
}

TEST(WorkflowSpec, ErrorsNameFileLineAndField) {
    auto spec = ParseWorkflow("version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    join: sometimes\n", "wf.yaml");
    ASSERT_FALSE(spec);
    EXPECT_NE(spec.error().message.find("wf.yaml:5"), std::string::npos) << spec.error().message;
    EXPECT_NE(spec.error().message.find("tasks.t1.join"), std::string::npos) << spec.error().message;
    auto bad_version = ParseWorkflow("version: 2.0\ntasks:\n  t1: {}\n", "x.yaml");
    ASSERT_FALSE(bad_version);
    EXPECT_NE(bad_version.error().message.find("version"), std::string::npos);
    auto unknown = ParseWorkflow("version: 1.0\ntasks:\n  t1:\n    acton: core.noop\n", "x.yaml");
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("x.yaml:4"), std::string::npos) << unknown.error().message;
}

TEST(WorkflowInspect, RejectsBadReferenceUnreachableTaskAndUndefinedVariable) {
    auto problems = InspectText(
        R"(version: 1.0
input:
  - a
tasks:
  t1:
    action: core.echo message=<% ctx(a) %>
    next:
      - do: t9
  t2:
    action: core.noop
    next:
      - do: t3
  t3:
    action: core.echo message="{{ ctx('nope') }}"
    next:
      - do: t2
)",
        "bad.yaml"
    );
    ASSERT_EQ(problems.size(), 4u);
    EXPECT_EQ(problems[0].type, "semantic");
    EXPECT_EQ(problems[0].task, "t1");
    EXPECT_EQ(problems[0].line, 8);
    EXPECT_NE(problems[0].message.find("\"t9\""), std::string::npos);
    EXPECT_EQ(problems[1].task, "t2");
    EXPECT_NE(problems[1].message.find("unreachable"), std::string::npos);
    EXPECT_EQ(problems[1].line, 9);
    EXPECT_EQ(problems[2].task, "t3");
    EXPECT_EQ(problems[3].type, "context");
    EXPECT_EQ(problems[3].task, "t3");
    EXPECT_EQ(problems[3].line, 14);
    EXPECT_NE(problems[3].message.find("\"nope\""), std::string::npos);
}

TEST(WorkflowInspect, AcceptsAGoodWorkflow) {
    auto problems = InspectText(
        "version: 1.0\ninput: [a]\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - publish: b=<% ctx(a) %>\n"
        "        do: t2\n  t2:\n    action: core.echo message=<% ctx(b) %>\n",
        "ok.yaml"
    );
    EXPECT_TRUE(problems.empty()) << problems[0].message;
}

/// StackStorm's content checks (st2's inspect_task_contents): its messages and spec paths; an action given by an
/// expression, a task without action and an action whose schema cannot be read are not checked.
TEST(WorkflowInspect, TaskContentsAsStackStormChecksThem) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  a_missing:
    action: x.y
  b_bogus:
    action: core.echo message=hi bogus=1
  c_leaf:
    action: wft.sub_leaf
    input:
      w: 1
  d_expr:
    action: <% ctx().nothing %>
  e_none:
    next:
      - do: a_missing
  f_bad_ref:
    action: noref
  g_unreadable:
    action: wft.odd
    input:
      anything: 1
  h_fine:
    action: core.echo
    input:
      message: "{{ 1 }}"
)",
        "contents.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    const std::map<std::string, Json> schemas = {
        {"core.echo",
         {{"message", {{"type", "string"}, {"required", true}}},
          {"cmd", {{"type", "string"}, {"required", true}, {"default", "echo"}}}}},
        {"wft.sub_leaf", {{"v", {{"type", "string"}, {"required", true}}}, {"w", {{"type", "integer"}}}}},
        {"wft.odd", Json()},
    };
    std::vector<std::string> asked;
    auto problems = InspectTaskContents(*spec, [&](const std::string& ref) -> std::optional<Json> {
        asked.push_back(ref);
        auto it = schemas.find(ref);
        if (it == schemas.end()) return std::nullopt;
        return it->second;
    });
    Json got = Json::array();
    for (const auto& p : problems) got.push_back(p.ToJson());
    ASSERT_EQ(problems.size(), 4u) << got.dump(2);
    EXPECT_EQ(problems[0].type, "content");
    EXPECT_EQ(problems[0].message, "The action \"x.y\" is not registered in the database.");
    EXPECT_EQ(problems[0].path, "tasks.a_missing.action");
    EXPECT_EQ(problems[0].line, 4);
    EXPECT_EQ(problems[1].message, "Action \"core.echo\" has unexpected input \"bogus\".");
    EXPECT_EQ(problems[1].path, "tasks.b_bogus.input.bogus");
    EXPECT_EQ(problems[2].message, "Action \"wft.sub_leaf\" is missing required input \"v\".");
    EXPECT_EQ(problems[2].path, "tasks.c_leaf.input");
    EXPECT_EQ(problems[3].message, "The action reference \"noref\" is not formatted correctly.");
    EXPECT_EQ(problems[3].path, "tasks.f_bad_ref.action");
    EXPECT_EQ(asked, (std::vector<std::string>{"x.y", "core.echo", "wft.sub_leaf", "wft.odd", "core.echo"}));
}

TEST(WorkflowSpec, InlineParams) {
    auto p = ParseInlineParams("a=1 b=\"two words\" c=<% ctx(x) + 1 %> d={{ ctx('y') }} e=true");
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->size(), 5u);
    EXPECT_EQ((*p)[0].second, 1);
    EXPECT_EQ((*p)[1].second, "two words");
    EXPECT_EQ((*p)[2].second, "<% ctx(x) + 1 %>");
    EXPECT_EQ((*p)[3].second, "{{ ctx('y') }}");
    EXPECT_EQ((*p)[4].second, true);
    EXPECT_FALSE(ParseInlineParams("novalue"));
}

}  // namespace
}  // namespace squall::workflows
