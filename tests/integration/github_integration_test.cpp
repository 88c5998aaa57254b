// POST /api/v1/webhooks/github end to end (issue 13 item 1, SPEC §3.2): the real binary, redis-server and HTTP on
// 127.0.0.1, with GitHub's own payloads and signature vectors (tests/fixtures/github/).
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

const std::string kSecret = "s3cret-for-tests";

std::string Sign(const std::string& secret, const std::string& body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(
        EVP_sha256(),
        secret.data(),
        static_cast<int>(secret.size()),
        reinterpret_cast<const unsigned char*>(body.data()),  // NOLINT
        body.size(),
        mac,
        &len
    );
    static const char* kDigits = "0123456789abcdef";
    std::string hex = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
        hex += kDigits[mac[i] >> 4];
        hex += kDigits[mac[i] & 0xf];
    }
    return hex;
}

void WriteConfig(const std::string& data_dir, const std::string& secret) {
    std::filesystem::create_directories(data_dir + "/configs");
    std::ofstream(data_dir + "/configs/github.yaml") << "---\nwebhook_secret: \"" << secret << "\"\n";
}

struct Delivery {
    std::string event;
    std::string id;
    std::string body;
    std::string signature;
    std::string content_type = "application/json";
};

httplib::Result PostGitHub(const SquallProcess& server, const Delivery& d) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(60, 0);
    c.set_write_timeout(60, 0);
    httplib::Headers h = {{"User-Agent", "GitHub-Hookshot/044aadd"}};
    if (!d.event.empty()) h.emplace("X-GitHub-Event", d.event);
    if (!d.id.empty()) h.emplace("X-GitHub-Delivery", d.id);
    if (!d.signature.empty()) h.emplace("X-Hub-Signature-256", d.signature);
    return c.Post("/api/v1/webhooks/github", h, d.body, d.content_type.c_str());
}

Json Get(const SquallProcess& server, const std::string& path) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", server.api_key()}});
    if (!r || r->status != 200) return nullptr;
    return Json::parse(r->body, nullptr, false);
}

size_t InstanceCount(const SquallProcess& server) {
    httplib::Client c(server.host(), server.port());
    // The newest instance comes with the page: after the 25 MB delivery an ASan build on a busy machine took more than
    // httplib's default 5 s to answer it.
    c.set_read_timeout(60, 0);
    auto r = c.Get("/api/v1/triggerinstances?limit=1", {{"St2-Api-Key", server.api_key()}});
    if (!r || r->status != 200) return SIZE_MAX;
    return std::stoul(r->get_header_value("X-Total-Count"));
}

class GitHubWebhookTest : public ::testing::Test {
protected:
    SquallProcess::Options Options(const std::string& name, const std::string& secret = kSecret) {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / name).string();
        if (!secret.empty()) WriteConfig(o.data_dir, secret);
        return o;
    }
    TempDir dir_;
};

