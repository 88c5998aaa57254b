#include "squall/packs/json_schema.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "squall/packs/parameters.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;

/// Debian's json-schema-test-suite package.
const fs::path kSuiteRoot = "/usr/share/json-schema-test-suite";
const fs::path kDraft4 = kSuiteRoot / "tests" / "draft4";

// Every draft-4 file of the package runs: refRemote.json's http://localhost:1234/... documents are preloaded from the
// package's remotes/ folder (as the suite's own runners serve them), and the meta-schema that definitions.json and
// ref.json refer to is built in. optional/ (bignum, ecmascript-regex, format, zeroTerminatedFloats) is not part of
// draft-4 conformance. Each case of each group is its own test (JsonSchemaSuite/Draft4SuiteTest.Passes/<name>).

Json ReadJson(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return Json::parse(buffer.str(), nullptr, false);
}

/// remotes/<path> as the suite's runners serve it: http://localhost:1234/<path>.
const JsonSchema::Documents& Remotes() {
    static const JsonSchema::Documents* documents = [] {
        auto* out = new JsonSchema::Documents();  // NOLINT: test-wide immutable documents
        fs::path root = kSuiteRoot / "remotes";
        if (!fs::exists(root)) return out;
        for (const auto& entry : fs::recursive_directory_iterator(root)) {
            if (entry.is_regular_file() && entry.path().extension() == ".json") {
                (*out)["http://localhost:1234/" + fs::relative(entry.path(), root).generic_string()] =
                    ReadJson(entry.path());
            }
        }
        return out;
    }();
    return *documents;
}

