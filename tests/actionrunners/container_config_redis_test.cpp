#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cutting_proxy.hpp"
#include "io_runner.hpp"
#include "redis_server.hpp"
#include "runner_harness.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/content_store.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::actionrunners {
namespace {

/// The runner container hands an action its pack config (Keys::Configs) and masks the config's secret values
/// (Keys::ConfigSecrets) and the API key in what the run produces.
class ContainerConfigRedisTest : public ::testing::Test {
protected:
    void SetUp() override { StartContainer(Cut::kNone); }

    enum class Cut {
        kNone,
        kConfigRead,   // before its first read of a pack config
        kClaimAnswer,  // after its first claim is applied, the answer lost
    };

    /// The test's client talks to the server directly; the container's goes through proxy_, cut as `cut` says.
    /// Without `start`, the container is made but not started (the test starts it once Redis holds what it needs).
    void StartContainer(Cut cut, bool start = true) {
        client_ = core::RedisClient::Create(io_.io(), server_.Endpoint("cfg"));
        store_ = std::make_unique<executions::ExecutionStore>(client_, core::SystemClock());
        keys_ = std::make_unique<packs::ContentKeys>(client_->endpoint().key_prefix);
        runner_client_ = client_;
        if (cut != Cut::kNone) {
            const std::string key = keys_->Configs();
            proxy_ =
                cut == Cut::kConfigRead
                    ? std::make_unique<squall::test::CuttingProxy>(
                          server_.socket_path(), "HGET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n"
                      )
                    : std::make_unique<squall::test::CuttingProxy>(server_.socket_path(), "\r\nrunner_id\r\n", true);
            core::RedisEndpoint via_proxy = client_->endpoint();
            via_proxy.unix_path = proxy_->path();
            runner_client_ = core::RedisClient::Create(io_.io(), via_proxy);
        }
        RegisterBuiltinRunners(registry_);
        RunnerContainerOptions o;
        o.consumer_name = "test-runner";
        o.api_url = "http://127.0.0.1:9/api/v1";
        o.action_token_key = "container-token-key";
        container_ = std::make_unique<RunnerContainer>(io_.io(), runner_client_, registry_, o, core::SystemClock());
        if (start) container_->Start();
    }
    void TearDown() override {
        bool stopped = stopped_by_test_;
        std::mutex mu;
        if (!stopped_by_test_)
            container_->Stop(std::chrono::seconds(1), [&] {
                std::lock_guard lock(mu);
                stopped = true;
            });
        EXPECT_TRUE(squall::test::WaitFor(
            [&] {
                std::lock_guard lock(mu);
                return stopped;
            },
            std::chrono::seconds(30)
        ));
        container_.reset();
        store_.reset();
        if (runner_client_ != client_) runner_client_->Close();
        runner_client_.reset();
        client_->Close();
        client_.reset();
        io_.Drain();
        proxy_.reset();
    }

    /// Creates execution `id` of a shell command (its request on the stream for the container).
    void CreateShell(const std::string& id, const std::string& cmd) {
        RunRequest r = test::ActionRequest(id, "local-shell-cmd", "", Json::object(), {{"cmd", cmd}});
        executions::NewExecution e;
        e.request.execution_id = id;
        e.request.action_ref = r.action_ref;
        e.request.runner_type = "local-shell-cmd";
        e.request.action = r.action;
        e.request.parameters = r.parameters;
        e.request.context = {{"user", "tester"}};
        e.action = r.action;
        ASSERT_TRUE(store_->CreateBlocking(e));
    }

    /// The execution once it has ended (up to `deadline`).
    Json WaitForEnd(const std::string& id, std::chrono::seconds deadline = std::chrono::seconds(30)) {
        Json execution;
        EXPECT_TRUE(squall::test::WaitFor(
            [&] {
                Result<Json> got = store_->GetBlocking(id);
                if (!got) return false;
                execution = *got;
                return core::status::IsCompleted(execution.value("status", ""));
            },
            deadline
        )) << execution.dump(2);
        return execution;
    }

    /// Runs a python action of the test pack through the container; returns the stored execution.
    Json RunPython(const std::string& name, const std::string& file, Json params, std::vector<std::string> secret) {
        RunRequest r = test::ActionRequest(name, "python-script", file, Json::object(), params);
        executions::NewExecution e;
        e.request.execution_id = "cfg-" + name;
        e.request.action_ref = r.action_ref;
        e.request.runner_type = "python-script";
        e.request.action = r.action;
        e.request.parameters = params;
        e.request.secret_parameters = std::move(secret);
        e.request.context = {{"user", "tester"}};
        e.action = r.action;
        Result<std::string> id = store_->CreateBlocking(e);
        EXPECT_TRUE(id) << id.error().message;
        return WaitForEnd(*id, std::chrono::seconds(60));
    }

