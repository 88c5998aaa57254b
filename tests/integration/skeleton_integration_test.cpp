// End to end with the real binary, a real redis-server and HTTP on 127.0.0.1 (issue: walking skeleton).
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

/// A small HTTP client bound to one server and key.
class Api {
public:
    Api(const SquallProcess& p) : http_(p.host(), p.port()), key_(p.api_key()) {  // NOLINT(google-explicit-constructor)
        http_.set_read_timeout(30, 0);
    }
    httplib::Result Get(const std::string& path, bool auth = true) {
        return http_.Get(("/api/v1" + path).c_str(), Headers(auth));
    }
    httplib::Result Post(
        const std::string& path, const std::string& body, bool auth = true, httplib::Headers extra = {}
    ) {
        httplib::Headers h = Headers(auth);
        h.insert(extra.begin(), extra.end());
        return http_.Post(("/api/v1" + path).c_str(), h, body, "application/json");
    }
    httplib::Result Put(const std::string& path, const std::string& body) {
        return http_.Put(("/api/v1" + path).c_str(), Headers(true), body, "application/json");
    }
    httplib::Result Delete(const std::string& path) { return http_.Delete(("/api/v1" + path).c_str(), Headers(true)); }
    Json GetJson(const std::string& path) {
        auto r = Get(path);
        EXPECT_TRUE(r);
        if (!r) return nullptr;
        EXPECT_EQ(r->status, 200) << r->body;
        return Json::parse(r->body, nullptr, false);
    }
    /// Polls the execution list until `pred` holds (deadline) and returns the list.
    Json WaitExecutions(const std::function<bool(const Json&)>& pred, std::chrono::milliseconds deadline = 30s) {
        Json list;
        WaitFor(
            [&] {
                list = GetJson("/executions?limit=100");
                return list.is_array() && pred(list);
            },
            deadline
        );
        return list;
    }
    Json WaitCompleted(const std::string& id, std::chrono::milliseconds deadline = 30s) {
        Json e;
        WaitFor(
            [&] {
                e = GetJson("/executions/" + id);
                return e.is_object() && core::status::IsCompleted(e.value("status", ""));
            },
            deadline
        );
        return e;
    }

private:
    httplib::Headers Headers(bool auth) {
        if (!auth) return {};
        return {{"St2-Api-Key", key_}};
    }
    httplib::Client http_;
    std::string key_;
};

const char* kPushRule = R"({
  "name": "on_push_main", "pack": "ci", "description": "push to main runs a command",
  "enabled": true,
  "trigger": {"type": "core.st2.webhook", "parameters": {"url": "push"}},
  "criteria": {"trigger.body.ref": {"type": "equals", "pattern": "refs/heads/main"}},
  "action": {"ref": "core.local", "parameters": {"cmd": "echo deploying {{ trigger.body.repository.full_name }}"}}
})";

std::string PushPayload(const std::string& ref) {
    Json body = Json::parse(ReadFixture("github/push.branch-updated.json"));
    body["ref"] = ref;
    return body.dump();
}

class SkeletonTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    TempDir data_;
    SquallProcess::Options Opts() {
        SquallProcess::Options o;
        o.data_dir = (data_.path() / "d").string();
        return o;
    }
};

