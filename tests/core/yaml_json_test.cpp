#include <gtest/gtest.h>

#include "squall/core/yaml_json.hpp"

namespace squall::core {
namespace {

TEST(YamlJsonTest, ScalarsResolveAsPyYaml) {
    Result<YamlDocument> d = ParseYaml("a: 1\nb: 1.5\nc: yes\nd: 'yes'\ne: ~\nf: hello\ng: \"2\"\nh: off\n", "x.yaml");
    ASSERT_TRUE(d) << d.error().What();
    EXPECT_EQ(d->value, Json::parse(R"({"a":1,"b":1.5,"c":true,"d":"yes","e":null,"f":"hello","g":"2","h":false})"));
}

TEST(YamlJsonTest, RemembersWhereFieldsAre) {
    Result<YamlDocument> d = ParseYaml("name: r\ncriteria:\n  trigger.body.ref:\n    type: equal\n", "rules/r.yaml");
    ASSERT_TRUE(d);
    Error e = d->ErrorAt("criteria.trigger.body.ref.type", "unknown operator");
    EXPECT_EQ(e.What(), "rules/r.yaml:4:5: criteria.trigger.body.ref.type: unknown operator");
    EXPECT_EQ(d->At("criteria.trigger.body.ref.missing").line, 3);
}

TEST(YamlJsonTest, SyntaxErrorsCarryPosition) {
    Result<YamlDocument> d = ParseYaml("a: [1, 2\nb: c\n", "bad.yaml");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().location->file, "bad.yaml");
    EXPECT_GT(d.error().location->line, 0);
}

TEST(YamlJsonTest, AnUnclosedQuoteIsAnErrorWhereItOpens) {
    // yaml-cpp alone reads it to the end of the file (swallowing the keys after it); PyYAML rejects the file.
    for (const char* text : {"name: x\ndefault: \"unterminated\n", "a: 'open\nb: 2\n", "p: \"x\ny: 1\nz: 2\n"}) {
        Result<YamlDocument> d = ParseYaml(text, "a.yaml");
        ASSERT_FALSE(d) << text << " -> " << d->value.dump();
        EXPECT_NE(d.error().message.find("missing closing quote"), std::string::npos) << d.error().message;
        EXPECT_EQ(d.error().location->line, std::string(text).find("default") == 0 ? 2 : (text[0] == 'n' ? 2 : 1));
    }
    // Closed quotes, escapes and '' inside single quotes are fine.
    Result<YamlDocument> ok = ParseYaml("a: \"x \\\" y\"\nb: 'it''s'\nc: \"multi\n  line\"\n", "a.yaml");
    ASSERT_TRUE(ok) << ok.error().What();
    EXPECT_EQ(ok->value, Json::parse(R"({"a": "x \" y", "b": "it's", "c": "multi line"})"));
}

TEST(YamlJsonTest, ASecondDocumentIsAnError) {
    Result<YamlDocument> d = ParseYaml("a: 1\n---\nb: 2\n", "two.yaml");
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("second YAML document"), std::string::npos) << d.error().message;
    EXPECT_EQ(d.error().location->line, 3);
    Result<YamlDocument> one = ParseYaml("---\na: 1\n", "one.yaml");
    ASSERT_TRUE(one) << one.error().What();
    Result<YamlDocument> empty = ParseYaml("", "empty.yaml");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->value.is_null());
}

}  // namespace
}  // namespace squall::core
