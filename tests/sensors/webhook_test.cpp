// GitHub signatures, form bodies and payload validation (issue 13 items 1, 2, 6), on the repository's own copies of
// GitHub's payloads and signature vectors (tests/fixtures/github/).
#include <gtest/gtest.h>

#include "files.hpp"
#include "squall/core/id.hpp"
#include "squall/packs/loader.hpp"
#include "squall/sensors/sensor.hpp"

namespace squall::sensors {
namespace {

using test::ReadFixture;

/// GitHubWebhook::SignatureMatches over owned strings (the vectors are JSON strings).
bool Sig(const std::string& secret, const std::string& body, const std::string& header) {
    return GitHubWebhook::SignatureMatches(secret, body, header);
}

Json Vectors() {
    return Json::parse(ReadFixture("github/signature-vectors.json"));
}

TEST(GitHubSignatureTest, DocumentedVectorVerifies) {
    const Json vectors = Vectors();
    ASSERT_EQ(vectors["documented"].size(), 1u);
    for (const auto& v : vectors["documented"]) {
        const std::string secret = v["secret"], payload = v["payload"], header = v["x_hub_signature_256"];
        EXPECT_TRUE(Sig(secret, payload, header)) << header;
        // Any other algorithm is refused, even with its own correct digest.
        EXPECT_FALSE(Sig(secret, payload, v["x_hub_signature_computed_not_documented"]));
        // Missing, truncated, without its prefix, or of the wrong secret.
        EXPECT_FALSE(Sig(secret, payload, ""));
        EXPECT_FALSE(Sig(secret, payload, header.substr(0, header.size() - 2)));
        EXPECT_FALSE(Sig(secret, payload, header.substr(7)));
        EXPECT_FALSE(Sig(secret + "x", payload, header));
        EXPECT_FALSE(Sig(secret, payload, "sha512=" + header.substr(7)));
        // One byte of the body changed, anywhere.
        for (size_t i = 0; i < payload.size(); ++i) {
            std::string altered = payload;
            altered[i] = static_cast<char>(altered[i] ^ 0x01);
            EXPECT_FALSE(Sig(secret, altered, header)) << "byte " << i;
        }
    }
}

TEST(GitHubSignatureTest, VectorsOverTheFixtureFilesVerify) {
    const Json vectors = Vectors();
    ASSERT_EQ(vectors["computed_over_fixture_files"].size(), 3u);
    for (const auto& v : vectors["computed_over_fixture_files"]) {
        const std::string body = ReadFixture("github/" + v["file"].get<std::string>());
        ASSERT_EQ(body.size(), v["body_bytes"].get<size_t>()) << v["file"];
        ASSERT_EQ(core::Sha256Hex(body), v["body_sha256"]) << v["file"] << " is not the signed copy";
        const std::string secret = v["secret"];
        EXPECT_TRUE(Sig(secret, body, v["x_hub_signature_256"])) << v["file"];
        EXPECT_FALSE(Sig(secret, body, v["x_hub_signature"])) << "sha1 accepted";
        std::string altered = body;
        altered[altered.size() / 2] = static_cast<char>(altered[altered.size() / 2] + 1);
        EXPECT_FALSE(Sig(secret, altered, v["x_hub_signature_256"]));
        EXPECT_FALSE(Sig(secret, body + "\n", v["x_hub_signature_256"]));
    }
}

TEST(GitHubSignatureTest, NegativeVectorsDoNotMatchTheDocumentedSignature) {
    const Json vectors = Vectors();
    const std::string documented = vectors["documented"][0]["x_hub_signature_256"];
    ASSERT_EQ(vectors["negative"].size(), 2u);
    for (const auto& v : vectors["negative"]) {
        EXPECT_FALSE(Sig(v["secret"], v["payload"], documented)) << v["why"];
        EXPECT_TRUE(Sig(v["secret"], v["payload"], v["x_hub_signature_256"])) << v["why"];
    }
}

/// The registered content of the bundled packs (trigger types only), as the sensors see it.
packs::ContentSnapshot BundledTriggerTypes() {
    packs::ContentSnapshot snap;
    snap.version = 1;
    packs::PackLoader loader;
    for (const auto& p : loader.LoadAllBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled")) {
        for (const auto& t : p.trigger_types) snap.trigger_types[t.Ref()] = t.ToJson();
    }
    return snap;
}

TEST(PayloadValidatorTest, EveryGitHubFixtureIsAValidPayloadOfItsTriggerType) {
    const packs::ContentSnapshot snap = BundledTriggerTypes();
    for (const char* event :
         {"push",
          "pull_request",
          "issues",
          "issue_comment",
          "release",
          "ping",
          "create",
          "delete",
          "workflow_run",
          "check_run",
          "event"}) {
        EXPECT_TRUE(snap.trigger_types.count(std::string("github.") + event)) << event;
    }
    PayloadValidator validator;

    for (const std::string& name : test::GitHubPayloadFixtures()) {
        const std::string event = name.substr(0, name.find('.'));
        const Json payload = {
            {"event", event},
            {"delivery", "d-1"},
            {"headers", {{"X-Github-Event", event}}},
            {"body", Json::parse(ReadFixture("github/" + name))}};
        Status st = validator.Validate(snap, "github." + event, payload);
        EXPECT_TRUE(st) << name << ": " << (st ? "" : st.error().message);
        EXPECT_TRUE(validator.Validate(snap, "github.event", payload)) << name;
    }
    EXPECT_EQ(validator.rejected(), 0u);
}

TEST(PayloadValidatorTest, AnInvalidPayloadIsRefusedNamingTheField) {
    const packs::ContentSnapshot snap = BundledTriggerTypes();
    PayloadValidator validator;
    Json payload = {
        {"event", "push"},
        {"delivery", "d-1"},
        {"headers", Json::object()},
        {"body", Json::parse(ReadFixture("github/push.branch-created.json"))}};
    payload["body"]["ref"] = 5;
    Status st = validator.Validate(snap, "github.push", payload);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message.find("payload of trigger \"github.push\""), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("\"payload.body.ref\""), std::string::npos) << st.error().message;
    payload["body"].erase("ref");
    st = validator.Validate(snap, "github.push", payload);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("ref"), std::string::npos) << st.error().message;
    // A webhook body must be an object or an array (core.st2.webhook's schema).
    st = validator.Validate(snap, "core.st2.webhook", {{"headers", Json::object()}, {"body", "text"}});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("\"payload.body\""), std::string::npos) << st.error().message;
    EXPECT_EQ(validator.rejected(), 3u);
    // What timers send is valid (schedule is null, as in StackStorm); unknown trigger types have no schema.
    for (const char* timer : {"core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"}) {
        EXPECT_TRUE(
            validator.Validate(snap, timer, {{"executed_at", "2026-12-05T10:00:00.000000Z"}, {"schedule", nullptr}})
        ) << timer;
    }
    EXPECT_TRUE(validator.Validate(snap, "nobody.knows", {{"x", 1}}));
}

