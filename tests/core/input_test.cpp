// The input gate: bounded JSON parsing, UTF-8/Latin-1 and name validation (issue 18 reproductions).
#include "squall/core/input.hpp"

#include <gtest/gtest.h>

#include <string>

namespace squall::core {
namespace {

std::string Nested(size_t depth) {
    return "{\"name\":1,\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

TEST(ParseJsonLimitedTest, ParsesOrdinaryDocuments) {
    Result<Json> j = ParseJsonLimited(R"({"a": [1, 2.5, "x", null, true], "b": {"c": -3}})", "body");
    ASSERT_TRUE(j) << j.error().message;
    EXPECT_EQ((*j)["a"][1], 2.5);
    EXPECT_EQ((*j)["b"]["c"], -3);
    EXPECT_EQ(JsonDepth(*j), 2u);
}

TEST(ParseJsonLimitedTest, RefusesA60000DeepBodyNamingTheLimit) {
    Result<Json> j = ParseJsonLimited(Nested(60000), "request body");
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(j.error().message.find("request body: nested deeper than the limit of 256 levels"), std::string::npos)
        << j.error().message;
    EXPECT_NE(j.error().message.find("at x[0][0]"), std::string::npos) << j.error().message;
    EXPECT_LT(j.error().message.size(), 400u) << "a deep path is clipped in the message";
}

TEST(ParseJsonLimitedTest, AcceptsDepthUpToTheLimit) {
    EXPECT_TRUE(ParseJsonLimited(std::string(256, '[') + std::string(256, ']'), "body"));
    EXPECT_FALSE(ParseJsonLimited(std::string(257, '[') + std::string(257, ']'), "body"));
    JsonLimits tight;
    tight.max_depth = 2;
    EXPECT_FALSE(ParseJsonLimited(R"({"a": {"b": {}}})", "body", tight));
}

TEST(ParseJsonLimitedTest, NumberOutOfRangeNamesThePath) {
    Result<Json> j = ParseJsonLimited(R"({"parameters": {"list": [1, 2, 1e999999]}})", "request body");
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(
        j.error().message.find("request body: parameters.list[2]: number 1e999999 is out of range"), std::string::npos
    ) << j.error().message;
    Result<Json> top = ParseJsonLimited("-1e999999", "body");
    ASSERT_FALSE(top);
    EXPECT_NE(top.error().message.find("number -1e999999 is out of range"), std::string::npos) << top.error().message;
}

TEST(ParseJsonLimitedTest, SyntaxErrorsAndSizeAreInvalidArgument) {
    Result<Json> bad = ParseJsonLimited(R"({"a": [1, 2,)", "request body");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(bad.error().message.find("request body is not valid JSON"), std::string::npos) << bad.error().message;
    JsonLimits small;
    small.max_bytes = 10;
    Result<Json> big = ParseJsonLimited(R"({"abcdefghijk": 1})", "request body", small);
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("over the limit of 10 bytes"), std::string::npos) << big.error().message;
    // Invalid UTF-8 inside a string is a parse error, not something that fails later when the value is dumped.
    EXPECT_FALSE(ParseJsonLimited("{\"a\": \"\xff\xfe\"}", "body"));
}

TEST(JsonDepthTest, IsIterative) {
    Json deep = Json::array();
    Json* at = &deep;
    for (int i = 0; i < 1000; ++i) at = &at->emplace_back(Json::array());
    EXPECT_EQ(JsonDepth(deep), 1001u);
    EXPECT_GT(JsonDepth(deep, 10), 10u);
}

TEST(Utf8Test, ValidatesAndDecodesLatin1) {
    EXPECT_TRUE(IsValidUtf8("plain"));
    EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(IsValidUtf8("\xff\xfe"));
    EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong '/'
    EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
    EXPECT_FALSE(IsValidUtf8("caf\xe9"));       // Latin-1 é
    EXPECT_EQ(Latin1ToUtf8("caf\xe9"), "caf\xc3\xa9");
    EXPECT_EQ(Utf8OrLatin1("caf\xe9"), "caf\xc3\xa9");
    EXPECT_EQ(Utf8OrLatin1("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(NameTest, ContentNames) {
    EXPECT_TRUE(CheckName("name", "my_rule-1.v2"));
    Status long_name = CheckName("name", std::string(40000, 'a'));
    ASSERT_FALSE(long_name);
    EXPECT_NE(long_name.error().message.find("name: \"aaaa"), std::string::npos);
    EXPECT_NE(long_name.error().message.find("is 40000 characters long; names are at most 255"), std::string::npos)
        << long_name.error().message;
    EXPECT_LT(long_name.error().message.size(), 300u);
    for (const char* bad : {"", "a/b", "..", "a..b", ".hidden", "-x", "a b", "x\n"}) {
        EXPECT_FALSE(CheckName("name", bad)) << bad;
    }
}

TEST(NameTest, PackNamesRefsKeysAndWebhooks) {
    EXPECT_TRUE(CheckPackName("pack", "my_pack2"));
    for (const char* bad : {"../../etc", "a/b", "A", "my-pack", "", "a.b"}) {
        Status st = CheckPackName("pack", bad);
        ASSERT_FALSE(st) << bad;
        EXPECT_EQ(st.error().message.rfind("pack: ", 0), 0u) << st.error().message;
    }
    EXPECT_TRUE(CheckRef("action.ref", "core.local"));
    EXPECT_TRUE(CheckRef("trigger.type", "core.st2.webhook"));
    EXPECT_FALSE(CheckRef("action.ref", "core"));
    EXPECT_FALSE(CheckRef("action.ref", "../x.y"));
    EXPECT_FALSE(CheckRef("action.ref", "core." + std::string(300, 'a')));

    EXPECT_TRUE(CheckKeyName("name", "app:db:password"));
    EXPECT_TRUE(CheckKeyName("name", "caf\xc3\xa9"));
    Status bad_utf8 = CheckKeyName("name", "\xff\xfe");
    ASSERT_FALSE(bad_utf8);
    EXPECT_EQ(bad_utf8.error().message, "name: the key name is not valid UTF-8");
    EXPECT_FALSE(CheckKeyName("name", std::string(256, 'k')));
    EXPECT_FALSE(CheckKeyName("name", "a\tb"));

    EXPECT_TRUE(CheckWebhookUrl("url", "sample"));
    EXPECT_TRUE(CheckWebhookUrl("url", "github/push"));
    for (const char* bad : {"", "../x", "a//b", "a/", "/a", "a b", "x?y"})
        EXPECT_FALSE(CheckWebhookUrl("url", bad)) << bad;
}

}  // namespace
}  // namespace squall::core