TEST_F(SkeletonTest, WebhookRuleShellActionEndToEndAndHistorySurvivesRestart) {
    std::string matched_id;
    {
        SquallProcess server(Opts());
        Api api(server);
        // The admin key file is private.
        EXPECT_EQ(
            std::filesystem::status(data_.path() / "d" / "admin-api-key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write
        );
        auto created = api.Post("/rules", kPushRule);
        ASSERT_TRUE(created);
        ASSERT_EQ(created->status, 201) << created->body;

        auto miss = api.Post("/webhooks/push", PushPayload("refs/heads/dev"), true, {{"X-GitHub-Event", "push"}});
        ASSERT_TRUE(miss);
        ASSERT_EQ(miss->status, 202) << miss->body;
        const std::string miss_ti = Json::parse(miss->body)["id"];
        auto hit = api.Post("/webhooks/push", PushPayload("refs/heads/main"), true, {{"X-GitHub-Event", "push"}});
        ASSERT_TRUE(hit);
        ASSERT_EQ(hit->status, 202) << hit->body;
        const std::string hit_ti = Json::parse(hit->body)["id"];

        Json list = api.WaitExecutions([](const Json& l) {
            return l.size() == 1 && core::status::IsCompleted(l[0].value("status", ""));
        });
        ASSERT_EQ(list.size(), 1u) << list.dump(2) << server.Output();
        const Json& e = list[0];
        matched_id = e["id"];
        EXPECT_EQ(e["status"], "succeeded") << e.dump(2);
        EXPECT_EQ(e["action"]["ref"], "core.local");
        EXPECT_EQ(e["result"]["stdout"], "deploying bkeepers-inc/test");
        EXPECT_EQ(e["result"]["return_code"], 0);
        EXPECT_EQ(e["rule"]["ref"], "ci.on_push_main");
        EXPECT_EQ(e["trigger_instance"]["id"], hit_ti);
        std::vector<std::string> statuses;
        for (const auto& l : e["log"]) statuses.push_back(l["status"]);
        EXPECT_EQ(statuses, (std::vector<std::string>{"requested", "scheduled", "running", "succeeded"}));
        EXPECT_FALSE(e.value("end_timestamp", "").empty());

        // Both decisions are recorded; the trigger instances are processed.
        // Listed per trigger instance once the instance is processed (the rules engine's status update lists them).
        Json enf;
        EXPECT_TRUE(WaitFor(
            [&] { return (enf = api.GetJson("/ruleenforcements?trigger_instance=" + hit_ti)).size() == 1; }, 10s
        ));
        ASSERT_EQ(enf.size(), 1u);
        EXPECT_EQ(enf[0]["execution_id"], matched_id);
        EXPECT_TRUE(WaitFor([&] { return api.GetJson("/triggerinstances/" + miss_ti)["status"] == "processed"; }, 10s));
        Json ti = api.GetJson("/triggerinstances/" + hit_ti);
        EXPECT_EQ(ti["payload"]["body"]["ref"], "refs/heads/main");
        // Header names as StackStorm's payloads spell them (str.title()): X-GitHub-Event → X-Github-Event.
        EXPECT_EQ(ti["payload"]["headers"]["X-Github-Event"], "push") << ti.dump(2);
        EXPECT_FALSE(ti["payload"]["headers"].contains("X-GitHub-Event"));
        EXPECT_EQ(ti["payload"]["headers_lower"]["x-github-event"], "push");
        EXPECT_FALSE(ti["payload"]["headers"].contains("St2-Api-Key"));

        // Output was streamed line by line.
        auto out = api.Get("/executions/" + matched_id + "/output");
        ASSERT_TRUE(out);
        EXPECT_EQ(out->body, "deploying bkeepers-inc/test\n");
        EXPECT_EQ(server.Stop(), 0) << server.Output();
    }
    {
        SquallProcess server(Opts());
        Api api(server);
        Json e = api.GetJson("/executions/" + matched_id);
        EXPECT_EQ(e["status"], "succeeded");
        EXPECT_EQ(api.GetJson("/rules/ci.on_push_main")["action"]["ref"], "core.local");
        auto list = api.Get("/executions");
        ASSERT_TRUE(list);
        EXPECT_EQ(list->get_header_value("X-Total-Count"), "1");
        EXPECT_EQ(api.GetJson("/ruleenforcements").size(), 1u);
        EXPECT_EQ(api.GetJson("/triggerinstances").size(), 2u);
    }
}

TEST_F(SkeletonTest, TimeoutKillsTheProcessGroup) {
    SquallProcess server(Opts());
    Api api(server);
    // A marker argument makes this test's processes identifiable; `sleep 5 & sleep 5` leaves a grandchild.
    const std::string marker = "9" + std::to_string(getpid());
    auto r = api.Post(
        "/executions",
        Json{
            {"action", "core.local"},
            {"parameters", {{"cmd", "sleep 5." + marker + " & sleep 5." + marker}, {"timeout", 1}}}}
            .dump()
    );
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    Json e = api.WaitCompleted(Json::parse(r->body)["id"]);
    EXPECT_EQ(e["status"], "timeout") << e.dump(2);
    EXPECT_EQ(e["result"]["return_code"], -9);
    EXPECT_NE(e["result"].value("error", "").find("failed to complete in 1 seconds"), std::string::npos);
    EXPECT_LT(e.value("elapsed_seconds", 99.0), 4.0);
    EXPECT_TRUE(WaitFor([&] { return LiveProcessesMatching("sleep 5." + marker).empty(); }, 5s))
        << "orphan left behind";
}

TEST_F(SkeletonTest, AFractionalTimeoutAndTheActionContextsPackAreTakenAsStackStormTakesThem) {
    // Found by a tester: `st2 run core.http url=... timeout=2` sends 2.0 (the http-request runner's timeout is a
    // `number`, as StackStorm's) and was refused as not a whole number; `{{ action_context.pack }}` rendered empty.
    SquallProcess server(Opts());
    Api api(server);
    const std::string url = "http://" + server.host() + ":" + std::to_string(server.port()) + "/api/v1/health";
    auto r =
        api.Post("/executions", Json{{"action", "core.http"}, {"parameters", {{"url", url}, {"timeout", 1.5}}}}.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    Json e = api.WaitCompleted(Json::parse(r->body)["id"]);
    EXPECT_EQ(e["status"], "succeeded") << e.dump(2);
    EXPECT_EQ(e["parameters"]["timeout"], 2) << "taken up to the next whole second: " << e.dump(2);
    EXPECT_EQ(e["result"]["status_code"], 200) << e.dump(2);
    auto zero =
        api.Post("/executions", Json{{"action", "core.http"}, {"parameters", {{"url", url}, {"timeout", 0}}}}.dump());
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->status, 400) << zero->body;
    EXPECT_NE(zero->body.find("parameter \\\"timeout\\\""), std::string::npos) << zero->body;

    r = api.Post(
        "/executions",
        Json{{"action", "core.local"}, {"parameters", {{"cmd", "echo {{ action_context.pack }}"}}}}.dump()
    );
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    e = api.WaitCompleted(Json::parse(r->body)["id"]);
    EXPECT_EQ(e["result"]["stdout"], "core") << e.dump(2);
}

TEST_F(SkeletonTest, ApiValidatesAuthAndParameters) {
    SquallProcess server(Opts());
    Api api(server);
    auto health = api.Get("/health", false);
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    auto noauth = api.Get("/executions", false);
    ASSERT_TRUE(noauth);
    EXPECT_EQ(noauth->status, 401);
    EXPECT_TRUE(Json::parse(noauth->body).contains("faultstring"));
    httplib::Client raw(server.host(), server.port());
    auto bad_key = raw.Get("/api/v1/actions", {{"St2-Api-Key", "wrong"}});
    ASSERT_TRUE(bad_key);
    EXPECT_EQ(bad_key->status, 401);
    auto query_key = raw.Get(("/api/v1/actions?st2-api-key=" + server.api_key()).c_str());
    ASSERT_TRUE(query_key);
    EXPECT_EQ(query_key->status, 200);

    auto unknown = api.Post("/executions", R"({"action": "core.local", "parameters": {"cmd": "true", "bogus": 1}})");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 400);
    EXPECT_NE(Json::parse(unknown->body)["faultstring"].get<std::string>().find("\"bogus\""), std::string::npos);
    auto missing = api.Post("/executions", R"({"action": "core.local"})");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 400);
    EXPECT_EQ(Json::parse(missing->body)["faultstring"], "parameter \"cmd\": is required");
    auto no_action = api.Post("/executions", R"({"action": "core.nope"})");
    EXPECT_EQ(no_action->status, 400);
    auto bad_json = api.Post("/executions", "{nope");
    EXPECT_EQ(bad_json->status, 400);
    auto bad_rule =
        api.Post("/rules", R"({"name": "r", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "x"}},
        "criteria": {"trigger.body.a": {"type": "equal", "pattern": 1}}, "action": {"ref": "core.noop"}})");
    ASSERT_TRUE(bad_rule);
    EXPECT_EQ(bad_rule->status, 400);
    EXPECT_NE(bad_rule->body.find("did you mean \\\"equals\\\""), std::string::npos) << bad_rule->body;
    auto no_hook = api.Post("/webhooks/nobody-listens", "{}");
    EXPECT_EQ(no_hook->status, 404);

    Json actions = api.GetJson("/actions?pack=core");
    std::vector<std::string> refs;
    for (const auto& a : actions) refs.push_back(a["ref"]);
    for (const char* want : {"core.local", "core.noop", "core.echo"}) {
        EXPECT_NE(std::find(refs.begin(), refs.end(), want), refs.end()) << want;
    }
    EXPECT_EQ(api.GetJson("/actions/core.local")["runner_type"], "local-shell-cmd");
    EXPECT_EQ(api.Get("/actions/core.nope")->status, 404);

    // Generic webhook and the examples pack's rule.
    auto generic = api.Post("/webhooks/st2", R"({"trigger": "core.st2.webhook", "payload": {"a": 1}})");
    EXPECT_EQ(generic->status, 202);
    // The answer's payload is the stored instance's: the envelope's `payload`.
    EXPECT_EQ(Json::parse(generic->body)["payload"], Json({{"a", 1}})) << generic->body;
    auto sample = api.Post("/webhooks/sample", R"({"name": "Squall"})");
    ASSERT_EQ(sample->status, 202) << sample->body;
    Json list = api.WaitExecutions([](const Json& l) {
        return l.size() == 1 && core::status::IsCompleted(l[0].value("status", ""));
    });
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["result"]["stdout"], "Hello, Squall!");
    // Paging and filters.
    for (int i = 0; i < 3; ++i) ASSERT_EQ(api.Post("/executions", R"({"action": "core.noop"})")->status, 201);
    api.WaitExecutions([](const Json& l) {
        return l.size() == 4 &&
               std::all_of(l.begin(), l.end(), [](const Json& e) { return core::status::IsCompleted(e["status"]); });
    });
    auto page = api.Get("/executions?limit=2&offset=1&action=core.noop");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->get_header_value("X-Total-Count"), "3");
    EXPECT_EQ(Json::parse(page->body).size(), 2u);
    EXPECT_EQ(api.GetJson("/executions?status=succeeded").size(), 4u);
    EXPECT_EQ(api.Get("/executions?status=bogus")->status, 400);
}

