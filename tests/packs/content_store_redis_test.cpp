// ContentStore with a real redis-server: every content kind of a pack and its config reach the snapshot.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "temp_dir.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;

const std::string kFull = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/packs/full";

class ContentStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(io_, server_.Endpoint("content"));
        fs::create_directories(dir_.path() / "configs");
        std::ofstream(dir_.path() / "configs" / "full.yaml") << "---\napi_token: s3cret\nregion: eu\n";
    }
    void TearDown() override {
        client_.reset();
        runner_.Drain();
    }
    LoadedPack Load() {
        PackLoader loader(PackLoaderOptions{(dir_.path() / "configs").string()});
        Result<LoadedPack> p = loader.LoadPackBlocking(kFull);
        EXPECT_TRUE(p) << p.error().What();
        return *p;
    }

    test::TempDir dir_;
    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    core::RedisClientPtr client_;
};

TEST_F(ContentStoreTest, RegisteredPackFillsEverySnapshotMap) {
    ContentStore store(client_);
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    Result<ContentSnapshotPtr> snap = store.LoadBlocking();
    ASSERT_TRUE(snap) << snap.error().message;
    const ContentSnapshot& s = **snap;
    EXPECT_EQ(s.actions.size(), 4u);
    EXPECT_EQ(s.rules.size(), 2u);
    EXPECT_EQ(s.trigger_types.size(), 3u);
    EXPECT_EQ(s.trigger_types.at("full.deployed")["payload_schema"]["required"][0], "version");
    ASSERT_EQ(s.sensors.size(), 2u);
    EXPECT_EQ(s.sensors.at("full.WatcherSensor")["poll_interval"], 30);
    EXPECT_EQ(
        s.sensors.at("full.WatcherSensor")["artifact_uri"],
        "file://" + fs::path(kFull).lexically_normal().string() + "/sensors/watcher.py"
    );
    EXPECT_EQ(s.aliases.at("full.hello")["action_ref"], "full.hello");
    EXPECT_EQ(s.policies.at("full.deploy.retry")["parameters"]["retry_on"], "failure");
    const Json& pack = s.packs.at("full");
    EXPECT_EQ(pack["version"], "1.2.3");
    EXPECT_EQ(pack["load_errors"], Json::array());
    EXPECT_EQ(pack["config_schema"]["port"]["default"], 8443);
    EXPECT_NE(
        std::find(pack["files"].begin(), pack["files"].end(), "actions/workflows/deploy.yaml"), pack["files"].end()
    );
    ASSERT_TRUE(s.configs.count("full"));
    EXPECT_EQ(s.configs.at("full")["api_token"], "s3cret");  // in clear for actions
    EXPECT_EQ(s.configs.at("full")["port"], 8443);
    EXPECT_EQ(s.config_secrets.at("full"), (std::vector<std::string>{"api_token", "auth.password"}));
    Result<Json> ctx = s.ConfigContext("full.hello");
    ASSERT_TRUE(ctx);
    EXPECT_EQ((*ctx)["greeting"], "hello");
    EXPECT_EQ(s.ConfigContext("core.local").value(), Json::object());
}

TEST_F(ContentStoreTest, ReRegisteringReplacesContentAndConfigChangesBumpTheVersion) {
    ContentStore store(client_);
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    const int64_t v1 = store.LoadBlocking().value()->version;

    LoadedPack smaller = Load();
    smaller.aliases.clear();
    smaller.policies.pop_back();
    smaller.config.reset();
    smaller.drop_config = true;  // a rejected config file drops the stored config
    smaller.errors.push_back(InvalidArgument("configs/full.yaml:1:1: broken"));
    ASSERT_TRUE(store.RegisterPackBlocking(smaller));
    ContentSnapshotPtr s = store.LoadBlocking().value();
    EXPECT_GT(s->version, v1);
    EXPECT_TRUE(s->aliases.empty());
    EXPECT_EQ(s->policies.size(), 2u);
    EXPECT_FALSE(s->configs.count("full"));
    EXPECT_EQ(s->packs.at("full")["load_errors"].size(), 1u);

    PackConfig config{Json{{"api_token", "new"}, {"greeting", "hi"}}, {"api_token"}};
    ASSERT_TRUE(store.PutConfigBlocking("full", config));
    ContentSnapshotPtr s2 = store.LoadBlocking().value();
    EXPECT_GT(s2->version, s->version);
    EXPECT_EQ(s2->configs.at("full")["greeting"], "hi");
    EXPECT_EQ(s2->config_secrets.at("full"), std::vector<std::string>{"api_token"});

    // Registering without a configs dir leaves the stored config alone.
    PackLoader plain;
    ASSERT_TRUE(store.RegisterPackBlocking(plain.LoadPackBlocking(kFull).value()));
    EXPECT_EQ(store.LoadBlocking().value()->configs.at("full")["greeting"], "hi");
}

