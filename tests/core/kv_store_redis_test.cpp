#include "squall/core/store/kv_store.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/templates/template.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

using namespace std::chrono_literals;

class KvStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = RedisClient::Create(io_, server_.Endpoint("kv"));
        triggers_.emplace(client_, SystemClock());
        store_.emplace(client_, &box_, clock_, &*triggers_);
    }
    void TearDown() override {
        store_.reset();
        triggers_.reset();
        client_.reset();
        runner_.Drain();
    }

    static SecretBox MakeBox() { return *SecretBox::FromKey(std::string(SecretBox::kKeySize, 'z')); }

    static KeyValuePair Pair(std::string name, std::string value, std::string scope = "system", std::string user = "") {
        KeyValuePair p;
        p.name = std::move(name);
        p.value = std::move(value);
        p.scope = std::move(scope);
        p.user = std::move(user);
        return p;
    }

    int64_t Version() {
        std::promise<Result<int64_t>> p;
        store_->Version([&](Result<int64_t> v) { p.set_value(std::move(v)); });
        Result<int64_t> v = p.get_future().get();
        EXPECT_TRUE(v);
        return v ? *v : -1;
    }

    /// Every stored trigger instance of `trigger`, oldest first.
    std::vector<Json> Emitted(const std::string& trigger) {
        size_t total = 0;
        Result<std::vector<Json>> all = triggers_->ListBlocking(0, 1000, &total);
        EXPECT_TRUE(all);
        std::vector<Json> out;
        for (auto it = all->rbegin(); it != all->rend(); ++it) {
            if ((*it)["trigger"] == trigger) out.push_back((*it)["payload"]);
        }
        return out;
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    RealClock clock_;
    SecretBox box_ = MakeBox();
    RedisClientPtr client_;
    std::optional<TriggerStore> triggers_;
    std::optional<KvStore> store_;
};

TEST_F(KvStoreTest, ScopesKeepSystemAndPerUserKeysApart) {
    ASSERT_TRUE(store_->SetBlocking(Pair("region", "eu")));
    ASSERT_TRUE(store_->SetBlocking(Pair("region", "us", "user", "alice")));
    ASSERT_TRUE(store_->SetBlocking(Pair("region", "ap", "user", "bob")));
    EXPECT_EQ(store_->GetBlocking("system", "", "region")->value, "eu");
    EXPECT_EQ(store_->GetBlocking("user", "alice", "region")->value, "us");
    EXPECT_EQ(store_->GetBlocking("user", "bob", "region")->value, "ap");
    Result<KeyValuePair> missing = store_->GetBlocking("user", "carol", "region");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    EXPECT_NE(missing.error().message.find("\"region\""), std::string::npos) << missing.error().message;
    EXPECT_NE(missing.error().message.find("st2kv.user"), std::string::npos);

    Json api = store_->GetBlocking("user", "alice", "region")->ToApiJson("us", false);
    EXPECT_EQ(api["scope"], "st2kv.user");
    EXPECT_EQ(api["user"], "alice");
    EXPECT_EQ(api["name"], "region");
    EXPECT_EQ(api["uid"], "key_value_pair:st2kv.user:alice:region");

    // "all" is the system keys and the asking user's own.
    Result<std::vector<KeyValuePair>> all = store_->ListBlocking("all", "alice", "");
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].scope, "system");
    EXPECT_EQ((*all)[1].user, "alice");

    // Bad identities name the field.
    Result<KeyValuePair> no_user = store_->SetBlocking(Pair("x", "1", "user", ""));
    ASSERT_FALSE(no_user);
    EXPECT_EQ(no_user.error().message.rfind("user:", 0), 0u) << no_user.error().message;
    Result<KeyValuePair> no_name = store_->SetBlocking(Pair("", "1"));
    ASSERT_FALSE(no_name);
    EXPECT_EQ(no_name.error().message.rfind("name:", 0), 0u);
    EXPECT_FALSE(ParseKvScope("galaxy"));
    EXPECT_EQ(*ParseKvScope("st2kv.user"), "user");
    EXPECT_EQ(*ParseKvScope("all", true), "all");
}

TEST_F(KvStoreTest, ListsByPrefixInNameOrder) {
    for (const char* n : {"app:b", "app:a", "apple", "other", "app:c:d"}) ASSERT_TRUE(store_->SetBlocking(Pair(n, n)));
    Result<std::vector<KeyValuePair>> app = store_->ListBlocking("system", "", "app:");
    ASSERT_TRUE(app);
    std::vector<std::string> names;
    for (const auto& p : *app) names.push_back(p.name);
    EXPECT_EQ(names, (std::vector<std::string>{"app:a", "app:b", "app:c:d"}));
    EXPECT_EQ(store_->ListBlocking("system", "", "")->size(), 5u);
    EXPECT_TRUE(store_->ListBlocking("system", "", "zzz")->empty());
}