TEST_F(SkeletonTest, ExecutionListTakesStackStormsFilters) {
    SquallProcess server(Opts());
    Api api(server);
    // A workflow of two tasks, two noops and one shell command by the API's user; one execution by a rule.
    auto wf = api.Post("/executions", R"({"action": "examples.report_and_count"})");
    ASSERT_EQ(wf->status, 201) << wf->body;
    const std::string wf_id = Json::parse(wf->body)["id"];
    api.WaitCompleted(wf_id);
    for (const char* body :
         {R"({"action": "core.noop"})",
          R"({"action": "core.noop"})",
          R"({"action": "core.local", "parameters": {"cmd": "true"}})"}) {
        ASSERT_EQ(api.Post("/executions", body)->status, 201);
    }
    auto hook = api.Post("/webhooks/sample", R"({"name": "filters"})");
    ASSERT_EQ(hook->status, 202) << hook->body;
    const std::string ti = Json::parse(hook->body)["id"];
    Json all = api.WaitExecutions([](const Json& l) {
        return l.size() == 7 &&
               std::all_of(l.begin(), l.end(), [](const Json& e) { return core::status::IsCompleted(e["status"]); });
    });
    ASSERT_EQ(all.size(), 7u);
    const auto ids = [](const Json& list) {
        std::vector<std::string> out;
        for (const auto& e : list) out.push_back(e["id"]);
        return out;
    };

    // parent=null (what `st2 execution list` sends): the workflow's tasks are not listed, and counted out.
    auto top = api.Get("/executions?parent=null");
    ASSERT_EQ(top->status, 200);
    EXPECT_EQ(top->get_header_value("X-Total-Count"), "5");
    for (const auto& e : Json::parse(top->body)) EXPECT_FALSE(e.contains("parent")) << e.dump();
    // parent=<id>: its tasks.
    Json tasks = api.GetJson("/executions?parent=" + wf_id);
    ASSERT_EQ(tasks.size(), 2u);
    for (const auto& e : tasks) EXPECT_EQ(e["parent"], wf_id);
    // sort_asc: oldest first (the workflow, then its first task).
    Json asc = api.GetJson("/executions?sort_asc=True&limit=2");
    ASSERT_EQ(asc.size(), 2u);
    EXPECT_EQ(asc[0]["id"], wf_id);
    EXPECT_EQ(asc[1]["parent"], wf_id);
    // timestamp_gt / timestamp_lt: exclusive bounds on the start time.
    const std::string wf_start = api.GetJson("/executions/" + wf_id)["start_timestamp"];
    std::vector<std::string> after = ids(api.GetJson("/executions?timestamp_gt=" + wf_start));
    EXPECT_EQ(after.size(), 6u);
    EXPECT_EQ(std::find(after.begin(), after.end(), wf_id), after.end());
    Json before = api.GetJson("/executions?timestamp_lt=" + wf_start);
    EXPECT_TRUE(before.empty()) << before.dump();
    auto bad_time = api.Get("/executions?timestamp_gt=yesterday");
    EXPECT_EQ(bad_time->status, 400);
    EXPECT_NE(bad_time->body.find("\\\"timestamp_gt\\\""), std::string::npos) << bad_time->body;
    EXPECT_EQ(api.Get("/executions?liveaction=x")->status, 400);
    // user: an admin may ask for anyone's.
    EXPECT_TRUE(api.GetJson("/executions?user=nobody").empty());
    const std::string api_user = api.GetJson("/executions/" + wf_id)["context"]["user"];
    EXPECT_EQ(api.GetJson("/executions?parent=null&user=" + api_user).size(), 4u);
    // runner and id.
    EXPECT_EQ(api.GetJson("/executions?runner=noop").size(), 2u);
    EXPECT_EQ(ids(api.GetJson("/executions?id=" + wf_id)), std::vector<std::string>{wf_id});
    // trigger_instance: the executions its enforcements created.
    Json by_ti = api.GetJson("/executions?trigger_instance=" + ti);
    ASSERT_EQ(by_ti.size(), 1u);
    EXPECT_EQ(by_ti[0]["context"]["trigger_instance"]["id"], ti);
    EXPECT_TRUE(api.GetJson("/executions?trigger_instance=0123456789abcdef01234567").empty());
    // An admin's explicit limit is not bound by 1,000 (StackStorm's max_page_size binds other users).
    EXPECT_EQ(api.GetJson("/executions?limit=5000").size(), 7u);
    // Up to 5,000 per answer, whatever is asked (limit=-1 included): the rest pages on with offset.
    auto unlimited = api.Get("/executions?limit=-1");
    ASSERT_TRUE(unlimited);
    EXPECT_EQ(Json::parse(unlimited->body).size(), 7u);
    EXPECT_EQ(unlimited->get_header_value("X-Limit"), "5000");
    EXPECT_EQ(unlimited->get_header_value("X-Total-Count"), "7");
}

