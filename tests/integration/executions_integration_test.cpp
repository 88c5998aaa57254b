// Executions end to end with the real binary: cancel (queued at once; running through `canceling`, its process
// group SIGTERMed then SIGKILLed), re-run with overrides, and the notifier's actiontrigger and notifytrigger, which
// let one team's rule react to another team's failed job.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <set>

#include "git_repo.hpp"
#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall/executions/store.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

Json GetExecution(const SquallProcess& server, const std::string& id) {
    CliResult got = server.Cli({"execution", "get", id, "-j"});
    Json e = Json::parse(got.out, nullptr, false);
    return e.is_object() ? e : Json::object();
}

std::string StartAsync(const SquallProcess& server, const std::vector<std::string>& args) {
    std::vector<std::string> cli = {"run"};
    cli.insert(cli.end(), args.begin(), args.end());
    cli.push_back("-a");
    cli.push_back("-j");
    CliResult run = server.Cli(cli);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    Json j = Json::parse(run.out, nullptr, false);
    return j.is_object() ? j.value("id", "") : "";
}

bool WaitStatus(const SquallProcess& server, const std::string& id, const std::string& status, std::chrono::seconds d) {
    return WaitFor([&] { return GetExecution(server, id).value("status", "") == status; }, d);
}

TEST(ExecutionsIntegrationTest, CancelEndsQueuedAtOnceAndRunningWithinThreeSeconds) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server({(data.path() / "d").string(), "", {"--workers", "1"}});

    // The one worker is taken by a process that ignores SIGTERM; the next execution waits in `scheduled`.
    const std::string stubborn = StartAsync(server, {"core.local", "cmd=trap '' TERM; sleep 60"});
    ASSERT_TRUE(WaitStatus(server, stubborn, "running", 30s));
    const std::string queued = StartAsync(server, {"core.local", "cmd=echo never"});
    ASSERT_FALSE(queued.empty());
    EXPECT_EQ(GetExecution(server, queued)["status"], "scheduled");

    CliResult cancel_queued = server.Cli({"execution", "cancel", queued});
    ASSERT_EQ(cancel_queued.exit_code, 0) << cancel_queued.err;
    EXPECT_NE(cancel_queued.out.find("canceled"), std::string::npos) << cancel_queued.out;
    EXPECT_EQ(GetExecution(server, queued)["status"], "canceled");

    const auto asked = std::chrono::steady_clock::now();
    CliResult cancel_running = server.Cli({"execution", "cancel", stubborn});
    ASSERT_EQ(cancel_running.exit_code, 0) << cancel_running.err;
    EXPECT_NE(cancel_running.out.find("cancel"), std::string::npos) << cancel_running.out;
    ASSERT_TRUE(WaitStatus(server, stubborn, "canceled", 10s)) << GetExecution(server, stubborn).dump();
    const auto took = std::chrono::steady_clock::now() - asked;
    EXPECT_LT(took, 3s) << "SIGTERM ignored: SIGKILL after the grace";
    Json ended = GetExecution(server, stubborn);
    std::vector<std::string> statuses;
    for (const auto& l : ended["log"]) statuses.push_back(l["status"]);
    EXPECT_EQ(statuses, (std::vector<std::string>{"requested", "scheduled", "running", "canceling", "canceled"}));

    // The canceled request never runs; the worker is free again.
    EXPECT_EQ(server.Cli({"run", "core.local", "cmd=echo after"}).exit_code, 0);
    EXPECT_EQ(GetExecution(server, queued)["status"], "canceled");

    // Canceled again: answered as it is (StackStorm's 200). One that ended otherwise cannot be canceled: the answer
    // (200, as StackStorm's, so that `st2 execution cancel A B C` goes on) names its status; the CLI exits 1.
    CliResult again = server.Cli({"execution", "cancel", stubborn});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("canceled"), std::string::npos) << again.out;
    const std::string done = StartAsync(server, {"core.local", "cmd=echo done"});
    ASSERT_TRUE(WaitStatus(server, done, "succeeded", 30s));
    CliResult ended_already = server.Cli({"execution", "cancel", done});
    EXPECT_EQ(ended_already.exit_code, 1);
    EXPECT_NE(ended_already.err.find("Action cannot be canceled. State = succeeded."), std::string::npos)
        << ended_already.err;
    EXPECT_EQ(GetExecution(server, done)["status"], "succeeded");

    // A refused parameter says where the action's parameters are listed, and a near miss gets a did-you-mean.
    CliResult missing = server.Cli({"run", "core.local"});
    EXPECT_EQ(missing.exit_code, 2) << missing.err;
    EXPECT_NE(missing.err.find("parameter \"cmd\": is required"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("squall action get core.local"), std::string::npos) << missing.err;
    CliResult typo = server.Cli({"run", "core.local", "cdm=echo"});
    EXPECT_NE(typo.err.find("did you mean \"cmd\"?"), std::string::npos) << typo.err;
}

