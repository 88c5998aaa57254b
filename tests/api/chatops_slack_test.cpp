// Slack request signing, form bodies and command text (api/src/chatops/slack.hpp), against every vector of
// tests/fixtures/slack/signature-vectors.json.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chatops/notifier.hpp"
#include "chatops/slack.hpp"

namespace squall::api::chatops {
namespace {

using core::Json;

const std::string kDir = std::string(SQUALL_FIXTURES_DIR) + "/slack/";

std::string Read(const std::string& name) {
    std::ifstream f(kDir + name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

Json Vectors() {
    return Json::parse(Read("signature-vectors.json"));
}

/// "slash-command.txt + \"\\n\"" is the documented body with an LF appended.
std::string Body(const std::string& spec) {
    const std::string plus = " + \"\\n\"";
    if (spec.size() > plus.size() && spec.substr(spec.size() - plus.size()) == plus)
        return Read(spec.substr(0, spec.size() - plus.size())) + "\n";
    return Read(spec);
}

int64_t Ts(const Json& v) {
    return std::stoll(v["x_slack_request_timestamp"].get<std::string>());
}

TEST(SlackSignatureTest, DocumentedAndComputedVectorsVerify) {
    const Json vectors = Vectors();
    size_t checked = 0;
    for (const char* group : {"documented", "computed"}) {
        for (const Json& v : vectors[group]) {
            const std::string body = Body(v["body_file"]);
            ASSERT_EQ(body.size(), v["body_bytes"].get<size_t>()) << v["body_file"];
            Status s = VerifySlackSignature(
                v["signing_secret"].get<std::string>(),
                v["x_slack_request_timestamp"].get<std::string>(),
                v["x_slack_signature"].get<std::string>(),
                body,
                Ts(v)
            );
            EXPECT_TRUE(s) << v["body_file"] << ": " << s.error().message;
            // Any other secret fails, and so does one changed byte of the body.
            EXPECT_FALSE(VerifySlackSignature(
                "other",
                v["x_slack_request_timestamp"].get<std::string>(),
                v["x_slack_signature"].get<std::string>(),
                body,
                Ts(v)
            ));
            EXPECT_FALSE(VerifySlackSignature(
                v["signing_secret"].get<std::string>(),
                v["x_slack_request_timestamp"].get<std::string>(),
                v["x_slack_signature"].get<std::string>(),
                body + " ",
                Ts(v)
            ));
            ++checked;
        }
    }
    EXPECT_EQ(checked, 4u);
}

TEST(SlackSignatureTest, NegativeVectorsAreRefused) {
    const Json vectors = Vectors();
    ASSERT_EQ(vectors["negative"].size(), 2u);
    for (const Json& v : vectors["negative"]) {
        Status s = VerifySlackSignature(
            v["signing_secret"].get<std::string>(),
            v["x_slack_request_timestamp"].get<std::string>(),
            // The documented signature with this vector's timestamp/body: it must not verify.
            vectors["documented"][0]["x_slack_signature"].get<std::string>(),
            Body(v["body_file"]),
            Ts(v)
        );
        ASSERT_FALSE(s) << v["why"];
        EXPECT_EQ(s.error().code, ErrorCode::kUnauthenticated);
        EXPECT_NE(s.error().message.find("does not match"), std::string::npos) << s.error().message;
        // Their own signatures are right for what they sign.
        EXPECT_TRUE(VerifySlackSignature(
            v["signing_secret"].get<std::string>(),
            v["x_slack_request_timestamp"].get<std::string>(),
            v["x_slack_signature"].get<std::string>(),
            Body(v["body_file"]),
            Ts(v)
        ));
    }
}

TEST(SlackSignatureTest, ReplayWindowIsFiveMinutesEitherWay) {
    const Json vectors = Vectors();
    const Json& doc = vectors["documented"][0];
    const std::string body = Body(doc["body_file"]);
    const Json& window = vectors["replay_window_tests"];
    ASSERT_EQ(window["cases"].size(), 5u);
    for (const Json& c : window["cases"]) {
        Status s = VerifySlackSignature(
            doc["signing_secret"].get<std::string>(),
            window["x_slack_request_timestamp"].get<std::string>(),
            doc["x_slack_signature"].get<std::string>(),
            body,
            c["now"].get<int64_t>()
        );
        EXPECT_EQ(static_cast<bool>(s), c["expect"] == "accept") << c.dump();
        if (!s) {
            EXPECT_NE(s.error().message.find("more than 5 minutes"), std::string::npos) << s.error().message;
        }
    }
}

TEST(SlackSignatureTest, MalformedHeadersAreClearErrors) {
    EXPECT_NE(VerifySlackSignature("s", "", "v0=00", "b", 0).error().message.find("are required"), std::string::npos);
    EXPECT_NE(
        VerifySlackSignature("s", "12x", "v0=00", "b", 0).error().message.find("not a number"), std::string::npos
    );
    EXPECT_NE(VerifySlackSignature("s", "5", "v1=00", "b", 5).error().message.find("64 hex"), std::string::npos);
    EXPECT_NE(
        VerifySlackSignature("s", "5", "v0=" + std::string(64, 'g'), "b", 5).error().message.find("64 hex"),
        std::string::npos
    );
}

TEST(SlackFormTest, SlashCommandFieldsAreDecoded) {
    auto form = ParseForm(Read("slash-command-chatops.txt"));
    EXPECT_EQ(form["command"], "/st2");
    EXPECT_EQ(form["text"], "run core.local cmd=\"echo hello & date\"");
    EXPECT_EQ(form["response_url"], "https://hooks.slack.com/commands/1234/5678");
    EXPECT_EQ(form["user_name"], "Steve");
    EXPECT_EQ(form["channel_id"], "C2147483705");
    auto documented = ParseForm(Read("slash-command.txt"));
    EXPECT_EQ(documented["text"], "");
    EXPECT_EQ(documented["command"], "/webhook-collect");
    EXPECT_EQ(ParseForm("a=%zz&b&c=1+2")["a"], "%zz");
    EXPECT_EQ(ParseForm("a=%zz&b&c=1+2")["c"], "1 2");
}

TEST(SlackCommandTextTest, MentionsEscapesAndPrefixAreRemoved) {
    const Json mention = Json::parse(Read("events-app_mention.json"));
    EXPECT_EQ(CommandText(mention["event"]["text"].get<std::string>()), "is it everything a river should be?");
    EXPECT_EQ(CommandText("  !deploy web &amp;&amp; more &lt;x&gt; "), "deploy web && more <x>");
    EXPECT_EQ(CommandText("<@U1> <@U2>"), "");
}

TEST(ChatResultTest, FormatIsRenderedOverTheExecutionAndSecretsMasked) {
    const Json execution = {{"id", "e1"}, {"status", "succeeded"}, {"result", {{"stdout", "token is xoxb-secret-1"}}}};
    EXPECT_EQ(
        FormatResult(
            Json{{"result", {{"format", "{{ execution.status }}: {{ execution.result.stdout }}"}}}},
            execution,
            {"xoxb-secret-1"}
        ),
        "succeeded: token is ********"
    );
    EXPECT_EQ(FormatResult(Json::object(), execution, {}), "Execution e1 succeeded:\ntoken is xoxb-secret-1");
    EXPECT_EQ(FormatResult(Json{{"result", {{"enabled", false}}}}, execution, {}), "");
    EXPECT_NE(
        FormatResult(Json{{"result", {{"format", "{{ execution.x.y }}"}}}}, execution, {}).find("Cannot render"),
        std::string::npos
    );
}

}  // namespace
}  // namespace squall::api::chatops