// What an operator changes through the API (st2 action disable, st2 rule disable) survives a restart, which
// registers the packs' unchanged files again; an explicit register makes the files win, as StackStorm's reload.
TEST_F(SkeletonTest, DisabledActionsAndRulesStayDisabledAcrossARestart) {
    {
        SquallProcess server(Opts());
        Api api(server);
        Json action = api.GetJson("/actions/examples.greet");
        action["enabled"] = false;
        auto put = api.Put("/actions/examples.greet", action.dump());
        ASSERT_EQ(put->status, 200) << put->body;
        EXPECT_EQ(Json::parse(put->body)["enabled"], false);
        auto refused = api.Post("/executions", R"({"action": "examples.greet", "parameters": {"name": "x"}})");
        EXPECT_EQ(refused->status, 400) << refused->body;
        EXPECT_NE(refused->body.find("disabled"), std::string::npos) << refused->body;
        Json rule = api.GetJson("/rules/examples.sample_webhook");
        rule["enabled"] = false;
        ASSERT_EQ(api.Put("/rules/examples.sample_webhook", rule.dump())->status, 200);
        // Actions come from files: creating or deleting one through the API is refused by name.
        auto deleted = api.Delete("/actions/examples.greet");
        EXPECT_EQ(deleted->status, 405);
        EXPECT_NE(deleted->body.find("pack register"), std::string::npos) << deleted->body;
        EXPECT_EQ(api.Put("/actions/examples.greet", R"({"name": "x"})")->status, 400);
        EXPECT_EQ(server.Stop(), 0) << server.Output();
    }
    SquallProcess server(Opts());
    Api api(server);
    EXPECT_EQ(api.GetJson("/actions/examples.greet")["enabled"], false);
    EXPECT_EQ(api.GetJson("/rules/examples.sample_webhook")["enabled"], false);
    CliResult registered = server.Cli({"pack", "register", "examples"});
    ASSERT_EQ(registered.exit_code, 0) << registered.out << registered.err;
    EXPECT_TRUE(WaitFor([&] { return api.GetJson("/actions/examples.greet")["enabled"] == true; }, 10s));
    EXPECT_EQ(api.GetJson("/rules/examples.sample_webhook")["enabled"], true);
}

