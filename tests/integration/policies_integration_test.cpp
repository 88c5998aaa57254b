// Policies with StackStorm's semantics (action.concurrency, action.concurrency.attr, action.retry), enforced with a
// real Redis by two runner processes that share the count (docs/delivery.md "Policies").
#include <gtest/gtest.h>
#include <signal.h>

#include <csignal>

#include "redis_server.hpp"
#include "scale_out_support.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using namespace std::chrono_literals;

/// A pack `pol` with actions guarded by policies. `pol.locked` takes a lock directory for its run: two runs of it
/// at once make the second fail (mkdir refuses), so success of every run proves they never overlapped.
void WritePack(const std::filesystem::path& packs) {
    const auto p = packs / "pol";
    Write(p / "pack.yaml", "---\nref: pol\nname: pol\nversion: 0.1.0\nauthor: t\n");
    const std::string locked =
        "runner_type: local-shell-cmd\nparameters:\n  dir:\n    type: string\n    required: true\n"
        "  key:\n    type: string\n    default: a\n";
    Write(p / "actions" / "locked.yaml", "name: locked\n" + locked);
    Write(p / "actions" / "keyed.yaml", "name: keyed\n" + locked);
    Write(p / "actions" / "only_one.yaml", "name: only_one\n" + locked);
    Write(p / "actions" / "flaky.yaml", "---\nname: flaky\nrunner_type: local-shell-cmd\n");
    Write(p / "actions" / "slow.yaml", "---\nname: slow\nrunner_type: local-shell-cmd\n");
    Write(p / "actions" / "resilient.yaml", "---\nname: resilient\nrunner_type: local-shell-cmd\n");
    Write(
        p / "policies" / "locked.yaml",
        "---\nname: locked_concurrency\nresource_ref: pol.locked\npolicy_type: action.concurrency\n"
        "parameters:\n  threshold: 1\n  action: delay\n"
    );
    Write(
        p / "policies" / "keyed.yaml",
        "---\nname: keyed_concurrency\nresource_ref: pol.keyed\npolicy_type: action.concurrency.attr\n"
        "parameters:\n  threshold: 1\n  attributes: [key]\n"
    );
    Write(
        p / "policies" / "only_one.yaml",
        "---\nname: only_one_concurrency\nresource_ref: pol.only_one\npolicy_type: action.concurrency\n"
        "parameters:\n  threshold: 1\n  action: cancel\n"
    );
    Write(
        p / "policies" / "flaky.yaml",
        "---\nname: flaky_retry\nresource_ref: pol.flaky\npolicy_type: action.retry\n"
        "parameters:\n  retry_on: failure\n  max_retry_count: 2\n  delay: 0.2\n"
    );
    Write(
        p / "policies" / "slow.yaml",
        "---\nname: slow_retry\nresource_ref: pol.slow\npolicy_type: action.retry\n"
        "parameters:\n  retry_on: timeout\n  max_retry_count: 1\n"
    );
    Write(
        p / "policies" / "resilient.yaml",
        "---\nname: resilient_retry\nresource_ref: pol.resilient\npolicy_type: action.retry\n"
        "parameters:\n  retry_on: failure\n  max_retry_count: 1\n  delay: 3\n"
    );
    // Workflows under the same policies (the workflow role applies them): an Orquesta workflow running one command.
    Write(
        p / "actions" / "wf_locked.yaml",
        "---\nname: wf_locked\nrunner_type: orquesta\nentry_point: workflows/one.yaml\n"
        "parameters:\n  cmd:\n    type: string\n    required: true\n"
    );
    Write(
        p / "actions" / "wf_flaky.yaml",
        "---\nname: wf_flaky\nrunner_type: orquesta\nentry_point: workflows/one.yaml\n"
        "parameters:\n  cmd:\n    type: string\n    required: true\n"
    );
    Write(
        p / "actions" / "workflows" / "one.yaml",
        "version: 1.0\ninput:\n  - cmd\ntasks:\n  run:\n    action: core.local\n    input:\n"
        "      cmd: <% ctx().cmd %>\noutput:\n  - out: <% task(run).result.stdout %>\n"
    );
    Write(
        p / "policies" / "wf_locked.yaml",
        "---\nname: wf_locked_concurrency\nresource_ref: pol.wf_locked\npolicy_type: action.concurrency\n"
        "parameters:\n  threshold: 1\n  action: delay\n"
    );
    Write(
        p / "policies" / "wf_flaky.yaml",
        "---\nname: wf_flaky_retry\nresource_ref: pol.wf_flaky\npolicy_type: action.retry\n"
        "parameters:\n  retry_on: failure\n  max_retry_count: 1\n  delay: 0.2\n"
    );
}