TEST_F(GitHubWebhookTest, EveryGitHubPayloadBecomesItsTrigger) {
    SquallProcess server(Options("d"));
    int n = 0;
    const std::vector<std::string> fixtures = GitHubPayloadFixtures();  // every payload in the folder
    for (const auto& file : fixtures) {
        const std::string body = ReadFixture("github/" + file);
        const std::string event = file.substr(0, file.find('.'));
        Delivery d{event, "delivery-" + std::to_string(n++), body, Sign(kSecret, body)};
        auto r = PostGitHub(server, d);
        ASSERT_TRUE(r) << file;
        ASSERT_EQ(r->status, event == "ping" ? 200 : 202) << file << ": " << r->body;
        const Json answer = Json::parse(r->body);
        EXPECT_EQ(answer["trigger"], "github." + event);
        const Json ti = Get(server, "/triggerinstances/" + answer["id"].get<std::string>());
        ASSERT_TRUE(ti.is_object()) << file;
        EXPECT_EQ(ti["trigger"], "github." + event);
        EXPECT_EQ(ti["payload"]["event"], event);
        EXPECT_EQ(ti["payload"]["delivery"], d.id);
        EXPECT_EQ(ti["payload"]["body"], Json::parse(body)) << file;
        EXPECT_EQ(ti["payload"]["headers"]["X-Github-Event"], event);
        EXPECT_EQ(ti["payload"]["headers"]["User-Agent"], "GitHub-Hookshot/044aadd");
    }
    EXPECT_EQ(InstanceCount(server), fixtures.size());
    // An event without a trigger type of its own arrives as github.event.
    const std::string body = R"({"action": "created", "deployment_status": {"state": "success"}})";
    auto r = PostGitHub(server, {"deployment_status", "delivery-x", body, Sign(kSecret, body)});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_EQ(Json::parse(r->body)["trigger"], "github.event");
    // A hook configured for form posts sends payload=<json>; the signature covers the form text.
    const std::string form = "payload=" + httplib::detail::encode_query_param(ReadFixture("github/create.json"));
    r = PostGitHub(server, {"create", "delivery-form", form, Sign(kSecret, form), "application/x-www-form-urlencoded"});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    const Json ti = Get(server, "/triggerinstances/" + Json::parse(r->body)["id"].get<std::string>());
    EXPECT_EQ(ti["payload"]["body"], Json::parse(ReadFixture("github/create.json")));
    // The secret appears nowhere: not in the config API, not in what was stored, not in the log.
    EXPECT_EQ(Get(server, "/configs/github")["values"]["webhook_secret"], "********");
    EXPECT_EQ(Get(server, "/triggerinstances?limit=100").dump().find(kSecret), std::string::npos);
    EXPECT_EQ(server.Output().find(kSecret), std::string::npos);
}

TEST_F(GitHubWebhookTest, SignatureVectorsAndEveryWayASignatureFails) {
    SquallProcess server(Options("d"));
    const Json vectors = Json::parse(ReadFixture("github/signature-vectors.json"));
    httplib::Client c(server.host(), server.port());
    auto set_secret = [&](const std::string& secret) {
        auto r = c.Put(
            "/api/v1/configs/github",
            {{"St2-Api-Key", server.api_key()}},
            Json{{"webhook_secret", secret}}.dump(),
            "application/json"
        );
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
    };
    int n = 0;
    for (const auto& v : vectors["computed_over_fixture_files"]) {
        set_secret(v["secret"]);
        const std::string body = ReadFixture("github/" + v["file"].get<std::string>());
        Delivery good{v["x_github_event"], "vector-" + std::to_string(n++), body, v["x_hub_signature_256"]};
        auto r = PostGitHub(server, good);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, good.event == "ping" ? 200 : 202) << v["file"] << ": " << r->body;
    }
    const size_t stored = InstanceCount(server);
    EXPECT_EQ(stored, 3u);

    // The documented vector: the signature passes (the body "Hello, World!" is then refused as not JSON: 400, not
    // 401); the negative vectors do not.
    const Json doc = vectors["documented"][0];
    for (const auto& neg : vectors["negative"]) {
        set_secret(neg["secret"]);
        auto refused = PostGitHub(server, {"push", "neg", neg["payload"], doc["x_hub_signature_256"]});
        ASSERT_TRUE(refused);
        EXPECT_EQ(refused->status, 401) << neg["why"];
    }
    set_secret(doc["secret"]);
    auto r = PostGitHub(server, {"push", "doc-1", doc["payload"], doc["x_hub_signature_256"]});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("request body"), std::string::npos) << r->body;

    set_secret(kSecret);
    const std::string body = ReadFixture("github/push.branch-created.json");
    const std::string sig = Sign(kSecret, body);
    struct Case {
        const char* what;
        Delivery delivery;
        const char* message;
    };
    std::string altered = body;
    altered[altered.size() / 2] = static_cast<char>(altered[altered.size() / 2] ^ 0x01);
    std::string sha1 =
        "sha1=" + vectors["computed_over_fixture_files"][1]["x_hub_signature"].get<std::string>().substr(5);
    const std::vector<Case> cases = {
        {"missing", {"push", "bad-1", body, ""}, "X-Hub-Signature-256 is missing"},
        {"wrong algorithm", {"push", "bad-2", body, sha1}, "no other algorithm"},
        {"one byte altered", {"push", "bad-3", altered, sig}, "does not match"},
        {"wrong secret", {"push", "bad-4", body, Sign(kSecret + "!", body)}, "does not match"},
        {"truncated", {"push", "bad-5", body, sig.substr(0, sig.size() - 1)}, "does not match"},
    };
    for (const auto& k : cases) {
        r = PostGitHub(server, k.delivery);
        ASSERT_TRUE(r) << k.what;
        EXPECT_EQ(r->status, 401) << k.what << ": " << r->body;
        EXPECT_NE(r->body.find(k.message), std::string::npos) << k.what << ": " << r->body;
    }
    EXPECT_EQ(InstanceCount(server), stored) << "a refused delivery created a trigger instance";
    // The same body, correctly signed, passes.
    r = PostGitHub(server, {"push", "good", body, sig});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
}