TEST(ExecutionsIntegrationTest, CancelReachesARunnerInAnotherProcess) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    SquallProcess::Options o;
    o.data_dir = (data.path() / "d").string();
    o.redis_url = "unix://" + redis.socket_path();
    // The API (where the cancel arrives) and the runner (whose process group must die) are two processes.
    o.extra_args = {"--roles", "api,rules,notifier,gc"};
    SquallProcess api(o);
    o.extra_args = {"--roles", "runner", "--listen", "127.0.0.1:0"};
    SquallProcess runner(o);

    const std::string id = StartAsync(api, {"core.local", "cmd=trap '' TERM; echo started; sleep 60"});
    ASSERT_TRUE(WaitStatus(api, id, "running", 30s)) << runner.Output();
    const std::string ran_in = GetExecution(api, id)["liveaction"]["runner_info"].value("hostname", "");
    EXPECT_NE(ran_in.find("-" + std::to_string(runner.pid()) + "-runner"), std::string::npos) << ran_in;
    const auto asked = std::chrono::steady_clock::now();
    CliResult cancel = api.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
    ASSERT_TRUE(WaitStatus(api, id, "canceled", 10s)) << GetExecution(api, id).dump() << runner.Output();
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 3s) << "SIGTERM ignored: SIGKILL after the grace";
    // The runner process is still there and takes new work.
    CliResult after = api.Cli({"run", "core.local", "cmd=echo after", "-j"});
    EXPECT_EQ(after.exit_code, 0) << after.err;
    EXPECT_NE(after.out.find("after"), std::string::npos) << after.out;
    EXPECT_TRUE(runner.Running());
}

// The first cancel's transition was stored but its message to the runner was lost (Redis gone between the two): the
// execution is `canceling`, its action runs on. A cancel asked again tells the runner again; before, it answered
// `canceling` and nothing happened until the action's own end or timeout.
TEST(ExecutionsIntegrationTest, ACancelAskedAgainTellsTheRunnerAgain) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    SquallProcess::Options o;
    o.data_dir = (data.path() / "d").string();
    o.redis_url = "unix://" + redis.socket_path();
    o.extra_args = {"--roles", "api,rules,notifier,gc,runner"};
    SquallProcess server(o);

    const std::string id = StartAsync(server, {"core.local", "cmd=echo started; sleep 60"});
    ASSERT_TRUE(WaitStatus(server, id, "running", 30s)) << server.Output();
    IoRunner io;
    core::RedisEndpoint ep;
    ep.unix_path = redis.socket_path();
    auto client = core::RedisClient::Create(io.io(), ep);
    executions::ExecutionStore store(client, core::SystemClock());
    Result<executions::TransitionResult> first = store.TransitionBlocking(id, "canceling", {}, {"running"});
    ASSERT_TRUE(first && first->applied) << (first ? first->previous : first.error().message);
    CliResult again = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(WaitStatus(server, id, "canceled", 10s)) << GetExecution(server, id).dump() << server.Output();
    client->Close();
}

TEST(ExecutionsIntegrationTest, ReRunKeepsParametersAppliesOverridesAndLinksTheOriginal) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server({(data.path() / "d").string(), "", {}});
    CliResult first = server.Cli({"run", "core.local", "cmd=echo $GREETING", "env={\"GREETING\": \"one\"}", "-j"});
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    const std::string id = Json::parse(first.out)["id"];

    CliResult same = server.Cli({"execution", "re-run", id, "-j"});
    ASSERT_EQ(same.exit_code, 0) << same.out << same.err;
    Json rerun = Json::parse(same.out);
    EXPECT_NE(rerun["id"], id);
    EXPECT_EQ(rerun["context"]["re_run"]["ref"], id);
    EXPECT_EQ(rerun["result"]["stdout"], "one");

    CliResult changed = server.Cli({"execution", "re-run", id, "env={\"GREETING\": \"two\"}", "-j"});
    ASSERT_EQ(changed.exit_code, 0) << changed.out << changed.err;
    EXPECT_EQ(Json::parse(changed.out)["result"]["stdout"], "two");

    CliResult unknown = server.Cli({"execution", "re-run", "nope"});
    EXPECT_NE(unknown.exit_code, 0);
    EXPECT_NE(unknown.err.find("not found"), std::string::npos) << unknown.err;
}

