// ContentStore with a real redis-server: every content kind of a pack and its config reach the snapshot.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

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
