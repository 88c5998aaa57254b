// Alias result formats rendered as StackStorm renders them (data-driven: tests/cases/aliases/results/*.yaml, the
// expected texts made with Python's Jinja2 in StackStorm's environment), and the announcement helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "chatops/notifier.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::api::chatops {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/aliases/results";

TEST(ChatOpsResultCasesTest, FormatsRenderAsStackStormDoes) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(kDir)) {
        if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty());
    size_t cases = 0;
    for (const auto& file : files) {
        Result<core::YamlDocument> doc = core::LoadYamlFile(file);
        ASSERT_TRUE(doc) << doc.error().What();
        ASSERT_TRUE(doc->value["cases"].is_array()) << file;
        for (const auto& c : doc->value["cases"]) {
            SCOPED_TRACE(file + ": " + c.value("name", ""));
            const Json alias = {{"result", c["result"]}};
            EXPECT_EQ(FormatResult(alias, c["execution"], {}), c["text"].get<std::string>());
            ++cases;
        }
    }
    EXPECT_GE(cases, 8u);
}

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