/// Runs long the first time (leaves `marker`), says "second" at once the next time.
std::string SecondTimeLucky(const std::string& marker, const std::string& first_time) {
    return "if [ -e " + marker + " ]; then echo second; else touch " + marker + "; " + first_time + "; fi";
}

/// `mkdir lock || exit 3; sleep S; rmdir lock`: fails when another run holds the lock.
std::string LockedCmd(const std::string& lock, double seconds) {
    return "mkdir " + lock + " || exit 3; sleep " + std::to_string(seconds) + "; rmdir " + lock;
}

class PoliciesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        WritePack(dir_.path() / "d" / "packs");
        // The API and rules in one process, two runner processes (8 workers each): the count is shared by Redis.
        api_ = std::make_unique<SquallProcess>(Opts({"--roles", "api,rules,notifier,gc"}));
        runner_a_ = std::make_unique<SquallProcess>(Opts({"--roles", "runner", "--workers", "8"}));
        runner_b_ = std::make_unique<SquallProcess>(Opts({"--roles", "runner", "--workers", "8"}));
    }
    SquallProcess::Options Opts(std::vector<std::string> args) {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        o.redis_url = "unix://" + redis_.socket_path();
        o.extra_args = std::move(args);
        return o;
    }
    std::vector<Json> WaitAllEnded(const std::vector<std::string>& ids, std::chrono::seconds deadline) {
        std::vector<Json> out;
        const bool done = WaitFor(
            [&] {
                out.clear();
                for (const auto& id : ids) {
                    Json e = GetJson(*api_, "/executions/" + id);
                    const std::string s = e.value("status", "");
                    if (s != "succeeded" && s != "failed" && s != "canceled" && s != "timeout") return false;
                    out.push_back(e);
                }
                return true;
            },
            deadline
        );
        EXPECT_TRUE(done) << Json(out).dump(2);
        return out;
    }
    std::string Run(const std::string& action, const Json& params) {
        std::string why;
        std::string id = Start(*api_, action, params, &why);
        EXPECT_FALSE(id.empty()) << why;
        return id;
    }
    RedisServer redis_;
    TempDir dir_;
    std::unique_ptr<SquallProcess> api_, runner_a_, runner_b_;
};

TEST_F(PoliciesTest, ConcurrencyDelaysRunsPastTheThresholdAcrossRunnerProcesses) {
    const std::string lock = (dir_.path() / "lock").string();
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(Run("pol.locked", {{"dir", "x"}, {"cmd", LockedCmd(lock, 0.3)}}));
    std::vector<Json> ended = WaitAllEnded(ids, 90s);
    int delayed = 0;
    std::set<std::string> runners;
    for (const auto& e : ended) {
        EXPECT_EQ(e.value("status", ""), "succeeded") << "two runs overlapped: " << e.dump(2);
        std::vector<std::string> log = StatusLog(e);
        if (std::find(log.begin(), log.end(), "delayed") != log.end()) delayed += 1;
        runners.insert(e["liveaction"]["runner_info"].value("hostname", ""));
    }
    EXPECT_GE(delayed, 1) << "six runs at once with threshold 1: some must have been delayed";
    // Nothing was left counted: a new run starts at once.
    const std::string after = Run("pol.locked", {{"dir", "x"}, {"cmd", "true"}});
    std::vector<Json> last = WaitAllEnded({after}, 30s);
    ASSERT_EQ(last.size(), 1u);
    std::vector<std::string> log = StatusLog(last[0]);
    EXPECT_EQ(std::count(log.begin(), log.end(), "delayed"), 0) << last[0].dump(2);
    EXPECT_EQ(last[0].value("status", ""), "succeeded");
}