std::vector<std::string> SuiteFiles() {
    std::vector<std::string> files;
    if (!fs::exists(kDraft4)) return files;
    for (const auto& entry : fs::directory_iterator(kDraft4)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json")
            files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// One case of the suite: tests[index] of group `group` in `file`.
struct SuiteCase {
    std::string file;
    size_t group = 0;
    size_t index = 0;
    std::string id;    ///< "file / group description / case description"
    std::string name;  ///< the test's name: [A-Za-z0-9_]
};

void PrintTo(const SuiteCase& c, std::ostream* os) {
    *os << c.id;
}

/// `text` with every run of characters outside [A-Za-z0-9] as one `_`, at most `max` characters.
std::string Sanitized(const std::string& text, size_t max) {
    std::string out;
    for (const char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            out += c;
        else if (!out.empty() && out.back() != '_')
            out += '_';
    }
    if (out.size() > max) out.resize(max);
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

std::vector<SuiteCase> SuiteCases() {
    std::vector<SuiteCase> cases;
    for (const auto& file : SuiteFiles()) {
        const Json groups = ReadJson(kDraft4 / file);
        if (!groups.is_array()) continue;  // SuiteIsInstalled names it
        const std::string stem = Sanitized(file.substr(0, file.size() - std::string(".json").size()), 40);
        for (size_t g = 0; g < groups.size(); ++g) {
            const Json& tests = groups[g]["tests"];
            for (size_t t = 0; t < tests.size(); ++t) {
                SuiteCase c;
                c.file = file;
                c.group = g;
                c.index = t;
                c.id = file + " / " + groups[g].value("description", "") + " / " + tests[t].value("description", "");
                c.name = stem + "_" + std::to_string(g) + "_" + std::to_string(t) + "_" +
                         Sanitized(groups[g].value("description", ""), 40) + "_" +
                         Sanitized(tests[t].value("description", ""), 40);
                cases.push_back(std::move(c));
            }
        }
    }
    return cases;
}

class Draft4SuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(Draft4SuiteTest, Passes) {
    const SuiteCase& c = GetParam();
    const Json groups = ReadJson(kDraft4 / c.file);
    ASSERT_TRUE(groups.is_array()) << (kDraft4 / c.file) << ": not a JSON array";
    const Json& group = groups[c.group];
    const Json& test = group["tests"][c.index];
    Result<JsonSchema> schema = JsonSchema::Compile(group["schema"], Remotes());
    ASSERT_TRUE(schema) << c.id << ": schema does not compile: " << schema.error().message;
    const bool expected = test["valid"];
    const bool valid = schema->IsValid(test["data"]);
    Status status = schema->Validate(test["data"], "data");
    EXPECT_EQ(valid, expected) << c.id << ": expected " << (expected ? "valid" : "invalid") << " for "
                               << test["data"].dump() << (status ? "" : " (" + status.error().message + ")");
    EXPECT_EQ(status.has_value(), valid) << c.id << ": Validate and IsValid disagree";
}

INSTANTIATE_TEST_SUITE_P(
    JsonSchemaSuite,
    Draft4SuiteTest,
    ::testing::ValuesIn(SuiteCases()),
    [](const ::testing::TestParamInfo<SuiteCase>& info) { return info.param.name; }
);

/// Not a skip when the suite is missing: CI must run it (deploy/deps.sh installs json-schema-test-suite).
TEST(JsonSchemaSuiteTest, SuiteIsInstalled) {
    ASSERT_TRUE(fs::exists(kDraft4)) << kDraft4 << " missing: install json-schema-test-suite (deploy/deps.sh)";
    for (const auto& file : SuiteFiles()) EXPECT_TRUE(ReadJson(kDraft4 / file).is_array()) << (kDraft4 / file);
    EXPECT_GE(SuiteCases().size(), 300U);
}

// --- error messages ---

std::string ErrorOf(const Json& schema, const Json& value, const std::string& path, bool mask = false) {
    Result<JsonSchema> compiled = JsonSchema::Compile(schema);
    if (!compiled) return "compile: " + compiled.error().message;
    Status status = compiled->Validate(value, path, {.subject = "parameter", .mask_values = mask});
    return status ? "ok" : status.error().message;
}

TEST(JsonSchemaTest, MessagesNamePathAndKeyword) {
    EXPECT_EQ(
        ErrorOf(
            Json::parse(R"({"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9.-]+$"}})"),
            Json::parse(R"(["a", "b", "x!"])"),
            "hosts"
        ),
        R"(parameter "hosts[2]": "x!" does not match pattern "^[a-z0-9.-]+$")"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"type": "integer", "maximum": 10})"), 12, "count"),
        R"(parameter "count": 12 is greater than the maximum 10)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"minimum": 1, "exclusiveMinimum": true})"), 1, "n"),
        R"(parameter "n": 1 is less than or equal to the exclusive minimum 1)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"type": ["string", "null"]})"), 3, "x"),
        R"(parameter "x": 3 is not of type string or null (got integer))"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"enum": ["a", "b"]})"), "c", "mode"), R"(parameter "mode": "c" is not one of ["a","b"])"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"minLength": 3})"), "ab", "name"),
        R"(parameter "name": "ab" is shorter than the minLength 3)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"maxItems": 1})"), Json::parse("[1, 2]"), "l"),
        R"(parameter "l": has 2 items, more than maxItems 1)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"uniqueItems": true})"), Json::parse("[1, 2, 1.0]"), "l"),
        R"(parameter "l": items [0] and [2] are equal (uniqueItems))"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"required": ["user"]})"), Json::object(), "opts"),
        R"(parameter "opts": property "user" is required)"
    );
    EXPECT_EQ(
        ErrorOf(
            Json::parse(R"({"properties": {"a": {}}, "additionalProperties": false})"),
            Json::parse(R"({"a": 1, "b c": 2})"),
            "opts"
        ),
        R"(parameter "opts["b c"]": is not a defined property (additionalProperties))"
    );
    EXPECT_EQ(
        ErrorOf(
            Json::parse(R"({"definitions": {"port": {"type": "integer", "maximum": 65535}},
                            "properties": {"ports": {"items": {"$ref": "#/definitions/port"}}}})"),
            Json::parse(R"({"ports": [22, 70000]})"),
            "opts"
        ),
        R"(parameter "opts.ports[1]": 70000 is greater than the maximum 65535)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})"), 3, "n"),
        R"(parameter "n": 3 matches 2 of the oneOf schemas, not exactly one)"
    );
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"multipleOf": 2})"), 7, "n"), R"(parameter "n": 7 is not a multiple of 2 (multipleOf))"
    );
}

TEST(JsonSchemaTest, MaskedValuesAreNeverShown) {
    std::string message = ErrorOf(Json::parse(R"({"minLength": 8})"), "hunter2", "password", true);
    EXPECT_EQ(message, R"(parameter "password": ******** is shorter than the minLength 8)");
    EXPECT_EQ(message.find("hunter2"), std::string::npos);
}