    squall::test::RedisServer server_;
    squall::test::IoRunner io_{2};
    core::RedisClientPtr client_;
    std::unique_ptr<squall::test::CuttingProxy> proxy_;
    core::RedisClientPtr runner_client_;  // the container's: client_, or through proxy_
    std::unique_ptr<executions::ExecutionStore> store_;
    std::unique_ptr<packs::ContentKeys> keys_;
    RunnerRegistry registry_;
    std::unique_ptr<RunnerContainer> container_;
    bool stopped_by_test_ = false;
};

TEST_F(ContainerConfigRedisTest, ActionGetsItsPackConfig) {
    ASSERT_TRUE(client_->CommandBlocking({"HSET", keys_->Configs(), "squall_test", R"({"x": 7})"}));
    Json e = RunPython("hello", "hello.py", {{"name", "cfg"}}, {});
    ASSERT_EQ(e["status"], core::status::kSucceeded) << e.dump(2);
    EXPECT_EQ(e["result"]["result"], Json({{"greeting", "Hello, cfg!"}, {"config_x", 7}}));
}

TEST_F(ContainerConfigRedisTest, NoConfigMeansAnEmptyOne) {
    Json e = RunPython("hello", "hello.py", {{"name", "none"}}, {});
    ASSERT_EQ(e["status"], core::status::kSucceeded) << e.dump(2);
    EXPECT_TRUE(e["result"]["result"]["config_x"].is_null());
}

TEST_F(ContainerConfigRedisTest, ConfigSecretsParametersAndTheAuthTokenAreMasked) {
    ASSERT_TRUE(client_->CommandBlocking({"HSET", keys_->Configs(), "squall_test", R"({"password": "cfg-secret"})"}));
    ASSERT_TRUE(client_->CommandBlocking({"HSET", keys_->ConfigSecrets(), "squall_test", R"(["password"])"}));
    Json e = RunPython("show_secrets", "show_secrets.py", {{"token", "param-secret"}}, {"token"});
    ASSERT_EQ(e["status"], core::status::kSucceeded) << e.dump(2);
    // The action got a token (ST2_ACTION_AUTH_TOKEN, minted for this execution) and printed it: masked.
    EXPECT_EQ(e["result"]["stdout"], "token is ********\napi token is ********\n");
    EXPECT_EQ(e["result"]["stderr"], "config password is ********\n");
    const std::string all = e.dump();
    for (const char* s : {"cfg-secret", "param-secret", "sqx1."}) {
        EXPECT_EQ(all.find(s), std::string::npos) << s;
    }
}

// A stopping runner (SIGTERM: `shutdown_grace` for its executions to finish) keeps its heartbeat while they run:
// stopped at once, the gc role took it for dead 15 s later and abandoned an execution that then finished within
// the grace, its result refused and a retry policy running it again (found by a tester driving a live server).
TEST_F(ContainerConfigRedisTest, AStoppingRunnerStaysAliveWhileItsExecutionsFinish) {
    // The action runs until the test lets it end (a file appears), so the check below never races its end.
    squall::test::TempDir tmp;
    const std::string release = (tmp.path() / "release").string();
    CreateShell("cfg-sleeper", "while [ ! -e " + release + " ]; do sleep 0.1; done");
    ASSERT_TRUE(squall::test::WaitFor(
        [&] {
            Result<Json> got = store_->GetBlocking("cfg-sleeper");
            return got && got->value("status", "") == core::status::kRunning;
        },
        std::chrono::seconds(30)
    ));
    std::atomic<bool> stopped{false};
    stopped_by_test_ = true;
    container_->Stop(std::chrono::seconds(30), [&] { stopped = true; });
    // A beat after the stop: the alive key's TTL (15 s, set every 5 s) goes up again instead of running out.
    const auto ttl = [&] {
        Result<core::RedisReply> r =
            client_->CommandBlocking({"PTTL", RunnerKeys(client_->endpoint().key_prefix).Alive("test-runner")});
        return r ? r->integer : -2;
    };
    int64_t lowest = ttl();  // the lowest TTL seen since the stop; a beat sets it back near 15 s
    EXPECT_TRUE(squall::test::WaitFor(
        [&] {
            const int64_t now = ttl();
            lowest = std::min(lowest, now);
            return now > lowest + 500;
        },
        std::chrono::seconds(15)
    )) << "no heartbeat since the stop (TTL "
       << ttl() << " ms)";
    EXPECT_FALSE(stopped);
    std::ofstream(release).put('\n');
    ASSERT_TRUE(squall::test::WaitFor([&] { return stopped.load(); }, std::chrono::seconds(30)));
    Result<Json> done = store_->GetBlocking("cfg-sleeper");
    ASSERT_TRUE(done);
    EXPECT_EQ(done->value("status", ""), core::status::kSucceeded) << done->dump(2);
}

/// The runner container's connection is lost while it reads the pack config of an execution it has claimed (a Redis
/// restart or a Sentinel failover at that moment): the config is read again once Redis answers, and the action runs
/// with it, rather than the execution ending `failed` without having run.
class ContainerConfigDropTest : public ContainerConfigRedisTest {
protected:
    void SetUp() override { StartContainer(Cut::kConfigRead); }
};

TEST_F(ContainerConfigDropTest, ConfigReadAgainAfterTheConnectionIsLost) {
    ASSERT_TRUE(client_->CommandBlocking({"HSET", keys_->Configs(), "squall_test", R"({"x": 7})"}));
    Json e = RunPython("hello", "hello.py", {{"name", "dropped"}}, {});
    EXPECT_TRUE(proxy_->cut());  // the config read was the command cut
    ASSERT_EQ(e["status"], core::status::kSucceeded) << e.dump(2);
    EXPECT_EQ(e["result"]["result"], Json({{"greeting", "Hello, dropped!"}, {"config_x", 7}}));
}

/// The runner's claim (`scheduled → running`) is applied, and the connection is lost before its answer arrives (Redis
/// killed right after the write, as in the chaos test): the runner claims again, finds the execution its own and
/// runs it. Before, the request was left pending, found `running` (claimed by this live runner) at its redelivery,
/// skipped, and the execution stayed `running` forever without having run.
class ContainerClaimDropTest : public ContainerConfigRedisTest {
protected:
    void SetUp() override { StartContainer(Cut::kClaimAnswer); }
};

TEST_F(ContainerClaimDropTest, AClaimWhoseAnswerIsLostIsRunOnce) {
    // The transition script in Redis's cache first: the runner's first claim is applied (EVALSHA), not answered
    // NOSCRIPT and sent again.
    (void)store_->TransitionBlocking("no-such-execution", core::status::kRunning, {});  // kNotFound, script cached
    squall::test::TempDir tmp;
    const std::string ran = (tmp.path() / "ran").string();
    CreateShell("claim-once", "echo x >> " + ran);
    Json execution = WaitForEnd("claim-once");
    EXPECT_TRUE(proxy_->cut());  // the claim was the command whose answer was lost
    EXPECT_EQ(execution.value("status", ""), core::status::kSucceeded) << execution.dump(2);
    Result<core::RedisReply> owner =
        client_->CommandBlocking({"HGET", store_->keys().Execution("claim-once"), "runner_id"});
    ASSERT_TRUE(owner);
    EXPECT_EQ(owner->str, "test-runner");
    std::ifstream in(ran);
    const std::string lines((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(lines, "x\n");  // run once
}

/// What a runner finds when a request comes back (a redelivery) for an execution it claimed without running it,
/// the claim's answer lost and every claim again failed too: the execution is `running` or `canceling` with this
/// runner as its owner. The container starts once Redis holds that state and the request.
class ContainerRedeliveryTest : public ContainerConfigRedisTest {
protected:
    void SetUp() override { StartContainer(Cut::kNone, false); }

    /// A shell execution whose command appends to `ran`, claimed by "test-runner" and then moved to `status`.
    void Prepare(const std::string& id, const std::string& ran, const std::string& status) {
        CreateShell(id, "echo x >> " + ran);
        Result<executions::TransitionResult> claimed =
            store_->TransitionBlocking(id, core::status::kRunning, {{"runner_id", "test-runner"}});
        ASSERT_TRUE(claimed && claimed->applied) << (claimed ? claimed->previous : claimed.error().message);
        if (status != core::status::kRunning) {
            Result<executions::TransitionResult> moved = store_->TransitionBlocking(id, status, {});
            ASSERT_TRUE(moved && moved->applied);
        }
    }
};

TEST_F(ContainerRedeliveryTest, ARunningExecutionOfThisRunnerNotRunHereIsRun) {
    squall::test::TempDir tmp;
    const std::string ran = (tmp.path() / "ran").string();
    Prepare("redelivered-running", ran, core::status::kRunning);
    container_->Start();
    Json e = WaitForEnd("redelivered-running");
    EXPECT_EQ(e.value("status", ""), core::status::kSucceeded) << e.dump(2);
    std::ifstream in(ran);
    const std::string lines((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(lines, "x\n");
}

TEST_F(ContainerRedeliveryTest, ACancelingExecutionOfThisRunnerNotRunHereEndsCanceledWithoutRunning) {
    squall::test::TempDir tmp;
    const std::string ran = (tmp.path() / "ran").string();
    Prepare("redelivered-canceling", ran, core::status::kCanceling);
    container_->Start();
    Json e = WaitForEnd("redelivered-canceling");
    EXPECT_EQ(e.value("status", ""), core::status::kCanceled) << e.dump(2);
    EXPECT_FALSE(std::filesystem::exists(ran));  // never ran
}

}  // namespace
}  // namespace squall::actionrunners