TEST_F(PoliciesTest, ConcurrencyAttrCountsPerAttributeValue) {
    const std::string base = (dir_.path() / "lock-").string();
    std::vector<std::string> a;
    for (int i = 0; i < 3; ++i)
        a.push_back(Run("pol.keyed", {{"dir", "x"}, {"key", "a"}, {"cmd", LockedCmd(base + "a", 0.5)}}));
    // Another value runs alongside the a's (its own lock): started after them, it never waits for them.
    const std::string b = Run("pol.keyed", {{"dir", "x"}, {"key", "b"}, {"cmd", LockedCmd(base + "b", 0.1)}});
    std::vector<Json> ended = WaitAllEnded(a, 90s);
    int delayed = 0;
    for (const auto& e : ended) {
        EXPECT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
        std::vector<std::string> log = StatusLog(e);
        delayed += std::count(log.begin(), log.end(), "delayed") > 0 ? 1 : 0;
    }
    EXPECT_GE(delayed, 1);
    std::vector<Json> eb = WaitAllEnded({b}, 30s);
    ASSERT_EQ(eb.size(), 1u);
    EXPECT_EQ(eb[0].value("status", ""), "succeeded") << eb[0].dump(2);
    std::vector<std::string> log = StatusLog(eb[0]);
    EXPECT_EQ(std::count(log.begin(), log.end(), "delayed"), 0) << "key b has its own count: " << eb[0].dump(2);
}

TEST_F(PoliciesTest, ConcurrencyCancelCancelsRunsPastTheThreshold) {
    const std::string lock = (dir_.path() / "lock").string();
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(Run("pol.only_one", {{"dir", "x"}, {"cmd", LockedCmd(lock, 3)}}));
    std::vector<Json> ended = WaitAllEnded(ids, 90s);
    int succeeded = 0;
    int canceled = 0;
    for (const auto& e : ended) {
        const std::string s = e.value("status", "");
        succeeded += s == "succeeded";
        if (s == "canceled") {
            canceled += 1;
            EXPECT_NE(e["result"].value("error", "").find("canceled by policy"), std::string::npos) << e.dump(2);
        }
    }
    EXPECT_EQ(succeeded, 1) << Json(ended).dump(2);
    EXPECT_EQ(canceled, 3) << Json(ended).dump(2);
}

TEST_F(PoliciesTest, RetryRunsAFailedExecutionAgainUpToMaxRetryCount) {
    const std::string first = Run("pol.flaky", {{"cmd", "echo try; exit 1"}});
    // The original and two retries, each a new execution pointing at the one it retried.
    std::vector<Json> chain;
    ASSERT_TRUE(WaitFor(
        [&] {
            Json list = GetJson(*api_, "/executions?action=pol.flaky&limit=10");
            if (!list.is_array() || list.size() != 3) return false;
            for (const auto& e : list)
                if (e.value("status", "") != "failed") return false;
            chain = list.get<std::vector<Json>>();
            return true;
        },
        60s
    )) << GetJson(*api_, "/executions?action=pol.flaky&limit=10").dump(2);
    std::map<int64_t, Json> by_count;
    for (const auto& e : chain) {
        const Json retry = e["context"].value("policies", Json::object()).value("retry", Json::object());
        by_count[retry.value("retry_count", int64_t{0})] = e;
        EXPECT_EQ(e["parameters"].value("cmd", ""), "echo try; exit 1");
    }
    ASSERT_EQ(by_count.size(), 3u);
    EXPECT_EQ(by_count[0].value("id", ""), first);
    EXPECT_EQ(by_count[1]["context"]["policies"]["retry"]["retried_liveaction_id"], first);
    EXPECT_EQ(by_count[1]["context"]["policies"]["retry"]["applied_policy"], "pol.flaky_retry");
    EXPECT_EQ(by_count[2]["context"]["policies"]["retry"]["retried_liveaction_id"], by_count[1]["id"]);
    // And no fourth: max_retry_count is 2 (wait a little past the delay for one that should not come).
    EXPECT_FALSE(WaitFor([&] { return GetJson(*api_, "/executions?action=pol.flaky&limit=10").size() > 3; }, 2s));

    // A success is not retried.
    const std::string ok = Run("pol.flaky", {{"cmd", "true"}});
    WaitAllEnded({ok}, 30s);
    EXPECT_FALSE(WaitFor([&] { return GetJson(*api_, "/executions?action=pol.flaky&limit=10").size() > 4; }, 1s));
}