TEST_F(KvStoreTest, EveryChangeBumpsTheVersion) {
    const int64_t v0 = Version();
    ASSERT_TRUE(store_->SetBlocking(Pair("a", "1")));
    const int64_t v1 = Version();
    EXPECT_GT(v1, v0);
    ASSERT_TRUE(store_->SetBlocking(Pair("a", "2")));
    const int64_t v2 = Version();
    EXPECT_GT(v2, v1);
    ASSERT_TRUE(store_->DeleteBlocking("system", "", "a"));
    const int64_t v3 = Version();
    EXPECT_GT(v3, v2);
    // Deleting what is not there changes nothing.
    Result<KeyValuePair> again = store_->DeleteBlocking("system", "", "a");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(Version(), v3);
}

TEST_F(KvStoreTest, TtlExpiresTheKeyAndReportsTheExpireTime) {
    KeyValuePair p = Pair("session", "abc");
    p.ttl = 1;
    const auto before = std::chrono::system_clock::now();
    Result<KeyValuePair> stored = store_->SetBlocking(p);
    ASSERT_TRUE(stored);
    EXPECT_GE(stored->expire_us, ToMicros(before) + 1000000);
    Json api = stored->ToApiJson("abc", false);
    EXPECT_EQ(api["ttl"], 1);
    std::chrono::system_clock::time_point at;
    ASSERT_TRUE(ParseIsoTimestamp(api["expire_timestamp"], &at));
    EXPECT_EQ(ToMicros(at), stored->expire_us);
    ASSERT_TRUE(store_->SetBlocking(Pair("keeper", "stays")));

    EXPECT_TRUE(test::WaitFor([&] { return !store_->GetBlocking("system", "", "session"); }, 10s));
    Result<std::vector<KeyValuePair>> left = store_->ListBlocking("system", "", "");
    ASSERT_TRUE(left);
    ASSERT_EQ(left->size(), 1u);
    EXPECT_EQ((*left)[0].name, "keeper");
    // Listings drop the member from the index once Redis has expired the record.
    EXPECT_TRUE(test::WaitFor(
        [&] {
            EXPECT_TRUE(store_->ListBlocking("system", "", ""));
            Result<RedisReply> n = client_->CommandBlocking({"ZCARD", client_->Key("kv:index")});
            return n && n->integer == 1;
        },
        10s
    ));
}