TEST(FormBodyTest, FieldsAreListsOfValuesAsStackStormGivesThem) {
    Result<Json> form = ParseFormUrlEncoded("a=1&b=x+y&a=%C3%A9t%C3%A9&c=&d&e=%26%3D");
    ASSERT_TRUE(form) << form.error().message;
    EXPECT_EQ(*form, (Json{{"a", {"1", "été"}}, {"b", {"x y"}}, {"c", {""}}, {"d", {""}}, {"e", {"&="}}}));
    EXPECT_EQ(*ParseFormUrlEncoded(""), Json::object());
    EXPECT_FALSE(ParseFormUrlEncoded("a=%zz"));
    EXPECT_FALSE(ParseFormUrlEncoded("a=%4"));
    EXPECT_FALSE(ParseFormUrlEncoded("a=%ff"));  // not UTF-8
    EXPECT_TRUE(IsFormContentType("application/x-www-form-urlencoded"));
    EXPECT_TRUE(IsFormContentType("Application/X-WWW-Form-Urlencoded; charset=utf-8"));
    EXPECT_FALSE(IsFormContentType("application/json"));
    EXPECT_FALSE(IsFormContentType(""));
}

TEST(DeliveryIdTest, TheSameDeliveryMakesTheSameInstanceId) {
    const std::string id = DeliveryInstanceId("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    EXPECT_EQ(id.size(), 24u);
    EXPECT_EQ(id, DeliveryInstanceId("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    EXPECT_NE(id, DeliveryInstanceId("github", "72d3162e-cc78-11e3-81ab-4c9367dc0959"));
    EXPECT_NE(id, DeliveryInstanceId("webhook:x", "72d3162e-cc78-11e3-81ab-4c9367dc0958"));
}

}  // namespace
}  // namespace squall::sensors