// Team A's job fails; team B's rule on core.st2.generic.actiontrigger runs B's action with the failed execution's
// id — the event-driven answer to "wait for another team's job". The notify section of A's action emits one
// notifytrigger per route.
TEST(ExecutionsIntegrationTest, ActionTriggerLetsARuleReactToAnotherTeamsFailure) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const auto pack = data.path() / "teama";
    WriteFile(pack / "pack.yaml", "ref: teama\nname: teama\nversion: 1.0.0\ndescription: team A\nauthor: a\n");
    WriteFile(
        pack / "actions" / "nightly.yaml",
        "name: nightly\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: \"echo failing >&2; exit 3\"\n"
        "notify:\n  on-failure:\n    message: \"nightly failed: {{ action_results.stderr }}\"\n    routes: [oncall, "
        "chat]\n"
    );
    Git(pack, {"init", "-q"});
    Git(pack, {"add", "-A"});
    Git(pack, {"commit", "-qm", "init"});
    SquallProcess server({(data.path() / "d").string(), "", {}});
    CliResult installed = server.Cli({"pack", "install", "file://" + pack.string()}, 120s);
    ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;

    const auto rule_file = data.path() / "on_failure.yaml";
    WriteFile(
        rule_file,
        "name: on_teama_failure\npack: teamb\ntrigger:\n  type: core.st2.generic.actiontrigger\ncriteria:\n"
        // action_name is the ref, as StackStorm's notifier sends it (rules written for StackStorm match on it).
        "  trigger.action_ref:\n    type: equals\n    pattern: teama.nightly\n"
        "  trigger.action_name:\n    type: equals\n    pattern: teama.nightly\n  trigger.status:\n    type: equals\n"
        "    pattern: failed\naction:\n  ref: core.local\n  parameters:\n"
        "    cmd: \"echo team B handles {{ trigger.execution_id }} exit={{ trigger.result.return_code }}\"\n"
    );
    CliResult created = server.Cli({"rule", "create", rule_file.string()});
    ASSERT_EQ(created.exit_code, 0) << created.out << created.err;

    CliResult failed = server.Cli({"run", "teama.nightly", "-j"});
    ASSERT_EQ(failed.exit_code, 1) << failed.out << failed.err;
    const std::string failed_id = Json::parse(failed.out)["id"];

    Json handled;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult list = server.Cli({"execution", "list", "--action", "core.local", "-j"});
            Json all = Json::parse(list.out, nullptr, false);
            if (!all.is_array()) return false;
            for (const auto& e : all) {
                if (e.value("status", "") == "succeeded") handled = e;
            }
            return handled.is_object();
        },
        30s
    ));
    EXPECT_EQ(handled["result"]["stdout"], "team B handles " + failed_id + " exit=3");
    EXPECT_EQ(handled["rule"]["ref"], "teamb.on_teama_failure");

    // One notifytrigger per route of on-failure, with the rendered message.
    Json notified = Json::array();
    ASSERT_TRUE(WaitFor(
        [&] {
            Json all = Json::parse(server.Cli({"trigger-instance", "list", "-j"}).out, nullptr, false);
            notified = Json::array();
            if (!all.is_array()) return false;
            for (const auto& ti : all) {
                if (ti.value("trigger", "") == "core.st2.generic.notifytrigger") notified.push_back(ti);
            }
            return notified.size() == 2;
        },
        30s
    )) << notified.dump();
    std::set<std::string> routes;
    for (const auto& ti : notified) {
        routes.insert(ti["payload"]["route"].get<std::string>());
        EXPECT_EQ(ti["payload"]["execution_id"], failed_id);
        EXPECT_EQ(ti["payload"]["status"], "failed");
        EXPECT_EQ(ti["payload"]["message"], "nightly failed: failing");
    }
    EXPECT_EQ(routes, (std::set<std::string>{"oncall", "chat"}));
}

// StackStorm's POST /executions `notify`: a request's own notify sections are used when its action has none (bots
// and scripts that add a route per request); they were dropped without a word.
TEST(ExecutionsIntegrationTest, ARequestsOwnNotifyIsUsedWhenItsActionHasNone) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server({(data.path() / "d").string(), "", {}});
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const httplib::Headers key = {{"St2-Api-Key", server.api_key()}};
    const Json body = {
        {"action", "core.local"},
        {"parameters", {{"cmd", "echo runtime"}}},
        {"notify", {{"on-success", {{"routes", {"ops-runtime"}}, {"message", "rt {{ action_results.stdout }}"}}}}}};
    auto created = c.Post("/api/v1/executions", key, body.dump(), "application/json");
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    const std::string id = Json::parse(created->body)["id"];
    Json notified;
    ASSERT_TRUE(WaitFor(
        [&] {
            Json all = Json::parse(server.Cli({"trigger-instance", "list", "-j"}).out, nullptr, false);
            if (!all.is_array()) return false;
            for (const auto& ti : all) {
                if (ti.value("trigger", "") == "core.st2.generic.notifytrigger") notified = ti;
            }
            return notified.is_object();
        },
        30s
    )) << server.Output();
    EXPECT_EQ(notified["payload"]["route"], "ops-runtime");
    EXPECT_EQ(notified["payload"]["execution_id"], id);
    EXPECT_EQ(notified["payload"]["message"], "rt runtime");

    // A notify that is not StackStorm's shape is refused, naming the field.
    Json bad = body;
    bad["notify"] = {{"on-succes", {{"routes", {"x"}}}}};
    auto refused = c.Post("/api/v1/executions", key, bad.dump(), "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_NE(refused->body.find("notify.on-succes: unknown section"), std::string::npos) << refused->body;
    bad["notify"] = {{"on-failure", {{"routes", "ops"}}}};
    refused = c.Post("/api/v1/executions", key, bad.dump(), "application/json");
    EXPECT_EQ(refused->status, 400);
    EXPECT_NE(refused->body.find("notify.on-failure.routes"), std::string::npos) << refused->body;
}

}  // namespace
}  // namespace squall::test