TEST_F(SkeletonTest, CliRunsAndLists) {
    SquallProcess server(Opts());
    CliResult ok = server.Cli({"run", "core.local", "cmd=echo hi"});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("stdout: hi"), std::string::npos) << ok.out;
    EXPECT_NE(ok.out.find("status: succeeded"), std::string::npos) << ok.out;

    CliResult fail = server.Cli({"run", "core.local", "cmd=echo oops >&2; exit 3"});
    EXPECT_EQ(fail.exit_code, 1) << fail.out << fail.err;
    EXPECT_NE(fail.out.find("status: failed"), std::string::npos) << fail.out;
    EXPECT_NE(fail.out.find("exited with code 3"), std::string::npos) << fail.out;
    EXPECT_NE(fail.out.find("oops"), std::string::npos) << fail.out;

    CliResult bad = server.Cli({"run", "core.local", "nope=1"});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("\"nope\""), std::string::npos) << bad.err;

    CliResult list = server.Cli({"execution", "list"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("core.local"), std::string::npos) << list.out;
    CliResult json = server.Cli({"execution", "list", "-j"});
    Json executions = Json::parse(json.out);
    ASSERT_EQ(executions.size(), 2u);
    CliResult get = server.Cli({"execution", "get", executions[0]["id"], "-j"});
    EXPECT_EQ(Json::parse(get.out)["id"], executions[0]["id"]);

    CliResult actions = server.Cli({"action", "list", "-p", "core"});
    EXPECT_NE(actions.out.find("core.echo"), std::string::npos) << actions.out;
    CliResult action = server.Cli({"action", "get", "core.local", "-j"});
    EXPECT_EQ(Json::parse(action.out)["runner_type"], "local-shell-cmd");

    TempDir files;
    const std::string rule_file = (files.path() / "rule.yaml").string();
    std::ofstream(rule_file
    ) << "name: cli_rule\npack: cli\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: cli\n"
         "action:\n  ref: core.noop\n";
    CliResult created = server.Cli({"rule", "create", rule_file});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    CliResult rules = server.Cli({"rule", "list"});
    EXPECT_NE(rules.out.find("cli.cli_rule"), std::string::npos) << rules.out;
    CliResult dup = server.Cli({"rule", "create", rule_file});
    EXPECT_NE(dup.exit_code, 0);
    EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;

    CliResult noserver =
        SquallProcess::RunBinary({"execution", "list"}, {{"SQUALL_API_URL", "http://127.0.0.1:1/api/v1"}}, 30s);
    EXPECT_NE(noserver.exit_code, 0);
    EXPECT_NE(noserver.err.find("cannot reach"), std::string::npos) << noserver.err;
}

