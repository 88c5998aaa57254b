// Formatting alias results and the announcement helpers (targets, text).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "chatops/notifier.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::api::chatops {
namespace {

TEST(ChatOpsResultCasesTest, SecretsAreMaskedAndABrokenFormatSaysSo) {
    const Json execution = {{"id", "e"}, {"status", "succeeded"}, {"result", {{"stdout", "token s3cr3t-value\n"}}}};
    EXPECT_EQ(FormatResult(Json::object(), execution, {"s3cr3t-value"}), "Execution e succeeded:\ntoken ********\n");
    const std::string broken = FormatResult({{"result", {{"format", "{% if %}"}}}}, execution, {});
    EXPECT_EQ(broken.rfind("Cannot render \"format\" in field \"result\" for alias.", 0), 0u) << broken;
}

TEST(ChatOpsAnnouncementTest, TargetsFollowTheContextAndTheConfiguredAdapters) {
    const Json config = {
        {"slack_bot_token", "xoxb-1"},
        {"slack_api_url", "http://127.0.0.1:1/api/"},
        {"mattermost_url", "http://127.0.0.1:1/mm"},
        {"generic_callback_url", ""}};
    std::vector<ChatTarget> all = AnnouncementTargets(config, {{"channel", "ops"}, {"message", "m"}});
    ASSERT_EQ(all.size(), 2u);  // the generic adapter has no callback URL
    EXPECT_EQ(all[0].url, "http://127.0.0.1:1/api/chat.postMessage");
    EXPECT_EQ(all[0].bearer, "xoxb-1");
    EXPECT_EQ(all[0].bearer_key, "slack_bot_token");
    EXPECT_EQ(all[0].body, (Json{{"channel", "ops"}}));
    EXPECT_EQ(all[1].url, "http://127.0.0.1:1/mm");
    std::vector<ChatTarget> mm = AnnouncementTargets(
        config, {{"channel", "ops"}, {"user", "ann"}, {"whisper", true}, {"context", {{"adapter", "mattermost"}}}}
    );
    ASSERT_EQ(mm.size(), 1u);
    EXPECT_EQ(mm[0].body["channel"], "@ann");
    EXPECT_TRUE(AnnouncementTargets(config, {{"channel", "c"}, {"context", {{"adapter", "generic"}}}}).empty());

    EXPECT_EQ(AnnouncementText({{"message", "hi"}, {"user", "ann"}}), "@ann: hi");
    EXPECT_EQ(AnnouncementText({{"message", "hi"}, {"user", "ann"}, {"whisper", true}}), "hi");
    EXPECT_EQ(AnnouncementText({{"message", {{"a", 1}}}}), "{\"a\":1}");
}

}  // namespace
}  // namespace squall::api::chatops
