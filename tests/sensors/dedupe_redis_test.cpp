// Delivery dedupe against a real redis-server (issue 13 items 1 and 2): the same delivery, sent again or by many
// threads at once, is stored once.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/sensors/sensor.hpp"

namespace squall::sensors {
namespace {

using namespace std::chrono_literals;

class DedupeTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(runner_.io(), server_.Endpoint("dedupe"));
        content_ = std::make_unique<packs::ContentStore>(client_);
        packs::PackLoader loader;
        Result<packs::LoadedPack> core_pack =
            loader.LoadPackBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled/core");
        ASSERT_TRUE(core_pack);
        ASSERT_TRUE(content_->RegisterPackBlocking(*core_pack));
        packs::RuleMeta rule;
        rule.name = "hook";
        rule.pack = "t";
        rule.trigger_type = "core.st2.webhook";
        rule.trigger_parameters = {{"url", "deploy"}};
        rule.action_ref = "core.noop";
        ASSERT_TRUE(content_->PutRuleBlocking(rule, false));
        triggers_ = std::make_unique<core::TriggerStore>(client_, clock_);
        cache_ = std::make_unique<packs::ContentCache>(*content_, clock_, 0ms);
        ctx_ = std::make_unique<SensorContext>(SensorContext{*triggers_, *cache_, client_, "test"});
        webhooks_ = std::make_unique<WebhookSensor>(*ctx_);
    }
    void TearDown() override {
        webhooks_.reset();
        ctx_.reset();
        cache_.reset();
        triggers_.reset();
        content_.reset();
        client_.reset();
        runner_.Drain();
    }
    size_t StoredInstances() {
        size_t total = 0;
        EXPECT_TRUE(triggers_->ListBlocking(0, 1, &total));
        return total;
    }

    test::RedisServer server_;
    test::IoRunner runner_{2};
    core::RealClock clock_;
    core::RedisClientPtr client_;
    std::unique_ptr<packs::ContentStore> content_;
    std::unique_ptr<core::TriggerStore> triggers_;
    std::unique_ptr<packs::ContentCache> cache_;
    std::unique_ptr<SensorContext> ctx_;
    std::unique_ptr<WebhookSensor> webhooks_;
};

TEST_F(DedupeTest, ARepeatedIdempotencyKeyCreatesNothing) {
    Result<Dispatched> first = webhooks_->DispatchBlocking("deploy", Json::object(), {{"v", 1}}, "", "key-1");
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_FALSE(first->duplicate);
    Result<Dispatched> again = webhooks_->DispatchBlocking("deploy", Json::object(), {{"v", 2}}, "", "key-1");
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->instance.id, first->instance.id);
    EXPECT_EQ(StoredInstances(), 1u);
    // Another key, or no key, is another delivery.
    ASSERT_TRUE(webhooks_->DispatchBlocking("deploy", Json::object(), {{"v", 3}}, "", "key-2"));
    ASSERT_TRUE(webhooks_->DispatchBlocking("deploy", Json::object(), {{"v", 4}}, ""));
    ASSERT_TRUE(webhooks_->DispatchBlocking("deploy", Json::object(), {{"v", 4}}, ""));
    EXPECT_EQ(StoredInstances(), 4u);
    // The key is remembered for 24 hours.
    DeliveryDedupe dedupe(client_);
    Result<core::RedisReply> ttl = client_->CommandBlocking({"TTL", dedupe.Key("webhook:deploy", "key-1")});
    ASSERT_TRUE(ttl);
    EXPECT_GT(ttl->integer, 23 * 3600);
    EXPECT_LE(ttl->integer, 24 * 3600);
}

TEST_F(DedupeTest, ConcurrentCopiesOfOneDeliveryAreStoredOnce) {
    constexpr int kCopies = 8;
    std::vector<std::thread> threads;
    std::vector<Result<Dispatched>> results(kCopies, Result<Dispatched>(Internal("not run")));
    for (int i = 0; i < kCopies; ++i) {
        threads.emplace_back([&, i] {
            results[static_cast<size_t>(i)] =
                webhooks_->DispatchBlocking("deploy", Json::object(), {{"copy", i}}, "", "same-delivery");
        });
    }
    for (auto& t : threads) t.join();
    int stored = 0, duplicates = 0;
    for (const auto& r : results) {
        ASSERT_TRUE(r) << r.error().message;
        (r->duplicate ? duplicates : stored) += 1;
    }
    EXPECT_EQ(stored, 1);
    EXPECT_EQ(duplicates, kCopies - 1);
    EXPECT_EQ(StoredInstances(), 1u);
}

TEST_F(DedupeTest, AClaimThatWasGivenUpLetsTheRetryThrough) {
    DeliveryDedupe dedupe(client_);
    const std::string instance_key = triggers_->keys().TriggerInstance(DeliveryInstanceId("github", "g-1"));
    Result<DeliveryDedupe::Claim> claim = dedupe.ClaimBlocking("github", "g-1", instance_key);
    ASSERT_TRUE(claim);
    EXPECT_EQ(*claim, DeliveryDedupe::Claim::kClaimed);
    // While the claim is held, a copy waits and then gives up with 503 rather than answer "duplicate" for an
    // instance that may never be stored.
    Result<DeliveryDedupe::Claim> copy = dedupe.ClaimBlocking("github", "g-1", instance_key);
    ASSERT_FALSE(copy);
    EXPECT_EQ(copy.error().code, ErrorCode::kUnavailable);
    dedupe.ReleaseBlocking("github", "g-1");  // storing failed
    claim = dedupe.ClaimBlocking("github", "g-1", instance_key);
    ASSERT_TRUE(claim);
    EXPECT_EQ(*claim, DeliveryDedupe::Claim::kClaimed);
    ASSERT_TRUE(dedupe.DoneBlocking("github", "g-1", kGitHubDeliveryTtl));
    claim = dedupe.ClaimBlocking("github", "g-1", instance_key);
    ASSERT_TRUE(claim);
    EXPECT_EQ(*claim, DeliveryDedupe::Claim::kDuplicate);
    Result<core::RedisReply> ttl = client_->CommandBlocking({"TTL", dedupe.Key("github", "g-1")});
    ASSERT_TRUE(ttl);
    EXPECT_GT(ttl->integer, 6 * 24 * 3600);  // 7 days (SPEC §3.2)
}

}  // namespace
}  // namespace squall::sensors