TEST_F(SkeletonTest, RuleParametersRenderWithStackStormsTrimAndLstripBlocks) {
    // A multi-line parameter as StackStorm packs write them: the block tags' own lines leave nothing behind.
    SquallProcess server(Opts());
    Api api(server);
    const Json rule = {
        {"name", "multi_line"},
        {"pack", "ci"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "lines"}}}}},
        {"action",
         {{"ref", "core.local"},
          {"parameters",
           {{"cmd", "printf '%s' '{% for c in trigger.body.commits %}\n    {{ c.id[:7] }}\n  {% endfor %}'"}}}}}};
    auto created = api.Post("/rules", rule.dump());
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    auto hook = api.Post("/webhooks/lines", PushPayload("refs/heads/main"));
    ASSERT_TRUE(hook);
    ASSERT_EQ(hook->status, 202) << hook->body;
    Json list = api.WaitExecutions([](const Json& l) {
        return l.size() == 1 && core::status::IsCompleted(l[0].value("status", ""));
    });
    ASSERT_EQ(list.size(), 1u) << list.dump(2) << server.Output();
    // Jinja2's defaults would give "\n    738a951\n  "; StackStorm's environment gives one line per commit.
    EXPECT_EQ(list[0]["result"]["stdout"], "    738a951") << list[0].dump(2);
}