TEST_F(PoliciesTest, RetryOnTimeoutRetriesTimeoutsOnly) {
    Run("pol.slow", {{"cmd", "sleep 10"}, {"timeout", 1}});
    Json list;
    ASSERT_TRUE(WaitFor(
        [&] {
            list = GetJson(*api_, "/executions?action=pol.slow&limit=10");
            return list.is_array() && list.size() == 2 && list[0].value("status", "") == "timeout" &&
                   list[1].value("status", "") == "timeout";
        },
        60s
    )) << list.dump(2);
    // A failure is not what this policy retries.
    const std::string failed = Run("pol.slow", {{"cmd", "exit 2"}});
    WaitAllEnded({failed}, 30s);
    EXPECT_FALSE(WaitFor([&] { return GetJson(*api_, "/executions?action=pol.slow&limit=10").size() > 3; }, 1s));
}

/// The retry of `first` (by retried_liveaction_id), once it succeeded; null when none came in `deadline`.
Json WaitRetrySucceeded(
    SquallProcess& api,
    const std::string& first,
    std::chrono::seconds deadline,
    const std::string& action = "pol.resilient"
) {
    Json found;
    WaitFor(
        [&] {
            Json list = GetJson(api, "/executions?action=" + action + "&limit=10");
            if (!list.is_array()) return false;
            for (const auto& e : list) {
                const Json retry = e["context"].value("policies", Json::object()).value("retry", Json::object());
                if (retry.value("retried_liveaction_id", "") == first && e.value("status", "") == "succeeded") {
                    found = e;
                    return true;
                }
            }
            return false;
        },
        deadline
    );
    return found;
}

TEST_F(PoliciesTest, AnAbandonedExecutionIsRetriedByItsPolicy) {
    // The first run sleeps; both runner processes are killed under it, and one comes back. The gc role marks the
    // execution abandoned once its runner's liveness lapsed, and the retry policy (retry_on: failure) runs it again.
    const std::string marker = (dir_.path() / "abandoned-marker").string();
    const std::string first = Run("pol.resilient", {{"cmd", SecondTimeLucky(marker, "sleep 40")}});
    ASSERT_TRUE(WaitFor(
        [&] {
            return std::filesystem::exists(marker) &&
                   GetJson(*api_, "/executions/" + first).value("status", "") == "running";
        },
        30s
    ));
    runner_a_->Kill();
    runner_b_->Kill();
    runner_a_ = std::make_unique<SquallProcess>(Opts({"--roles", "runner"}));
    const Json retry = WaitRetrySucceeded(*api_, first, 90s);
    ASSERT_FALSE(retry.is_null()) << GetJson(*api_, "/executions?action=pol.resilient&limit=10").dump(2);
    EXPECT_EQ(GetJson(*api_, "/executions/" + first).value("status", ""), "abandoned");
    EXPECT_EQ(retry["context"]["policies"]["retry"]["applied_policy"], "pol.resilient_retry");
    EXPECT_EQ(retry["context"]["policies"]["retry"]["retry_count"], 1);
    EXPECT_NE(retry["result"].value("stdout", "").find("second"), std::string::npos) << retry.dump(2);
}

TEST_F(PoliciesTest, ARetryDelaySurvivesTheRunnerThatRanItDying) {
    // The policy's delay is 3 s; the runner that ran the failure dies at once, and the other runner process (or
    // one that comes back) makes the retry when it is due: the delay is kept in Redis, not in a process.
    const std::string marker = (dir_.path() / "delay-marker").string();
    const std::string first = Run("pol.resilient", {{"cmd", SecondTimeLucky(marker, "exit 1")}});
    ASSERT_TRUE(WaitFor([&] { return GetJson(*api_, "/executions/" + first).value("status", "") == "failed"; }, 30s));
    runner_a_->Kill();
    runner_b_->Kill();
    runner_b_ = std::make_unique<SquallProcess>(Opts({"--roles", "runner"}));
    const Json retry = WaitRetrySucceeded(*api_, first, 60s);
    ASSERT_FALSE(retry.is_null()) << GetJson(*api_, "/executions?action=pol.resilient&limit=10").dump(2);
    EXPECT_EQ(retry["context"]["policies"]["retry"]["retry_count"], 1);
    // Exactly one retry (max_retry_count: 1), whichever processes looked at it.
    EXPECT_EQ(GetJson(*api_, "/executions?action=pol.resilient&limit=10").size(), 2u);
}

