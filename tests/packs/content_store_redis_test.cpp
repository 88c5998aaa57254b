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

// The server's start registers its packs with keep_api_edits: a rule disabled through the API stays disabled (as
// StackStorm's database state survives a restart); a rule whose file changed since, or an explicit register
// (`pack register`, StackStorm's `st2ctl reload`), is registered from its file.
TEST_F(ContentStoreTest, AStartKeepsWhatTheApiChangedInARuleWhoseFileIsUnchanged) {
    ContentStore store(client_);
    LoadedPack pack = Load();
    ASSERT_TRUE(store.RegisterPackBlocking(pack));
    ASSERT_FALSE(pack.rules.empty());
    const std::string ref = pack.rules[0].Ref();
    const auto enabled = [&] { return store.LoadBlocking().value()->rules.at(ref).enabled; };
    const auto disable = [&](RuleMeta rule) {
        rule.enabled = false;
        ASSERT_TRUE(store.PutRuleBlocking(rule, false));
        ASSERT_FALSE(enabled());
    };
    disable(pack.rules[0]);
    ASSERT_TRUE(store.RegisterPackBlocking(Load(), false, nullptr, /*keep_api_edits=*/true));
    EXPECT_FALSE(enabled());
    EXPECT_EQ(store.LoadBlocking().value()->rules.size(), 2u);

    LoadedPack changed = Load();
    changed.rules[0].description = "changed on disk";
    ASSERT_TRUE(store.RegisterPackBlocking(changed, false, nullptr, /*keep_api_edits=*/true));
    EXPECT_TRUE(enabled());
    EXPECT_EQ(store.LoadBlocking().value()->rules.at(ref).description, "changed on disk");

    disable(changed.rules[0]);
    ASSERT_TRUE(store.RegisterPackBlocking(changed));
    EXPECT_TRUE(enabled());
}

// A pack rule deleted through the API (`st2 rule delete`) stays deleted across a restart while its file is unchanged,
// as in StackStorm, where only `st2ctl reload` brings it back; a changed file or an explicit register does. A pack
// removed and found again at a start (a bundled folder) comes back whole.
TEST_F(ContentStoreTest, AStartKeepsARuleDeletedThroughTheApiDeleted) {
    ContentStore store(client_);
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    const std::string ref = Load().rules[0].Ref();
    const auto has_rule = [&] { return store.LoadBlocking().value()->rules.count(ref) == 1; };
    ASSERT_TRUE(has_rule());
    ASSERT_TRUE(store.DeleteRuleBlocking(ref));
    ASSERT_TRUE(store.RegisterPackBlocking(Load(), false, nullptr, /*keep_api_edits=*/true));
    EXPECT_FALSE(has_rule());
    EXPECT_EQ(store.LoadBlocking().value()->rules.size(), 1u);

    LoadedPack changed = Load();
    changed.rules[0].description = "changed on disk";
    ASSERT_TRUE(store.RegisterPackBlocking(changed, false, nullptr, /*keep_api_edits=*/true));
    EXPECT_TRUE(has_rule());

    ASSERT_TRUE(store.DeleteRuleBlocking(ref));
    ASSERT_TRUE(store.RegisterPackBlocking(changed));
    EXPECT_TRUE(has_rule());

    ASSERT_TRUE(store.UnregisterPackBlocking(changed.meta.ref));
    EXPECT_FALSE(has_rule());
    ASSERT_TRUE(store.RegisterPackBlocking(changed, false, nullptr, /*keep_api_edits=*/true));
    EXPECT_TRUE(has_rule());
    EXPECT_EQ(store.LoadBlocking().value()->rules.size(), 2u);
    EXPECT_FALSE(store.LoadBlocking().value()->actions.empty());
}