TEST_F(GitHubWebhookTest, WithoutASecretEveryDeliveryIsRefused) {
    SquallProcess server(Options("d", ""));
    const std::string body = ReadFixture("github/ping.json");
    auto r = PostGitHub(server, {"ping", "p-1", body, Sign("", body)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_NE(r->body.find("no webhook_secret"), std::string::npos) << r->body;
    EXPECT_EQ(InstanceCount(server), 0u);
}

TEST_F(GitHubWebhookTest, ARedeliveryIsAcknowledgedAsDuplicateAndCreatesNothing) {
    SquallProcess server(Options("d"));
    const std::string body = ReadFixture("github/issues.opened.json");
    const Delivery d{"issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, Sign(kSecret, body)};
    auto first = PostGitHub(server, d);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 202) << first->body;
    auto again = PostGitHub(server, d);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
    const Json answer = Json::parse(again->body);
    EXPECT_EQ(answer["duplicate"], true);
    EXPECT_EQ(answer["id"], Json::parse(first->body)["id"]);
    EXPECT_EQ(InstanceCount(server), 1u);
}

TEST_F(GitHubWebhookTest, CopiesArrivingAtTwoApiProcessesAtOnceAreStoredOnce) {
    RedisServer redis;
    SquallProcess::Options a = Options("a"), b = Options("b");
    for (auto* o : {&a, &b}) {
        o->redis_url = "unix://" + redis.socket_path();
        o->extra_args = {"--roles", "api"};
    }
    SquallProcess one(a);
    SquallProcess two(b);
    const std::string body = ReadFixture("github/push.branch-updated.json");
    constexpr int kDeliveries = 12;
    for (int i = 0; i < kDeliveries; ++i) {
        const Delivery d{"push", "concurrent-" + std::to_string(i), body, Sign(kSecret, body)};
        auto to_one = std::async(std::launch::async, [&] { return PostGitHub(one, d); });
        auto to_two = std::async(std::launch::async, [&] { return PostGitHub(two, d); });
        auto r1 = to_one.get();
        auto r2 = to_two.get();
        ASSERT_TRUE(r1 && r2);
        std::multiset<int> statuses = {r1->status, r2->status};
        EXPECT_EQ(statuses, (std::multiset<int>{200, 202})) << r1->body << " / " << r2->body;
        const Json dup = Json::parse(r1->status == 200 ? r1->body : r2->body);
        EXPECT_EQ(dup["duplicate"], true);
    }
    EXPECT_EQ(InstanceCount(one), static_cast<size_t>(kDeliveries));
}

TEST_F(GitHubWebhookTest, TwentyFiveMegabytesAreAcceptedAndMoreIs413) {
    SquallProcess::Options o = Options("d");
    o.extra_args = {"--roles", "api"};
    SquallProcess server(o);
    constexpr size_t kMax = 25 * 1024 * 1024;
    const std::string head = R"({"zen": "Keep it logically awesome.", "hook_id": 1, "pad": ")";
    const std::string tail = "\"}";
    std::string body = head + std::string(kMax - head.size() - tail.size(), 'x') + tail;
    ASSERT_EQ(body.size(), kMax);
    auto r = PostGitHub(server, {"ping", "big-1", body, Sign(kSecret, body)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body.substr(0, 300);
    body.insert(head.size(), "y");
    r = PostGitHub(server, {"ping", "big-2", body, Sign(kSecret, body)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(InstanceCount(server), 1u);
}

}  // namespace
}  // namespace squall::test