TEST_F(PoliciesTest, PoliciesAndTypesAreListed) {
    Json policies = GetJson(*api_, "/policies?pack=pol");
    ASSERT_TRUE(policies.is_array());
    EXPECT_EQ(policies.size(), 8u) << policies.dump(2);
    Json one = GetJson(*api_, "/policies/pol.keyed_concurrency");
    EXPECT_EQ(one.value("policy_type", ""), "action.concurrency.attr");
    EXPECT_EQ(one["parameters"]["action"], "delay") << "the type's default is filled in";
    EXPECT_EQ(GetJson(*api_, "/policytypes").size(), 3u);
    CliResult list = api_->Cli({"policy", "list", "--resource-ref", "pol.flaky"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("pol.flaky_retry"), std::string::npos) << list.out;
    EXPECT_EQ(list.out.find("pol.locked_concurrency"), std::string::npos) << list.out;
    CliResult get = api_->Cli({"policy", "get", "pol.locked_concurrency", "-j"});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    EXPECT_NE(get.out.find("\"threshold\": 1"), std::string::npos) << get.out;
}

/// The same installation with a `workflow` role process: policies on workflow actions.
class WorkflowPoliciesTest : public PoliciesTest {
protected:
    void SetUp() override {
        PoliciesTest::SetUp();
        workflow_ = std::make_unique<SquallProcess>(Opts({"--roles", "workflow"}));
    }
    std::unique_ptr<SquallProcess> workflow_;
};

TEST_F(WorkflowPoliciesTest, ConcurrencyDelaysWorkflowsPastTheThreshold) {
    // Each workflow's one task takes the lock: with threshold 1 the workflows never overlap, so every one succeeds,
    // and those started while another ran went through `delayed`.
    const std::string lock = (dir_.path() / "wf-lock").string();
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(Run("pol.wf_locked", {{"cmd", LockedCmd(lock, 0.3)}}));
    std::vector<Json> ended = WaitAllEnded(ids, 90s);
    int delayed = 0;
    for (const auto& e : ended) {
        EXPECT_EQ(e.value("status", ""), "succeeded") << "two workflows overlapped: " << e.dump(2);
        std::vector<std::string> log = StatusLog(e);
        delayed += std::count(log.begin(), log.end(), "delayed") > 0 ? 1 : 0;
    }
    EXPECT_GE(delayed, 1) << "four workflows at once with threshold 1: some must have been delayed";
}

TEST_F(WorkflowPoliciesTest, RetryRunsAFailedWorkflowAgain) {
    // The workflow's task fails the first time (it leaves a marker) and succeeds the next: the retry policy runs the
    // whole workflow again as a new execution that points at the failed one.
    const std::string marker = (dir_.path() / "wf-marker").string();
    const std::string first = Run("pol.wf_flaky", {{"cmd", SecondTimeLucky(marker, "exit 1")}});
    const Json retry = WaitRetrySucceeded(*api_, first, 60s, "pol.wf_flaky");
    ASSERT_FALSE(retry.is_null()) << GetJson(*api_, "/executions?action=pol.wf_flaky&limit=10").dump(2);
    EXPECT_EQ(GetJson(*api_, "/executions/" + first).value("status", ""), "failed");
    EXPECT_EQ(retry["context"]["policies"]["retry"]["applied_policy"], "pol.wf_flaky_retry");
    EXPECT_EQ(retry["result"]["output"].value("out", ""), "second") << retry.dump(2);
    // max_retry_count is 1, and the retry succeeded: two executions of the workflow in all.
    EXPECT_FALSE(WaitFor([&] { return GetJson(*api_, "/executions?action=pol.wf_flaky&limit=10").size() > 2; }, 1s));
}

}  // namespace
}  // namespace squall::test
