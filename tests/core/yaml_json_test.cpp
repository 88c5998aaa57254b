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

}  // namespace
}  // namespace squall::core