TEST(JsonSchemaTest, StackStormAttributesAreIgnored) {
    Json schema = Json::parse(R"({"type": "string", "required": true, "immutable": false, "secret": true,
                                  "position": 0, "default": "x", "description": "d"})");
    EXPECT_EQ(ErrorOf(schema, "value", "p"), "ok");
    EXPECT_EQ(ErrorOf(schema, 1, "p"), R"(parameter "p": 1 is not of type string (got integer))");
}

TEST(JsonSchemaTest, RequiredTrueOnANestedPropertyIsEnforced) {
    // StackStorm's validator honours draft 3's per-property `required: true` inside object parameters too.
    Json schema = Json::parse(R"({"type": "object", "properties": {"x": {"type": "integer", "required": true},
                                  "y": {"type": "string", "required": false}}})");
    EXPECT_EQ(ErrorOf(schema, Json::object(), "nested"), R"(parameter "nested": property "x" is required)");
    EXPECT_EQ(ErrorOf(schema, Json::parse(R"({"x": 1})"), "nested"), "ok");
}

TEST(JsonSchemaTest, CompileErrors) {
    EXPECT_EQ(
        ErrorOf(Json::parse(R"({"properties": {"a": {"$ref": "#/definitions/missing"}}})"), 1, "p"),
        R"(compile: schema /properties/a/$ref: cannot resolve $ref "#/definitions/missing")"
    );
    EXPECT_NE(
        ErrorOf(Json::parse(R"({"pattern": "(unclosed"})"), "x", "p").find("compile: schema /pattern"),
        std::string::npos
    );
    EXPECT_NE(
        ErrorOf(Json::parse(R"({"$ref": "http://example.com/x.json"})"), 1, "p").find("cannot resolve"),
        std::string::npos
    );
    EXPECT_EQ(ErrorOf(Json::array(), 1, "p").rfind("compile: schema must be an object", 0), 0U);
}

TEST(JsonSchemaTest, MetaSchemaIsBuiltIn) {
    Result<JsonSchema> meta =
        JsonSchema::Compile(Json::parse(R"({"$ref": "http://json-schema.org/draft-04/schema#"})"));
    ASSERT_TRUE(meta) << meta.error().message;
    EXPECT_TRUE(meta->IsValid(Json::parse(R"({"type": "integer", "minimum": 1})")));
    EXPECT_FALSE(meta->IsValid(Json::parse(R"({"type": "integr"})")));
}

// --- wired into ResolveParameters ---

TEST(JsonSchemaTest, ResolveParametersValidatesEachParameter) {
    const Json schema = Json::parse(R"({
      "hosts": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9.-]+$"}, "position": 0},
      "count": {"type": "integer", "maximum": 10, "default": 3, "required": true},
      "token": {"type": "string", "minLength": 8, "secret": true, "immutable": false},
      "opts": {"type": "object", "properties": {"port": {"type": "integer"}}, "additionalProperties": false}
    })");
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::parse(R"({"hosts": ["a", "b", "x"]})"), {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["count"], 3);

    r = ResolveParameters(schema, Json::parse(R"({"hosts": ["a", "b", "X!"]})"), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "hosts[2]": "X!" does not match pattern "^[a-z0-9.-]+$")");

    r = ResolveParameters(schema, Json::parse(R"({"count": "12"})"), {});  // cast after rendering, then checked
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "count": 12 is greater than the maximum 10)");

    r = ResolveParameters(schema, Json::parse(R"({"hosts": "[\"a\", 5]"})"), {});  // JSON text → array
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "hosts[1]": 5 is not of type string (got integer))");

    r = ResolveParameters(schema, Json::parse(R"({"token": "short"})"), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "token": ******** is shorter than the minLength 8)");

    r = ResolveParameters(schema, Json::parse(R"({"opts": "{\"port\": 22, \"host\": \"h\"}"})"), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, R"(parameter "opts.host": is not a defined property (additionalProperties))");
}

TEST(JsonSchemaTest, ResolveParametersCastsToATypeList) {
    const Json schema = Json::parse(R"({"n": {"type": ["integer", "null"]}, "s": {"type": ["string", "integer"]}})");
    Result<ResolvedParameters> r = ResolveParameters(schema, Json::parse(R"({"n": "5", "s": "5"})"), {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->values["n"], 5);
    EXPECT_EQ(r->values["s"], "5");
}

}  // namespace
}  // namespace squall::packs
