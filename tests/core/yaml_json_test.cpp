#include <gtest/gtest.h>

#include <string>

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

TEST(YamlJsonTest, BytesThatAreNotUtf8AreAnErrorWhereTheyAre) {
    // Found by the yaml_content fuzzer: a key with a 0xFF byte reached the JSON side, whose serializer threw.
    Result<YamlDocument> doc = ParseYaml("name: x\nparameters: {a: {typ\xff: number}}\n", "action.yaml");
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().message, "invalid YAML: not UTF-8 (byte 0xFF)");
    EXPECT_EQ(doc.error().location->ToString(), "action.yaml:2:21");
    EXPECT_TRUE(ParseYaml("name: caf\xc3\xa9\n", "ok.yaml"));  // UTF-8 is fine
}

TEST(YamlJsonTest, AControlCharacterIsAnErrorWhereItIs) {
    // Found by the yaml_content fuzzer (1.7 M inputs into a long run): yaml-cpp reads `II\0_` as a scalar holding byte
    // 0xA0, which is not UTF-8, and the JSON serializer threw on it while a schema error was being written: the
    // process loading the pack terminated. PyYAML (and so StackStorm) refuses such characters.
    Result<YamlDocument> doc = ParseYaml(std::string("name: x\nenum: II\0_\n", 19), "action.yaml");
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().message, "invalid YAML: a control character (byte 0x00)");
    EXPECT_EQ(doc.error().location->ToString(), "action.yaml:2:9");
    EXPECT_FALSE(ParseYaml(
        "a: b\x07"
        "c\n",
        "bell.yaml"
    ));
    EXPECT_FALSE(ParseYaml("a: b\x7f\n", "del.yaml"));
    Result<YamlDocument> ok = ParseYaml("a: \"tab\there\"\r\nb: 1\n", "ok.yaml");  // tab, CR LF: fine
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->value["a"], "tab\there");
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
    EXPECT_EQ(d.error().location->line, 2);  // the `---` that starts it, as PyYAML points
    Result<YamlDocument> one = ParseYaml("---\na: 1\n", "one.yaml");
    ASSERT_TRUE(one) << one.error().What();
    Result<YamlDocument> empty = ParseYaml("", "empty.yaml");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->value.is_null());
}

/// The classic "billion laughs": nine levels of nine aliases, under 1 KB of text, 9^9 strings once expanded.
std::string BillionLaughs() {
    std::string y = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    for (char c = 'b'; c <= 'i'; ++c) {
        const char prev = static_cast<char>(c - 1);
        y += std::string(1, c) + ": &" + c + " [";
        for (int k = 0; k < 9; ++k) y += std::string(k ? "," : "") + "*" + prev;
        y += "]\n";
    }
    return y;
}

TEST(YamlJsonTest, AnAliasBombIsALocatedErrorNotAnAllocation) {
    const std::string bomb = BillionLaughs();
    ASSERT_LT(bomb.size(), 1024u);
    Result<YamlDocument> d = ParseYaml("name: r\n" + bomb, "rules/bomb.yaml");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(d.error().message.find("expands to too many values"), std::string::npos) << d.error().message;
    ASSERT_TRUE(d.error().location);
    EXPECT_EQ(d.error().location->file, "rules/bomb.yaml");
    EXPECT_GT(d.error().location->line, 1);
    // A string repeated through aliases is bounded too.
    std::string strings = "s: &s \"" + std::string(100000, 'x') + "\"\nl: [";
    for (int k = 0; k < 2000; ++k) strings += std::string(k ? "," : "") + "*s";
    strings += "]\n";
    Result<YamlDocument> s = ParseYaml(strings, "strings.yaml");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("expands to too much text"), std::string::npos) << s.error().message;
}

TEST(YamlJsonTest, OrdinaryAnchorsStillWork) {
    Result<YamlDocument> d = ParseYaml("base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: *b\n", "a.yaml");
    ASSERT_TRUE(d) << d.error().What();
    EXPECT_EQ(d->value["two"]["y"][1], 2);
}

TEST(YamlJsonTest, DeepNestingIsRefused) {
    Result<YamlDocument> d = ParseYaml("a: " + std::string(300, '[') + std::string(300, ']') + "\n", "deep.yaml");
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("nested deeper than the limit of 256 levels"), std::string::npos)
        << d.error().message;
    // Deeper than yaml-cpp's own guard: refused by the parser, not a stack overflow.
    Result<YamlDocument> deeper = ParseYaml("a: " + std::string(60000, '[') + std::string(60000, ']') + "\n", "d.yaml");
    EXPECT_FALSE(deeper);
    EXPECT_TRUE(ParseYaml("a: " + std::string(200, '[') + std::string(200, ']') + "\n", "ok.yaml"));
}

TEST(YamlJsonTest, HugeNumericScalarsDoNotRecurse) {
    // 200,000 digits: std::regex recursed once per character here and overflowed the stack.
    const std::string digits(200000, '7');
    Result<YamlDocument> d = ParseYaml("n: " + digits + "\nf: " + digits + ".5\ne: 1e999999\n", "big.yaml");
    ASSERT_TRUE(d) << d.error().What();
    EXPECT_EQ(d->value["n"], digits);  // beyond int64: kept as written
    EXPECT_EQ(d->value["f"], digits + ".5");
    EXPECT_EQ(d->value["e"], "1e999999");
    Result<YamlDocument> nums =
        ParseYaml("a: -12\nb: 1_000\nc: .5\nd: 1e3\ne: +1.5e-2\nf: 1.\ng: 0x1A\nh: 1e\n", "n.yaml");
    ASSERT_TRUE(nums);
    EXPECT_EQ(nums->value["a"], -12);
    EXPECT_EQ(nums->value["b"], 1000);
    EXPECT_EQ(nums->value["c"], 0.5);
    EXPECT_EQ(nums->value["d"], 1000.0);
    EXPECT_EQ(nums->value["e"], 0.015);
    EXPECT_EQ(nums->value["f"], 1.0);
    EXPECT_EQ(nums->value["g"], "0x1A");
    EXPECT_EQ(nums->value["h"], "1e");
}

// yaml-cpp 0.7 never moves past a stray `,` at the top level: LoadAll returned empty documents until memory ran out
// (found by the yaml_content fuzz target). A located error now, at once.
TEST(YamlJsonTest, AStrayCommaIsAnErrorNotAnEndlessStream) {
    for (const std::string text : {",", ", ,", "a: 1\n,\n", ",\n- x"}) {
        Result<YamlDocument> doc = ParseYaml(text, "stray.yaml");
        ASSERT_FALSE(doc) << text;
        ASSERT_TRUE(doc.error().location);
        EXPECT_EQ(doc.error().location->file, "stray.yaml");
        EXPECT_NE(doc.error().message.find("invalid YAML"), std::string::npos) << doc.error().message;
    }
}

}  // namespace
}  // namespace squall::core