TEST_F(ContentStoreTest, ReRegisteringReplacesContentAndConfigChangesBumpTheVersion) {
    ContentStore store(client_);
    ASSERT_TRUE(store.RegisterPackBlocking(Load()));
    const int64_t v1 = store.LoadBlocking().value()->version;

    LoadedPack smaller = Load();
    smaller.aliases.clear();
    smaller.policies.pop_back();
    const Json stored_config = store.LoadBlocking().value()->configs.at("full");
    smaller.config.reset();
    // A rejected config file keeps the stored config, as StackStorm keeps the last valid one.
    smaller.config_fallback = PackConfig{Json{{"greeting", "default"}}, {}};
    smaller.errors.push_back(InvalidArgument("configs/full.yaml:1:1: broken"));
    ASSERT_TRUE(store.RegisterPackBlocking(smaller));
    ContentSnapshotPtr s = store.LoadBlocking().value();
    EXPECT_GT(s->version, v1);
    EXPECT_TRUE(s->aliases.empty());
    EXPECT_EQ(s->policies.size(), 2u);
    EXPECT_EQ(s->configs.at("full"), stored_config);
    EXPECT_EQ(s->packs.at("full")["load_errors"].size(), 1u);
    // With nothing stored, the rejected file leaves the schema's defaults.
    LoadedPack dropped = Load();
    dropped.config.reset();
    dropped.drop_config = true;
    ASSERT_TRUE(store.RegisterPackBlocking(dropped));
    EXPECT_FALSE(store.LoadBlocking().value()->configs.count("full"));
    ASSERT_TRUE(store.RegisterPackBlocking(smaller));
    s = store.LoadBlocking().value();
    EXPECT_EQ(s->configs.at("full"), (Json{{"greeting", "default"}}));

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

namespace squall::packs {
namespace {

ActionMeta Action(
    const std::string& pack, const std::string& name, const std::string& runner, const std::string& path
) {
    ActionMeta a;
    a.pack = pack;
    a.name = name;
    a.runner_type = runner;
    a.metadata_file = "actions/" + name + ".yaml";
    a.pack_path = path;
    return a;
}

LoadedPack SystemPack(const std::string& path, std::vector<ActionMeta> actions) {
    LoadedPack p;
    p.meta.ref = "core";
    p.meta.name = "core";
    p.meta.version = path == "/bundled/core" ? "3.0.0" : "3.8.1";
    p.meta.path = path;
    p.actions = std::move(actions);
    return p;
}

// A system pack registered from the bundled folder and merged with an installed copy at every start: what the API
// changed in either's actions stays, start after start (each folder keeps its own digests).
TEST_F(ContentStoreTest, AStartKeepsApiEditsInABundledPackMergedWithAnInstalledCopy) {
    ContentStore store(client_);
    const LoadedPack bundled = SystemPack(
        "/bundled/core",
        {Action("core", "local", "local-shell-cmd", "/bundled/core"), Action("core", "noop", "noop", "/bundled/core")}
    );
    const LoadedPack installed = SystemPack(
        "/data/packs/core",
        {Action("core", "local", "python-script", "/data/packs/core"),
         Action("core", "sendmail", "local-shell-script", "/data/packs/core")}
    );
    const auto start = [&] {
        ASSERT_TRUE(store.RegisterPackBlocking(bundled, /*bundled=*/true, nullptr, /*keep_api_edits=*/true));
        ASSERT_TRUE(store.RegisterPackBlocking(installed, false, nullptr, /*keep_api_edits=*/true));
    };
    start();
    ASSERT_TRUE(store.SetActionEnabledBlocking("core.noop", false));
    ASSERT_TRUE(store.SetActionEnabledBlocking("core.sendmail", false));
    ASSERT_TRUE(store.SetActionEnabledBlocking("core.local", false));  // in both folders: the built-in is registered
    EXPECT_EQ(store.SetActionEnabledBlocking("core.nope", false).error().code, ErrorCode::kNotFound);
    for (int restart = 0; restart < 2; ++restart) {
        start();
        ContentSnapshotPtr s = store.LoadBlocking().value();
        EXPECT_EQ(s->actions.at("core.noop")["enabled"], false) << restart;
        EXPECT_EQ(s->actions.at("core.sendmail")["enabled"], false) << restart;
        EXPECT_EQ(s->actions.at("core.local")["enabled"], false) << restart;
        EXPECT_EQ(s->actions.at("core.local")["runner_type"], "local-shell-cmd");  // the built-in still wins
    }
    // An explicit register of the installed copy makes its files win for what it registers.
    ASSERT_TRUE(store.RegisterPackBlocking(installed));
    EXPECT_NE(store.LoadBlocking().value()->actions.at("core.sendmail").value("enabled", true), false);
}

// A system pack bundled with the server is merged with, never replaced by, an installed pack of the same name; the
// bundled folder registered again keeps what was merged in; unregistering goes back to the built-in content.
TEST_F(ContentStoreTest, AnInstalledSystemPackIsMergedIntoTheBundledOne) {
    ContentStore store(client_);
    EXPECT_TRUE(IsSystemPack("core") && IsSystemPack("packs") && IsSystemPack("chatops") && !IsSystemPack("examples"));
    const LoadedPack bundled = SystemPack(
        "/bundled/core",
        {Action("core", "local", "local-shell-cmd", "/bundled/core"), Action("core", "noop", "noop", "/bundled/core")}
    );
    ASSERT_TRUE(store.RegisterPackBlocking(bundled, /*bundled=*/true));
    LoadedPack installed = SystemPack(
        "/data/packs/core",
        {Action("core", "local", "python-script", "/data/packs/core"),
         Action("core", "sendmail", "local-shell-script", "/data/packs/core"),
         Action("core", "winrm_cmd", "winrm-cmd", "/data/packs/core")}
    );
    installed.actions[2].unavailable = "runner \"winrm-cmd\" is not available on this server";
    std::vector<std::string> warnings;
    ASSERT_TRUE(store.RegisterPackBlocking(installed, false, &warnings));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(
        warnings[0],
        "core/actions/local.yaml: \"core.local\" is built into Squall's \"core\" pack, which keeps its own: this "
        "definition is not registered"
    );
    ContentSnapshotPtr s = store.LoadBlocking().value();
    ASSERT_EQ(s->actions.size(), 4u);
    EXPECT_EQ(s->actions.at("core.local")["runner_type"], "local-shell-cmd");  // the built-in wins
    EXPECT_EQ(s->actions.at("core.local")["pack_path"], "/bundled/core");
    EXPECT_EQ(s->actions.at("core.sendmail")["pack_path"], "/data/packs/core");
    EXPECT_EQ(s->actions.at("core.winrm_cmd")["unavailable"], "runner \"winrm-cmd\" is not available on this server");
    const Json& pack = s->packs.at("core");
    EXPECT_EQ(pack["version"], "3.0.0");
    EXPECT_EQ(pack["path"], "/bundled/core");
    EXPECT_EQ(pack["actions"], 4);
    EXPECT_EQ(pack["installed"]["path"], "/data/packs/core");
    EXPECT_EQ(pack["installed"]["version"], "3.8.1");
    EXPECT_EQ(pack["installed"]["content"]["actions"], Json::array({"core.sendmail", "core.winrm_cmd"}));
    EXPECT_EQ(pack["load_warnings"], Json::array({warnings[0]}));

    // Installing again (a newer version without sendmail) replaces only what the install added.
    installed.actions.erase(installed.actions.begin() + 1);
    ASSERT_TRUE(store.RegisterPackBlocking(installed));
    s = store.LoadBlocking().value();
    EXPECT_EQ(s->actions.size(), 3u);
    EXPECT_FALSE(s->actions.count("core.sendmail"));

    // The server starts again: the bundled folder first, with a new built-in that the installed pack also has.
    LoadedPack bundled2 = bundled;
    bundled2.actions.push_back(Action("core", "winrm_cmd", "noop", "/bundled/core"));
    ASSERT_TRUE(store.RegisterPackBlocking(bundled2, /*bundled=*/true));
    s = store.LoadBlocking().value();
    EXPECT_EQ(s->actions.size(), 3u);
    EXPECT_EQ(s->actions.at("core.winrm_cmd")["runner_type"], "noop");
    EXPECT_FALSE(s->packs.at("core").contains("installed"));
    bundled2.actions.pop_back();
    ASSERT_TRUE(store.RegisterPackBlocking(bundled2, /*bundled=*/true));
    ASSERT_TRUE(store.RegisterPackBlocking(installed));
    s = store.LoadBlocking().value();
    EXPECT_EQ(s->actions.at("core.winrm_cmd")["runner_type"], "winrm-cmd");
    // The bundled folder registered again (POST /packs/register) keeps the merged content.
    ASSERT_TRUE(store.RegisterPackBlocking(bundled2));
    s = store.LoadBlocking().value();
    EXPECT_EQ(s->actions.size(), 3u);
    EXPECT_EQ(s->packs.at("core")["installed"]["content"]["actions"], Json::array({"core.winrm_cmd"}));

    // Uninstalling the installed pack leaves the built-in content.
    ASSERT_TRUE(store.UnregisterPackBlocking("core"));
    s = store.LoadBlocking().value();
    ASSERT_EQ(s->actions.size(), 2u);
    EXPECT_EQ(s->actions.at("core.local")["runner_type"], "local-shell-cmd");
    EXPECT_TRUE(s->packs.count("core"));
    EXPECT_FALSE(s->packs.at("core").contains("installed"));
    EXPECT_EQ(s->packs.at("core")["actions"], 2);

    // Any other pack is replaced as before.
    LoadedPack other = SystemPack("/data/packs/examples", {Action("examples", "a", "noop", "/x")});
    other.meta.ref = "examples";
    ASSERT_TRUE(store.RegisterPackBlocking(other));
    other.actions[0].name = "b";
    ASSERT_TRUE(store.RegisterPackBlocking(other));
    s = store.LoadBlocking().value();
    EXPECT_TRUE(s->actions.count("examples.b"));
    EXPECT_FALSE(s->actions.count("examples.a"));
}

}  // namespace
}  // namespace squall::packs
