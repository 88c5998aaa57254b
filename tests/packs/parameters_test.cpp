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

TEST(ParametersTest, UseNoneMagicValueBecomesNull) {
    // st2's use_none filter renders None as a magic string; casting turns it back into None whatever the type.
    Json schema = EffectiveSchema(kRunner, Json::parse(R"({
      "cmd": {"required": true}, "name": {"type": "string", "default": "world"}, "count": {"type": "integer"}})"));
    const std::string magic = "%*****__%NONE%__*****%";
    Result<ResolvedParameters> r =
        ResolveParameters(schema, Json{{"cmd", "x"}, {"name", magic}, {"count", magic}}, Json::object());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->values.contains("name")) << r->values.dump();
    EXPECT_FALSE(r->values.contains("count")) << r->values.dump();
    EXPECT_EQ(r->values["cmd"], "x");
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
    r = ResolveParameters(schema, Json::parse(R"({"cdm": "x"})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message, "parameter \"cdm\": not defined by the action (unknown parameter; did you mean \"cmd\"?)"
    );
    r = ResolveParameters(schema, Json::parse(R"({"cmd": "x", "timeout": "soon"})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "parameter \"timeout\": \"soon\" is not of type integer (got string)");
    r = ResolveParameters(schema, Json::parse(R"({"cmd": "x", "sudo": true})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("immutable"), std::string::npos);
}

TEST(ParametersTest, RenderedNumbersAndBooleansBecomeTextForStringParameters) {
    // "{{ trigger.body.number }}" keeps its JSON type when rendered; a `type: string` parameter gets its text.
    Json schema = Json::parse(R"({
      "s": {"type": "string"}, "flag": {"type": "string", "default": "{{ on }}"},
      "label": {"type": "string", "default": "{{ count }}"}, "on": {"type": "boolean", "default": false},
      "count": {"type": "integer", "default": 3}, "f": {"type": "string"}})");
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::parse(R"({"s": 5, "f": 2.5})"), Json::object());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["s"], "5");
    EXPECT_EQ(r->values["f"], "2.5");
    EXPECT_EQ(r->values["label"], "3");
    EXPECT_EQ(r->values["flag"], "False");
}

TEST(ParametersTest, RenderedObjectsAndArraysBecomeTheirPythonTextForStringParameters) {
    // `message: "{{ trigger.body }}"`: StackStorm renders the payload to its Python text, which a `type: string`
    // parameter takes as it is; it was refused as "not of type string (got object)".
    Json schema = Json::parse(R"({"message": {"type": "string"}, "names": {"type": "string"},
      "body": {"type": "string", "default": "{{ payload }}"}, "payload": {"type": "object", "default": {"n": null}}})");
    Result<ResolvedParameters> r = ResolveParameters(
        schema, Json::parse(R"({"message": {"a": [1, 2], "ok": true}, "names": ["first", "second"]})"), Json::object()
    );
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["message"], "{'a': [1, 2], 'ok': True}");
    EXPECT_EQ(r->values["names"], "['first', 'second']");
    EXPECT_EQ(r->values["body"], "{'n': None}");
    EXPECT_EQ(r->values["payload"], Json::parse(R"({"n": null})"));
}

TEST(ParametersTest, CommaTextBecomesArraysAndObjectsAsWithStRun) {
    Json schema = Json::parse(R"({"hosts": {"type": "array"}, "ports": {"type": "array", "items": {"type": "integer"}},
      "tags": {"type": "object"}, "json": {"type": "array"}, "bad": {"type": "object"}})");
    Result<ResolvedParameters> r = ResolveParameters(
        schema,
        Json::parse(R"({"hosts": "web-1, web-2", "ports": "80,443", "tags": "env=prod,team=ops",
                               "json": "[1, \"a\"]"})"),
        Json::object()
    );
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["hosts"], Json::parse(R"(["web-1", "web-2"])"));
    EXPECT_EQ(r->values["ports"], Json::parse("[80, 443]"));
    EXPECT_EQ(r->values["tags"], Json::parse(R"({"env": "prod", "team": "ops"})"));
    EXPECT_EQ(r->values["json"], Json::parse(R"([1, "a"])"));
    r = ResolveParameters(schema, Json::parse(R"({"bad": "not a mapping"})"), Json::object());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "bad": "not a mapping" is not of type object (got string))");
}

TEST(ParametersTest, NullTakesTheDefaultAndUnsetParametersAreNoneInTemplates) {
    Json schema = Json::parse(R"({
      "d": {"type": "integer", "default": 5}, "s": {"type": "string"},
      "u": {"type": "string", "default": "u-{{ s }}"}})");
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::parse(R"({"d": null})"), Json::object());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["d"], 5);
    EXPECT_EQ(r->values["u"], "u-None");
    EXPECT_FALSE(r->values.contains("s"));
}

TEST(ParametersTest, TemplatedDefaultsRenderInDependencyOrder) {
    // `a` sorts first but needs `b`, which needs `c`: each renders after what it names.
    Json schema = Json::parse(R"({
      "a": {"type": "string", "default": "{{ b }}!"}, "b": {"type": "string", "default": "{{ c }}-{{ config_context.b }}"},
      "c": {"type": "string", "default": "z"}})");
    Result<ResolvedParameters> r =
        ResolveParameters(schema, Json::object(), Json::parse(R"({"config_context": {"b": "cfg"}})"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["b"], "z-cfg");
    EXPECT_EQ(r->values["a"], "z-cfg!");

    Json cycle =
        Json::parse(R"({"x": {"type": "string", "default": "{{ y }}"}, "y": {"type": "string", "default": "{{ x }}"}})"
        );
    r = ResolveParameters(cycle, Json::object(), Json::object());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("cycle"), std::string::npos) << r.error().message;
}

TEST(ParametersTest, SecretsRenderedIntoOtherParametersAreMaskedInTheRecord) {
    Json schema = Json::parse(R"({
      "pw": {"type": "string", "secret": true}, "cmd": {"type": "string", "default": "login -p {{ pw }} && echo {{ pw }}"},
      "args": {"type": "array", "default": ["--token={{ pw }}"]}})");
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::parse(R"({"pw": "HUNTER2XYZ"})"), Json::object());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["cmd"], "login -p HUNTER2XYZ && echo HUNTER2XYZ");  // the runner gets the real value
    EXPECT_EQ(r->masked["cmd"], "login -p ******** && echo ********");
    EXPECT_EQ(r->masked["args"], Json::array({"--token=********"}));
    EXPECT_EQ(r->masked["pw"], "********");
}

TEST(ParametersTest, SecretDefaultsAreMaskedInTheStoredActionMetadata) {
    Json schema = EffectiveSchema(kRunner, Json::parse(R"({"sudo_password": {"default": "RemotePW123"}})"));
    Json action = Json::parse(R"({"ref": "p.a", "parameters": {"sudo_password": {"default": "RemotePW123"},
      "cmd": {"default": "ls"}}})");
    Json masked = MaskSecretDefaults(action, schema);
    EXPECT_EQ(masked["parameters"]["sudo_password"]["default"], "********");
    EXPECT_EQ(masked["parameters"]["cmd"]["default"], "ls");
    EXPECT_EQ(action["parameters"]["sudo_password"]["default"], "RemotePW123");
}

}  // namespace
}  // namespace squall::packs
