#include <gtest/gtest.h>

#include "squall/packs/parameters.hpp"

namespace squall::packs {
namespace {

const Json kRunner = Json::parse(R"({
  "cmd": {"type": "string"}, "timeout": {"type": "integer", "default": 60},
  "sudo_password": {"type": "string", "secret": true}
})");

TEST(ParametersTest, ActionOverridesRunnerAttributes) {
    Json schema = EffectiveSchema(
        kRunner, Json::parse(R"({"cmd": {"required": true, "type": "integer"}, "x": {"type": "boolean"}})")
    );
    EXPECT_TRUE(schema["cmd"]["required"]);
    EXPECT_EQ(schema["cmd"]["type"], "string");  // type is not overridable
    EXPECT_EQ(schema["x"]["type"], "boolean");
}

TEST(ParametersTest, DefaultsCastsAndSecrets) {
    Json schema = EffectiveSchema(kRunner, Json::parse(R"({
      "cmd": {"required": true, "default": "echo {{ name }}"}, "name": {"type": "string", "default": "world"},
      "count": {"type": "integer"}, "opts": {"type": "object"}})"));
    Result<ResolvedParameters> r = ResolveParameters(
        schema, Json::parse(R"({"count": "5", "opts": "{\"a\": 1}", "sudo_password": "pw"})"), Json::object()
    );
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["cmd"], "echo world");
    EXPECT_EQ(r->values["count"], 5);
    EXPECT_EQ(r->values["opts"]["a"], 1);
    EXPECT_EQ(r->values["timeout"], 60);
    EXPECT_EQ(r->values["sudo_password"], "pw");
    EXPECT_EQ(r->masked["sudo_password"], "********");
    EXPECT_EQ(r->secrets, std::vector<std::string>{"sudo_password"});
}

TEST(ParametersTest, ErrorsNameTheParameter) {
    Json schema = EffectiveSchema(
        kRunner,
        Json::parse(R"({"cmd": {"required": true}, "sudo": {"immutable": true, "type": "boolean", "default": false}})")
    );
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::object(), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "parameter \"cmd\": is required");
    r = ResolveParameters(schema, Json::parse(R"({"cmd": "x", "nope": 1})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "parameter \"nope\": not defined by the action (unknown parameter)");
    r = ResolveParameters(schema, Json::parse(R"({"cmd": "x", "timeout": "soon"})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "parameter \"timeout\": \"soon\" is not of type integer (got string)");
    r = ResolveParameters(schema, Json::parse(R"({"cmd": "x", "sudo": true})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("immutable"), std::string::npos);
}

}  // namespace
}  // namespace squall::packs