TEST_F(ContentStoreTest, CacheServesItsSnapshotUntilMaxAgeAndRecheckSeesNewContentAtOnce) {
    ContentStore store(client_);
    core::ManualClock clock(std::chrono::system_clock::time_point(std::chrono::hours(1)));
    ContentCache cached(store, clock, std::chrono::milliseconds(1000));
    ContentCache fresh(store, clock, std::chrono::milliseconds(0));
    ASSERT_FALSE(cached.GetBlocking().value()->packs.count("full"));
    ASSERT_FALSE(fresh.GetBlocking().value()->packs.count("full"));

    // Someone else (a runner finishing `pack install`) registers the pack; the caches are not told.
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    EXPECT_FALSE(cached.GetBlocking().value()->packs.count("full"));  // within max_age: the old snapshot
    EXPECT_TRUE(fresh.GetBlocking().value()->packs.count("full"));    // max_age 0: checked every time
    EXPECT_TRUE(cached.RecheckBlocking().value()->actions.count("full.hello"));
    EXPECT_TRUE(cached.GetBlocking().value()->packs.count("full"));
}

}  // namespace
}  // namespace squall::packs

namespace squall::packs {
namespace {

// The set of trigger types enabled rules listen to (what the transition script reads to decide whether the notifier
// has work) changes in the same transaction as every rule.
TEST_F(ContentStoreTest, TheSetOfListenedTriggerTypesFollowsEveryRuleChange) {
    ContentStore store(client_);
    const std::string set = ContentKeys(client_->endpoint().key_prefix).ListenedTriggerTypes();
    auto members = [&]() {
        Result<core::RedisReply> r = client_->CommandBlocking({"SMEMBERS", set});
        std::set<std::string> out;
        for (const auto& m : r->elements) out.insert(m.str);
        return out;
    };
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    EXPECT_EQ(members(), (std::set<std::string>{"full.deployed", "core.st2.webhook"}));

    RuleMeta rule;
    rule.name = "on_finish";
    rule.pack = "ops";
    rule.trigger_type = "core.st2.generic.actiontrigger";
    rule.action_ref = "core.noop";
    ASSERT_TRUE(store.PutRuleBlocking(rule, /*create_only=*/true));
    EXPECT_TRUE(members().count("core.st2.generic.actiontrigger"));
    Status again = store.PutRuleBlocking(rule, /*create_only=*/true);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
    EXPECT_TRUE(members().count("core.st2.generic.actiontrigger"));

    rule.enabled = false;  // a disabled rule listens to nothing
    ASSERT_TRUE(store.PutRuleBlocking(rule, /*create_only=*/false));
    EXPECT_FALSE(members().count("core.st2.generic.actiontrigger"));
    rule.enabled = true;
    ASSERT_TRUE(store.PutRuleBlocking(rule, /*create_only=*/false));
    EXPECT_TRUE(members().count("core.st2.generic.actiontrigger"));
    ASSERT_TRUE(store.DeleteRuleBlocking("ops.on_finish"));
    EXPECT_FALSE(members().count("core.st2.generic.actiontrigger"));
    EXPECT_EQ(store.DeleteRuleBlocking("ops.on_finish").error().code, ErrorCode::kNotFound);

    ASSERT_TRUE(store.UnregisterPackBlocking("full"));
    EXPECT_TRUE(members().empty());

    // Rules that reached Redis without the set (an older version wrote them) count once the command runs again.
    ASSERT_TRUE(client_->CommandBlocking(
        {"HSET",
         ContentKeys(client_->endpoint().key_prefix).Rules(),
         "x.y",
         R"({"enabled": true, "trigger": {"type": "x.t"}})"}
    ));
    EXPECT_TRUE(members().empty());
    ASSERT_TRUE(client_->PipelineBlocking({ContentKeys(client_->endpoint().key_prefix).RulesChangedCommand()}));
    EXPECT_EQ(members(), (std::set<std::string>{"x.t"}));
}

}  // namespace
}  // namespace squall::packs
