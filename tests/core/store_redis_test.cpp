#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <thread>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/store/store.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = RedisClient::Create(io_, server_.Endpoint("store"));
    }
    void TearDown() override {
        client_.reset();
        runner_.Drain();
    }

    NewExecution Make(const std::string& action, const std::string& dedupe = "") {
        NewExecution e;
        e.request.execution_id = NewId();
        e.request.action_ref = action;
        e.request.runner_type = "noop";
        e.request.parameters = {{"token", "s3cret"}, {"x", 1}};
        e.request.secret_parameters = {"token"};
        e.action = {{"ref", action}, {"runner_type", "noop"}};
        e.masked_parameters = {{"token", "********"}, {"x", 1}};
        e.dedupe_key = dedupe;
        return e;
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    RedisClientPtr client_;
};

TEST_F(StoreTest, CreateStoresRecordAndEnqueuesRequestAtomically) {
    ExecutionStore store(client_);
    NewExecution e = Make("core.noop");
    Result<std::string> id = store.CreateBlocking(e);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, e.request.execution_id);
    Result<Json> got = store.GetBlocking(*id);
    ASSERT_TRUE(got);
    EXPECT_EQ((*got)["status"], "scheduled");
    EXPECT_EQ((*got)["parameters"]["token"], "********");
    EXPECT_EQ((*got)["action"]["ref"], "core.noop");
    ASSERT_EQ((*got)["log"].size(), 2u);
    EXPECT_EQ((*got)["log"][0]["status"], "requested");
    // The request on the stream has the parameters in clear (it is deleted once acknowledged).
    Result<RedisReply> entries =
        client_->CommandBlocking({"XRANGE", store.keys().ExecutionStream("default"), "-", "+"});
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->elements.size(), 1u);
    Json body = Json::parse(entries->elements[0].elements[1].elements[1].str);
    EXPECT_EQ(body["parameters"]["token"], "s3cret");
}

TEST_F(StoreTest, DedupeKeyCreatesOnce) {
    ExecutionStore store(client_);
    Result<std::string> a = store.CreateBlocking(Make("core.noop", "ti1/rule"));
    Result<std::string> b = store.CreateBlocking(Make("core.noop", "ti1/rule"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    Result<RedisReply> len = client_->CommandBlocking({"XLEN", store.keys().ExecutionStream("default")});
    EXPECT_EQ(len->integer, 1);
}

TEST_F(StoreTest, TransitionsAreGuardedByTheCurrentStatus) {
    ExecutionStore store(client_);
    const std::string id = *store.CreateBlocking(Make("core.noop"));
    EXPECT_TRUE(*store.TransitionBlocking(id, "running", {"scheduled"}, {{"runner_id", "r1"}}));
    // A second claim loses: the status is no longer scheduled.
    EXPECT_FALSE(*store.TransitionBlocking(id, "running", {"scheduled"}, {{"runner_id", "r2"}}));
    EXPECT_TRUE(*store.TransitionBlocking(
        id, "succeeded", {"running"}, {{"result", R"({"a":1})"}, {"end_timestamp", "2026-01-01T00:00:01.000000Z"}}
    ));
    Json e = *store.GetBlocking(id);
    EXPECT_EQ(e["status"], "succeeded");
    EXPECT_EQ(e["result"]["a"], 1);
    EXPECT_EQ(e["liveaction"]["runner_info"]["hostname"], "r1");
    ASSERT_EQ(e["log"].size(), 4u);
    EXPECT_EQ(e["log"][3]["status"], "succeeded");
    Result<bool> missing = store.TransitionBlocking("nope", "running", {"scheduled"}, {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    // Status indexes follow.
    size_t total = 0;
    EXPECT_EQ(store.ListBlocking("", "succeeded", 0, 10, &total)->size(), 1u);
    EXPECT_EQ(store.ListBlocking("", "scheduled", 0, 10, &total)->size(), 0u);
}

TEST_F(StoreTest, ListIsNewestFirstWithFiltersAndTotals) {
    ExecutionStore store(client_);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(*store.CreateBlocking(Make(i % 2 ? "core.local" : "core.noop")));
    ASSERT_TRUE(*store.TransitionBlocking(ids[1], "running", {"scheduled"}, {}));
    size_t total = 0;
    Result<std::vector<Json>> all = store.ListBlocking("", "", 0, 3, &total);
    ASSERT_TRUE(all);
    EXPECT_EQ(total, 5u);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0]["id"], ids[4]);
    Result<std::vector<Json>> page2 = store.ListBlocking("", "", 3, 3, &total);
    ASSERT_EQ(page2->size(), 2u);
    EXPECT_EQ((*page2)[1]["id"], ids[0]);
    EXPECT_EQ(store.ListBlocking("core.local", "", 0, 10, &total)->size(), 2u);
    EXPECT_EQ(total, 2u);
    Result<std::vector<Json>> both = store.ListBlocking("core.local", "running", 0, 10, &total);
    ASSERT_EQ(both->size(), 1u);
    EXPECT_EQ((*both)[0]["id"], ids[1]);
}

TEST_F(StoreTest, OutputAndTriggerInstances) {
    ExecutionStore store(client_);
    store.AppendOutput("e1", {R"({"output_type":"stdout","data":"a\n"})", R"({"output_type":"stderr","data":"b\n"})"});
    ASSERT_TRUE(test::WaitFor([&] { return store.OutputBlocking("e1")->size() == 2; }, std::chrono::seconds(5)));
    TriggerStore triggers(client_);
    TriggerInstance ti;
    ti.id = NewId();
    ti.trigger = "core.st2.webhook";
    ti.payload = {{"body", {{"x", 1}}}};
    ti.occurrence_time = FormatIsoTimestamp(std::chrono::system_clock::now());
    ASSERT_TRUE(triggers.EmitBlocking(ti));
    Result<Json> got = triggers.GetBlocking(ti.id);
    ASSERT_TRUE(got);
    EXPECT_EQ((*got)["payload"]["body"]["x"], 1);
    EXPECT_EQ((*got)["status"], "pending");
    size_t total = 0;
    EXPECT_EQ(triggers.ListBlocking(0, 10, &total)->size(), 1u);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", triggers.keys().TriggerStream()})->integer, 1);
}

}  // namespace
}  // namespace squall::core