TEST_F(KvStoreTest, SecretsAreEncryptedAtRestAndDecryptOnDemand) {
    KeyValuePair p = Pair("db_password", "hunter2");
    p.secret = true;
    Result<KeyValuePair> stored = store_->SetBlocking(p);
    ASSERT_TRUE(stored);
    EXPECT_TRUE(SecretBox::LooksEncrypted(stored->value));
    Result<RedisReply> raw = client_->CommandBlocking({"GET", client_->Key("kv:system:db_password")});
    ASSERT_TRUE(raw);
    EXPECT_NE(raw->str.find("db_password"), std::string::npos);
    EXPECT_EQ(raw->str.find("hunter2"), std::string::npos) << raw->str;
    Result<KeyValuePair> got = store_->GetBlocking("system", "", "db_password");
    ASSERT_TRUE(got);
    EXPECT_EQ(*store_->ClearValue(*got), "hunter2");

    // Without a key, secrets are refused rather than stored in clear.
    KvStore keyless(client_, nullptr, clock_);
    Result<KeyValuePair> refused = keyless.SetBlocking(p);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

TEST_F(KvStoreTest, ChangesEmitKeyValuePairTriggersWithSecretsMasked) {
    ASSERT_TRUE(store_->SetBlocking(Pair("color", "red")));
    ASSERT_TRUE(store_->SetBlocking(Pair("color", "red")));   // update, same value
    ASSERT_TRUE(store_->SetBlocking(Pair("color", "blue")));  // update + value_change
    KeyValuePair s = Pair("token", "t0p");
    s.secret = true;
    ASSERT_TRUE(store_->SetBlocking(s));
    s.value = "t1p";
    ASSERT_TRUE(store_->SetBlocking(s));
    ASSERT_TRUE(store_->DeleteBlocking("system", "", "color"));

    std::vector<Json> created = Emitted("core.st2.key_value_pair.create");
    ASSERT_EQ(created.size(), 2u);
    EXPECT_EQ(created[0]["object"]["name"], "color");
    EXPECT_EQ(created[0]["object"]["value"], "red");
    EXPECT_EQ(created[1]["object"]["value"], "********");
    EXPECT_EQ(Emitted("core.st2.key_value_pair.update").size(), 3u);
    std::vector<Json> changed = Emitted("core.st2.key_value_pair.value_change");
    ASSERT_EQ(changed.size(), 2u);
    EXPECT_EQ(changed[0]["old_object"]["value"], "red");
    EXPECT_EQ(changed[0]["new_object"]["value"], "blue");
    EXPECT_EQ(changed[1]["new_object"]["value"], "********");
    std::vector<Json> deleted = Emitted("core.st2.key_value_pair.delete");
    ASSERT_EQ(deleted.size(), 1u);
    EXPECT_EQ(deleted[0]["object"]["value"], "blue");
    size_t total = 0;
    Result<std::vector<Json>> all = triggers_->ListBlocking(0, 1000, &total);
    ASSERT_TRUE(all);
    for (const auto& ti : *all) {
        EXPECT_EQ(ti.dump().find("t0p"), std::string::npos);
        EXPECT_EQ(ti.dump().find("t1p"), std::string::npos);
    }
}

TEST_F(KvStoreTest, CacheFeedsTemplatesWithoutBlockingAndRefreshesOnVersionChange) {
    KvCache cache(*store_);
    ASSERT_TRUE(store_->SetBlocking(Pair("greeting", "hello")));
    ASSERT_TRUE(store_->SetBlocking(Pair("greeting", "hi alice", "user", "alice")));
    KeyValuePair s = Pair("api_token", "abc123");
    s.secret = true;
    ASSERT_TRUE(store_->SetBlocking(s));
    ASSERT_TRUE(cache.RefreshBlocking());
    const int64_t loaded = cache.Snapshot()->version;
    EXPECT_EQ(loaded, Version());

    KvLookup alice = cache.LookupFor("alice");
    RenderOptions opts;
    opts.kv = &alice;
    EXPECT_EQ(
        *RenderString("{{ st2kv.system.greeting }} / {{ st2kv.user.greeting }}", Json::object(), opts),
        "hello / hi alice"
    );
    // A secret reads as ciphertext; decrypt_kv opens it (StackStorm semantics).
    Result<std::string> sealed = RenderString("{{ st2kv.system.api_token }}", Json::object(), opts);
    ASSERT_TRUE(sealed);
    EXPECT_TRUE(SecretBox::LooksEncrypted(*sealed));
    EXPECT_EQ(*RenderString("{{ st2kv.system.api_token | decrypt_kv }}", Json::object(), opts), "abc123");
    EXPECT_EQ(*RenderString("{{ st2kv.system.nope | default('none') }}", Json::object(), opts), "none");
    KvLookup bob = cache.LookupFor("bob");
    opts.kv = &bob;
    EXPECT_EQ(*RenderString("[{{ st2kv.user.greeting }}]", Json::object(), opts), "[]");

    // Unchanged version: a refresh keeps the same snapshot object; a change loads a new one.
    KvSnapshotPtr before = cache.Snapshot();
    ASSERT_TRUE(cache.RefreshBlocking());
    EXPECT_EQ(cache.Snapshot(), before);
    ASSERT_TRUE(store_->SetBlocking(Pair("greeting", "bonjour")));
    std::promise<Status> refreshed;
    cache.Refresh([&](Status st) { refreshed.set_value(std::move(st)); });  // the asynchronous form
    ASSERT_TRUE(refreshed.get_future().get());
    EXPECT_GT(cache.Snapshot()->version, loaded);
    KvLookup fresh = cache.LookupFor("alice");
    opts.kv = &fresh;
    EXPECT_EQ(*RenderString("{{ st2kv.system.greeting }}", Json::object(), opts), "bonjour");
    // Lookups made earlier keep reading their own snapshot.
    opts.kv = &alice;
    EXPECT_EQ(*RenderString("{{ st2kv.system.greeting }}", Json::object(), opts), "hello");
}

TEST_F(KvStoreTest, LookupHidesExpiredPairsByTheClock) {
    ManualClock manual(std::chrono::system_clock::now());
    KvStore store(client_, &box_, manual);
    KeyValuePair p = Pair("short", "lived");
    p.ttl = 3600;
    ASSERT_TRUE(store.SetBlocking(p));
    KvCache cache(store);
    ASSERT_TRUE(cache.RefreshBlocking());
    KvLookup lookup = cache.LookupFor("");
    EXPECT_EQ(lookup.Get("system", "short"), std::optional<std::string>("lived"));
    manual.Advance(std::chrono::hours(2));
    EXPECT_EQ(lookup.Get("system", "short"), std::nullopt);
}

}  // namespace
}  // namespace squall::core
