// Trigger instances, enforcements and traces end to end (issue 13 item 8): a webhook instance whose trace shows the
// rule that matched with its workflow execution and task children, and the rule that missed with the criterion
// that failed; the trigger instance filters; re-emit (API and CLI); `squall trace get` as a tree.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <set>

#include "git_repo.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

struct Answer {
    int status = 0;
    Json body;
};

Answer Call(const SquallProcess& server, const std::string& method, const std::string& path, const Json& body = {}) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    httplib::Headers h = {{"St2-Api-Key", server.api_key()}, {"St2-Trace-Tag", "tr-tag"}};
    httplib::Result r = method == "GET" ? c.Get(("/api/v1" + path).c_str(), h)
                                        : c.Post(("/api/v1" + path).c_str(), h, body.dump(), "application/json");
    if (!r) return {};
    return {r->status, Json::parse(r->body, nullptr, false)};
}

TEST(TracesIntegrationTest, ATraceShowsEveryRuleDecisionAndTheExecutionTree) {
    TempDir dir;
    SquallProcess::Options o;
    o.data_dir = (dir.path() / "d").string();
    const std::filesystem::path pack = dir.path() / "d" / "packs" / "tr";
    WriteFile(pack / "pack.yaml", "---\nref: tr\nname: tr\nversion: 0.1.0\n");
    WriteFile(
        pack / "actions" / "wf.yaml",
        "---\nname: wf\nrunner_type: orquesta\nentry_point: workflows/wf.yaml\nparameters:\n  who:\n    type: string\n"
    );
    WriteFile(
        pack / "actions" / "workflows" / "wf.yaml",
        "version: 1.0\ninput:\n  - who\ntasks:\n  first:\n    action: core.noop\n    next:\n      - when: <% "
        "succeeded() %>\n"
        "        do: second\n  second:\n    action: core.echo\n    input:\n      message: <% ctx(who) %>\n"
    );
    WriteFile(
        pack / "rules" / "hit.yaml",
        "---\nname: hit\npack: tr\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: tr\ncriteria:\n"
        "  trigger.body.kind:\n    type: equals\n    pattern: build\naction:\n  ref: tr.wf\n  parameters:\n"
        "    who: \"{{ trigger.body.who }}\"\n"
    );
    WriteFile(
        pack / "rules" / "miss.yaml",
        "---\nname: miss\npack: tr\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: tr\ncriteria:\n"
        "  trigger.body.who:\n    type: startswith\n    pattern: bo\n  trigger.body.kind:\n    type: equals\n"
        "    pattern: deploy\naction:\n  ref: core.noop\n"
    );
    // A rule on another url is not part of this instance's trace.
    WriteFile(
        pack / "rules" / "elsewhere.yaml",
        "---\nname: elsewhere\npack: tr\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: other\n"
        "action:\n  ref: core.noop\n"
    );
    SquallProcess server(o);

    Answer posted = Call(server, "POST", "/webhooks/tr", {{"kind", "build"}, {"who", "bob"}});
    ASSERT_EQ(posted.status, 202) << posted.body.dump();
    const std::string ti = posted.body["id"];

    Json trace;
    ASSERT_TRUE(WaitFor(
        [&] {
            trace = Call(server, "GET", "/traces/" + ti).body;
            return trace.is_object() && trace["executions"].size() == 1 &&
                   trace["executions"][0]["status"] == "succeeded" && trace["executions"][0]["children"].size() == 2;
        },
        30s
    )) << trace.dump(2);
    EXPECT_EQ(trace["trace_tag"], "tr-tag");
    EXPECT_EQ(trace["trigger_instance"]["id"], ti);
    EXPECT_EQ(trace["trigger_instance"]["trigger_parameters"], Json({{"url", "tr"}}));
    ASSERT_EQ(trace["rule_decisions"].size(), 2u) << trace.dump(2);
    const Json& hit = trace["rule_decisions"][0];
    EXPECT_EQ(hit["rule"], "tr.hit");
    EXPECT_EQ(hit["matched"], true);
    EXPECT_EQ(hit["execution_id"], trace["executions"][0]["id"]);
    const Json& miss = trace["rule_decisions"][1];
    EXPECT_EQ(miss["rule"], "tr.miss");
    EXPECT_EQ(miss["matched"], false);
    EXPECT_EQ(miss["reason"], "trigger.body.kind equals \"deploy\" failed (value \"build\")") << miss.dump(2);
    ASSERT_EQ(miss["criteria"].size(), 2u);
    const Json& tasks = trace["executions"][0]["children"];
    EXPECT_EQ(tasks[0]["task"], "first");
    EXPECT_EQ(tasks[0]["action"], "core.noop");
    EXPECT_EQ(tasks[1]["task"], "second");
    EXPECT_EQ(tasks[1]["status"], "succeeded");
    // StackStorm's shape is still there for st2client.
    EXPECT_EQ(trace["action_executions"][0]["ref"], "tr.wf");
    EXPECT_EQ(trace["rules"][0]["ref"], "tr.hit");
    // The workflow's tasks are in its trace too, caused by it (as StackStorm's), so a task's execution finds it.
    ASSERT_EQ(trace["action_executions"].size(), 3u) << trace.dump(2);
    const std::string task_id = tasks[1]["id"];
    EXPECT_EQ(trace["action_executions"][2]["object_id"], task_id);
    EXPECT_EQ(trace["action_executions"][2]["caused_by"]["type"], "action_execution");
    EXPECT_EQ(trace["action_executions"][2]["caused_by"]["id"], trace["executions"][0]["id"]);
    Json by_task = Call(server, "GET", "/traces?execution=" + task_id).body;
    ASSERT_EQ(by_task.size(), 1u) << by_task.dump(2);
    EXPECT_EQ(by_task[0]["id"], ti);

    // The CLI prints it as a tree.
    CliResult tree = server.Cli({"trace", "get", ti});
    ASSERT_EQ(tree.exit_code, 0) << tree.err;
    EXPECT_NE(tree.out.find("trigger instance " + ti + " core.st2.webhook"), std::string::npos) << tree.out;
    EXPECT_NE(tree.out.find("├── rule tr.hit: matched"), std::string::npos) << tree.out;
    EXPECT_NE(
        tree.out.find("execution " + trace["executions"][0]["id"].get<std::string>() + " tr.wf succeeded"),
        std::string::npos
    ) << tree.out;
    EXPECT_NE(tree.out.find("task first: execution"), std::string::npos) << tree.out;
    EXPECT_NE(tree.out.find("task second: execution"), std::string::npos) << tree.out;
    EXPECT_NE(
        tree.out.find("└── rule tr.miss: not matched: trigger.body.kind equals \"deploy\" failed"), std::string::npos
    ) << tree.out;
    EXPECT_EQ(server.Cli({"trace", "get", "nope"}).exit_code, ExitCode(ErrorCode::kNotFound));

    // Filters on trigger instances.
    EXPECT_EQ(Call(server, "GET", "/triggerinstances?trigger=core.st2.webhook&status=processed").body.size(), 1u);
    EXPECT_EQ(Call(server, "GET", "/triggerinstances?trigger_type=core.st2.IntervalTimer").body.size(), 0u);
    EXPECT_EQ(Call(server, "GET", "/triggerinstances?timestamp_gt=2200-01-01T00:00:00Z").body.size(), 0u);
    EXPECT_EQ(
        Call(server, "GET", "/triggerinstances?timestamp_lt=2200-01-01T00:00:00Z&trigger=core.st2.webhook").body.size(),
        1u
    );
    Answer bad = Call(server, "GET", "/triggerinstances?status=done");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.dump().find("status: \\\"done\\\" is not one of"), std::string::npos) << bad.body.dump();
    EXPECT_EQ(Call(server, "GET", "/triggerinstances?timestamp_gt=yesterday").status, 400);
    Answer far = Call(server, "GET", "/triggerinstances?timestamp_gt=2999-01-01T00:00:00Z");  // past system_clock
    EXPECT_EQ(far.status, 400);
    EXPECT_NE(far.body.dump().find("timestamp_gt: not an ISO-8601 time between"), std::string::npos) << far.body.dump();

    // Re-emit: a new instance with the same trigger, parameters and payload, marked with the original's id; the
    // rule fires again.
    CliResult re = server.Cli({"trigger-instance", "re-emit", ti, "-j"});
    ASSERT_EQ(re.exit_code, 0) << re.err;
    const Json again = Json::parse(re.out, nullptr, false)["trigger_instance"];
    ASSERT_TRUE(again.is_object()) << re.out;
    EXPECT_NE(again["id"], ti);
    EXPECT_EQ(again["trigger_parameters"], Json({{"url", "tr"}}));
    EXPECT_EQ(again["payload"]["__context"]["original_id"], ti);
    EXPECT_EQ(again["payload"]["body"]["who"], "bob");
    ASSERT_TRUE(WaitFor(
        [&] {
            Json t = Call(server, "GET", "/traces/" + again["id"].get<std::string>()).body;
            return t.is_object() && t["executions"].size() == 1 && t["executions"][0]["status"] == "succeeded";
        },
        30s
    ));
    EXPECT_EQ(Call(server, "POST", "/triggerinstances/nope/re_emit", Json::object()).status, 404);

    // Enforcements by rule, one by id.
    const Json by_rule = Call(server, "GET", "/ruleenforcements?rule_ref=tr.hit").body;
    ASSERT_EQ(by_rule.size(), 2u) << by_rule.dump();
    EXPECT_TRUE(Call(server, "GET", "/ruleenforcements?rule_ref=tr.miss").body.empty());
    Answer one = Call(server, "GET", "/ruleenforcements/" + by_rule[0]["id"].get<std::string>());
    EXPECT_EQ(one.status, 200);
    EXPECT_EQ(one.body["rule"]["ref"], "tr.hit");
    EXPECT_EQ(Call(server, "GET", "/ruleenforcements/nope").status, 404);

    // Triggers: the rule's parameterised webhook trigger, and parameterless types as triggers of their own.
    const Json webhooks = Call(server, "GET", "/triggers?type=core.st2.webhook").body;
    std::set<std::string> urls;
    for (const auto& t : webhooks) urls.insert(t["parameters"].value("url", ""));
    EXPECT_EQ(urls, (std::set<std::string>{"tr", "other", "sample"})) << webhooks.dump();
    Answer one_trigger = Call(server, "GET", "/triggers/" + webhooks[0]["id"].get<std::string>());
    EXPECT_EQ(one_trigger.status, 200);
    EXPECT_EQ(one_trigger.body["type"], "core.st2.webhook");
    EXPECT_EQ(Call(server, "GET", "/triggers/core.st2.generic.actiontrigger").body["parameters"], Json::object());
    EXPECT_EQ(Call(server, "GET", "/triggers/nope").status, 404);

    // The CLI lists with filters; traces by tag.
    CliResult list = server.Cli({"trigger-instance", "list", "--trigger", "core.st2.webhook", "-j"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(Json::parse(list.out, nullptr, false).size(), 2u) << list.out;
    CliResult tagged = server.Cli({"trace", "list", "--trace-tag", "tr-tag", "-j"});
    ASSERT_EQ(tagged.exit_code, 0) << tagged.err;
    EXPECT_EQ(Json::parse(tagged.out, nullptr, false).size(), 2u) << tagged.out;
}

}  // namespace
}  // namespace squall::test
