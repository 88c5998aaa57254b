#include "squall/aliases/match.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <ostream>

#include "squall/core/yaml_json.hpp"

namespace squall::aliases {
namespace {

namespace fs = std::filesystem;

/// Data-driven cases: tests/cases/aliases/extract.yaml (one format, one command → parameters or an error) and
/// index.yaml (a set of aliases, one command → the alias that matches or an error). Each case is its own test.
struct AliasCase {
    std::string file;
    size_t index = 0;
    std::string id;
    std::string name;
};

void PrintTo(const AliasCase& c, std::ostream* os) {
    *os << c.id;
}

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

const std::string kCaseDir = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/aliases";

std::vector<AliasCase> Cases() {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(kCaseDir)) {
        if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<AliasCase> cases;
    for (const auto& file : files) {
        Result<core::YamlDocument> doc = core::LoadYamlFile(file);
        if (!doc || !doc->value["cases"].is_array()) continue;  // CorpusLoads names it
        const Json& list = doc->value["cases"];
        const fs::path p(file);
        for (size_t i = 0; i < list.size(); ++i) {
            const std::string name = list[i].is_object() ? list[i].value("name", "") : "";
            cases.push_back(
                {file,
                 i,
                 p.filename().string() + " #" + std::to_string(i) + ": " + name,
                 Sanitized(p.stem().string(), 20) + "_" + std::to_string(i) + "_" + Sanitized(name, 60)}
            );
        }
    }
    return cases;
}

class AliasCaseTest : public ::testing::TestWithParam<AliasCase> {};

TEST_P(AliasCaseTest, Passes) {
    const AliasCase& ac = GetParam();
    SCOPED_TRACE(ac.id);
    Result<core::YamlDocument> doc = core::LoadYamlFile(ac.file);
    ASSERT_TRUE(doc) << doc.error().What();
    const Json& c = doc->value["cases"][ac.index];
    const std::string command = c.value("command", "");
    if (c.contains("aliases")) {
        std::map<std::string, Json> aliases;
        for (const auto& [ref, a] : c["aliases"].items()) {
            Json alias = a;
            alias["ref"] = ref;
            alias["pack"] = ref.substr(0, ref.find('.'));
            alias["name"] = ref.substr(ref.find('.') + 1);
            aliases[ref] = alias;
        }
        AliasIndex index(aliases);
        EXPECT_TRUE(index.errors().empty());
        Result<AliasMatch> m = index.Match(command);
        if (c.contains("error")) {
            ASSERT_FALSE(m) << "matched " << m->ref;
            EXPECT_NE(m.error().message.find(c["error"].get<std::string>()), std::string::npos) << m.error().message;
            return;
        }
        ASSERT_TRUE(m) << m.error().message;
        EXPECT_EQ(m->ref, c["match"].get<std::string>());
        EXPECT_EQ(m->parameters, c["params"]);
        if (c.contains("representation")) {
            EXPECT_EQ(m->representation, c["representation"].get<std::string>());
        }
        if (c.contains("display")) {
            EXPECT_EQ(m->display, c["display"].get<std::string>());
        }
        // The API's second step (aliasexecution with the format the match returned) extracts the same values.
        Result<Json> again = index.ExtractFor(m->ref, m->representation, command);
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_EQ(*again, c["params"]);
        return;
    }
    Result<Json> params = ExtractParameters(c.value("format", ""), command);
    if (c.contains("error")) {
        ASSERT_FALSE(params) << "extracted " << params->dump();
        EXPECT_NE(params.error().message.find(c["error"].get<std::string>()), std::string::npos)
            << params.error().message;
        return;
    }
    ASSERT_TRUE(params) << params.error().message;
    EXPECT_EQ(*params, c["params"]);
}

INSTANTIATE_TEST_SUITE_P(
    AliasCases,
    AliasCaseTest,
    ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<AliasCase>& info) { return info.param.name; }
);

TEST(AliasCaseFilesTest, CorpusLoadsAndIsLarge) {
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(kCaseDir)) {
        if (entry.path().extension() != ".yaml") continue;
        ++files;
        Result<core::YamlDocument> doc = core::LoadYamlFile(entry.path().string());
        ASSERT_TRUE(doc) << doc.error().What();
        EXPECT_TRUE(doc->value["cases"].is_array()) << entry.path() << ": `cases` must be a list";
    }
    EXPECT_GE(files, 2u);
    EXPECT_GE(Cases().size(), 50u);
}

TEST(AliasMatchTest, BadPlaceholderNameIsAClearError) {
    Result<Json> r = ExtractParameters("run {{my-cmd}}", "run date");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("format \"run {{my-cmd}}\" is not a valid pattern"), std::string::npos)
        << r.error().message;
    AliasIndex index({{"a.b", Json{{"formats", {"run {{my-cmd}}", "go {{x}}"}}}}});
    ASSERT_EQ(index.errors().size(), 1u);
    EXPECT_NE(index.errors()[0].find("alias a.b"), std::string::npos);
    EXPECT_TRUE(index.Match("go home"));
}

TEST(AliasMatchTest, ExtractForRefusesAFormatTheAliasDoesNotHave) {
    AliasIndex index({{"a.b", Json{{"name", "b"}, {"formats", {"run {{cmd}}"}}}}});
    Result<Json> r = index.ExtractFor("a.b", "walk {{cmd}}", "walk home");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Format string \"walk {{cmd}}\" is not available on the alias \"b\"");
    EXPECT_EQ(index.ExtractFor("a.c", "run {{cmd}}", "run x").error().code, ErrorCode::kNotFound);
}

TEST(AliasHelpTest, FiltersAndPagesAsStackStorm) {
    std::map<std::string, Json> aliases = {
        {"ops.deploy",
         Json{{"pack", "ops"}, {"description", "Deploy"}, {"formats", {"deploy {{app}}", "ship {{app}}"}}}},
        {"ops.off", Json{{"pack", "ops"}, {"enabled", false}, {"formats", {"deploy off"}}}},
        {"web.status",
         Json{{"pack", "web"}, {"description", "Status"}, {"formats", {Json{{"display", "status <host>"}}}}}},
    };
    Result<Json> all = HelpStrings(aliases, "", "", 0, 0);
    ASSERT_TRUE(all);
    EXPECT_EQ((*all)["available"], 3);
    ASSERT_EQ((*all)["helpstrings"].size(), 3u);
    EXPECT_EQ(
        (*all)["helpstrings"][2], (Json{{"pack", "web"}, {"display", "status <host>"}, {"description", "Status"}})
    );
    Result<Json> filtered = HelpStrings(aliases, "DEPLOY", "", 0, 0);
    EXPECT_EQ((*filtered)["available"], 1);
    Result<Json> page = HelpStrings(aliases, "", "", 1, 1);
    EXPECT_EQ((*page)["available"], 3);
    ASSERT_EQ((*page)["helpstrings"].size(), 1u);
    EXPECT_EQ((*page)["helpstrings"][0]["display"], "ship {{app}}");
    EXPECT_EQ((*HelpStrings(aliases, "", "web", 0, 0))["available"], 1);
    EXPECT_FALSE(HelpStrings(aliases, "(", "", 0, 0));
}

}  // namespace
}  // namespace squall::aliases
