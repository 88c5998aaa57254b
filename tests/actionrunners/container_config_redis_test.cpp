#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "runner_harness.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/content_store.hpp"
#include "wait.hpp"

namespace squall::actionrunners {
namespace {

/// The runner container hands an action its pack config (Keys::Configs) and masks the config's secret values
/// (Keys::ConfigSecrets) and the API key in what the run produces.
class ContainerConfigRedisTest : public ::testing::Test {
protected:
    void SetUp() override {
        client_ = core::RedisClient::Create(io_.io(), server_.Endpoint("cfg"));
        store_ = std::make_unique<executions::ExecutionStore>(client_, core::SystemClock());
        keys_ = std::make_unique<packs::ContentKeys>(client_->endpoint().key_prefix);
        RegisterBuiltinRunners(registry_);
        RunnerContainerOptions o;
        o.consumer_name = "test-runner";
        o.api_url = "http://127.0.0.1:9/api/v1";
        o.action_token_key = "container-token-key";
        container_ = std::make_unique<RunnerContainer>(io_.io(), client_, registry_, o, core::SystemClock());
        container_->Start();
    }
    void TearDown() override {
        bool stopped = false;
        std::mutex mu;
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
        client_->Close();
        client_.reset();
        io_.Drain();
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
        Json execution;
        EXPECT_TRUE(squall::test::WaitFor(
            [&] {
                Result<Json> got = store_->GetBlocking(*id);
                if (!got) return false;
                execution = *got;
                return core::status::IsCompleted(execution.value("status", ""));
            },
            std::chrono::seconds(60)
        )) << execution.dump(2);
        return execution;
    }

    squall::test::RedisServer server_;
    squall::test::IoRunner io_{2};
    core::RedisClientPtr client_;
    std::unique_ptr<executions::ExecutionStore> store_;
    std::unique_ptr<packs::ContentKeys> keys_;
    RunnerRegistry registry_;
    std::unique_ptr<RunnerContainer> container_;
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

}  // namespace
}  // namespace squall::actionrunners