TEST_F(SkeletonTest, AWebhookPayloadKeepsItsKeyOrderIntoTheExecution) {
    // Issue 12 item 1: dicts keep insertion order, as Python's. The payload's keys as sent reach the trigger
    // instance, the rendered parameters (an object parameter and a template iterating a dict) and the API's answers.
    SquallProcess server(Opts());
    Api api(server);
    const Json rule = Json::parse(R"({
      "name": "ordered", "pack": "ci",
      "trigger": {"type": "core.st2.webhook", "parameters": {"url": "ordered"}},
      "action": {"ref": "core.local", "parameters": {
        "cmd": "echo {{ trigger.body.keys() | join(',') }} {% for k, v in trigger.body.env.items() %}${{ k }}{% endfor %}",
        "env": "{{ trigger.body.env }}"}}})");
    auto created = api.Post("/rules", rule.dump());
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    const std::string body = R"({"zeta":1,"alpha":{"y":2,"b":3},"mid":"m","env":{"ZZ":"last","AA":"first"}})";
    auto hook = api.Post("/webhooks/ordered", body);
    ASSERT_TRUE(hook);
    ASSERT_EQ(hook->status, 202) << hook->body;
    const Json ti = api.GetJson("/triggerinstances/" + Json::parse(hook->body)["id"].get<std::string>());
    EXPECT_EQ(ti["payload"]["body"].dump(), body);  // parsed from the API's text: the text keeps the order
    Json list = api.WaitExecutions([](const Json& l) {
        return l.size() == 1 && core::status::IsCompleted(l[0].value("status", ""));
    });
    ASSERT_EQ(list.size(), 1u) << list.dump(2) << server.Output();
    const Json e = api.GetJson("/executions/" + list[0]["id"].get<std::string>());
    EXPECT_EQ(e["status"], "succeeded") << e.dump(2);
    EXPECT_EQ(e["parameters"]["env"].dump(), R"({"ZZ":"last","AA":"first"})") << e.dump(2);
    EXPECT_EQ(e["result"]["stdout"], "zeta,alpha,mid,env lastfirst") << e.dump(2);
}

TEST_F(SkeletonTest, ExternalRedisSpawnsNothingAndBadConfigFailsClearly) {
    CliResult bad = SquallProcess::RunBinary(
        {"server", "--listen", "127.0.0.1:0", "--data-dir", (data_.path() / "x").string(), "--workerz", "3"}, {}, 30s
    );
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("did you mean --workers"), std::string::npos) << bad.err;
    CliResult unreachable = SquallProcess::RunBinary(
        {"server",
         "--listen",
         "127.0.0.1:0",
         "--data-dir",
         (data_.path() / "y").string(),
         "--redis",
         "unix://" + (data_.path() / "none.sock").string()},
        {},
        60s
    );
    EXPECT_NE(unreachable.exit_code, 0);
    EXPECT_NE(unreachable.err.find("did not answer"), std::string::npos) << unreachable.err;
    EXPECT_FALSE(std::filesystem::exists(data_.path() / "y" / "redis"));
}

}  // namespace
}  // namespace squall::test
