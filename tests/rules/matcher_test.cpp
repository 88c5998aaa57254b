#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>

#include "squall/core/yaml_json.hpp"
#include "squall/rules/matcher.hpp"

namespace squall::rules {
namespace {

namespace fs = std::filesystem;

OperatorRegistry& Ops() {
    static OperatorRegistry* ops = [] {
        auto* r = new OperatorRegistry();  // NOLINT: test-wide immutable registry
        RegisterBuiltinOperators(*r);
        return r;
    }();
    return *ops;
}

packs::RuleMeta ParseRule(const std::string& yaml) {
    Result<core::YamlDocument> doc = core::ParseYaml(yaml, "rule.yaml");
    EXPECT_TRUE(doc) << doc.error().What();
    Result<packs::RuleMeta> r = packs::RuleMeta::FromDocument(*doc, "default");
    if (!r) throw std::runtime_error(r.error().What());
    return *r;
}

core::TriggerInstance Webhook(const std::string& url, const Json& body) {
    core::TriggerInstance ti;
    ti.id = "ti1";
    ti.trigger = "core.st2.webhook";
    ti.trigger_parameters = {{"url", url}};
    ti.payload = {{"headers", Json::object()}, {"body", body}};
    return ti;
}

TEST(OperatorRegistryTest, DuplicateRegistrationFails) {
    OperatorRegistry r;
    RegisterBuiltinOperators(r);
    EXPECT_FALSE(r.Register("EQUALS", {}, [](const Json*, const Json&) { return true; }));
    EXPECT_NE(r.Find("Eq"), nullptr);
}

TEST(MatcherTest, UnknownOperatorSuggestsAndLocates) {
    const std::string yaml =
        "name: on_push\npack: deploy\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: push\ncriteria:\n"
        "  trigger.body.ref:\n    type: equal\n    pattern: refs/heads/main\naction:\n  ref: core.noop\n";
    Result<core::YamlDocument> doc = core::ParseYaml(yaml, "packs/deploy/rules/on_push.yaml");
    ASSERT_TRUE(doc);
    packs::RuleMeta rule = ParseRule(yaml);
    Result<CompiledRulePtr> c = CompileRule(rule, Ops(), &*doc);
    ASSERT_FALSE(c);
    EXPECT_EQ(
        c.error().What(),
        "packs/deploy/rules/on_push.yaml:9:5: criteria.trigger.body.ref.type: unknown operator \"equal\" (did you mean "
        "\"equals\"?)"
    );
}

TEST(MatcherTest, EveryCriterionErrorIsReportedWhenAsked) {
    const std::string yaml =
        "name: r\npack: p\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: x\ncriteria:\n"
        "  trigger.a:\n    type: equal\n    pattern: 1\n"
        "  trigger.b:\n    type: search\n    condition: anyy\n    pattern:\n      item.name:\n        type: startwith\n"
        "        pattern: x\n"
        "  trigger.c:\n    type: equals\n    pattern: \"{{ trigger.m \"\naction:\n  ref: core.noop\n";
    Result<core::YamlDocument> doc = core::ParseYaml(yaml, "r.yaml");
    ASSERT_TRUE(doc);
    packs::RuleMeta rule = ParseRule(yaml);
    std::vector<Error> all;
    Result<CompiledRulePtr> c = CompileRule(rule, Ops(), &*doc, &all);
    ASSERT_FALSE(c);
    std::string text;
    for (const auto& e : all) text += e.What() + "\n";
    ASSERT_EQ(all.size(), 4u) << text;
    EXPECT_NE(text.find("r.yaml:9:5: criteria.trigger.a.type: unknown operator \"equal\""), std::string::npos) << text;
    EXPECT_NE(text.find("criteria.trigger.b.condition: search needs condition"), std::string::npos) << text;
    EXPECT_NE(text.find("unknown operator \"startwith\" (did you mean \"startswith\"?)"), std::string::npos) << text;
    EXPECT_NE(text.find("criteria.trigger.c.pattern: template error"), std::string::npos) << text;
    // Without `all`, the first error alone, as before.
    EXPECT_FALSE(CompileRule(rule, Ops(), &*doc));
}

TEST(MatcherTest, IndexesByWebhookUrlAndUsesBackstop) {
    auto compile = [](const std::string& yaml) { return *CompileRule(ParseRule(yaml), Ops()); };
    Matcher m({
        compile(
            "name: main\ntrigger: {type: core.st2.webhook, parameters: {url: push}}\ncriteria:\n  trigger.body.ref: "
            "{type: equals, pattern: refs/heads/main}\naction: {ref: core.noop}\n"
        ),
        compile("name: other\ntrigger: {type: core.st2.webhook, parameters: {url: other}}\naction: {ref: core.noop}\n"),
        compile("name: fallback\ntype: {ref: backstop}\ntrigger: {type: core.st2.webhook, parameters: {url: push}}\n"
                "action: {ref: core.noop}\n"),
        compile("name: disabled\nenabled: false\ntrigger: {type: core.st2.webhook, parameters: {url: push}}\naction: "
                "{ref: core.noop}\n"),
    });
    EXPECT_EQ(m.size(), 3u);
    auto hit = m.Match(Webhook("push", {{"ref", "refs/heads/main"}}));
    ASSERT_EQ(hit.size(), 1u);
    EXPECT_EQ(hit[0]->meta.name, "main");
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>> verdicts;
    auto miss = m.Match(Webhook("push", {{"ref", "refs/heads/dev"}}), &verdicts);
    ASSERT_EQ(miss.size(), 1u);
    EXPECT_EQ(miss[0]->meta.name, "fallback");
    ASSERT_EQ(verdicts.size(), 2u);
    EXPECT_EQ(
        verdicts[0].second.reason, "trigger.body.ref equals \"refs/heads/main\" failed (value \"refs/heads/dev\")"
    );
    EXPECT_TRUE(m.Match(Webhook("nobody", {})).empty());
}

/// Data-driven cases (DuckDB's sqllogictest idea): each tests/cases/rules/*.yaml has `rule`, `payload`, `expect`
/// and, for misses, the key of the first failing criterion. Each case is its own test
/// (RuleCases/RuleCaseTest.Passes/<file>_<index>_<name>), so that one failing case does not hide the others.
struct RuleCase {
    std::string file;  ///< full path
    size_t index = 0;  ///< in the file's `cases`
    std::string id;    ///< "file.yaml #index: name"
    std::string name;  ///< the test's name: [A-Za-z0-9_]
};

void PrintTo(const RuleCase& c, std::ostream* os) {
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

const std::string kRuleCaseDir = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/rules";

std::vector<std::string> RuleCaseFiles() {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(kRuleCaseDir)) {
        if (entry.path().extension() == ".yaml" || entry.path().extension() == ".jsonl")
            files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// The cases of one corpus file, read once per process: `cases` of a written YAML file, or one JSON object per
/// line of a generated .jsonl file (every test process lists all cases, and yaml-cpp takes ~0.1 s for a few
/// hundred). Null when the file does not load (RuleCaseFilesTest names it); `error` says why.
const Json& CaseList(const std::string& file, std::string* error = nullptr) {
    static std::map<std::string, std::pair<Json, std::string>> cache;
    auto it = cache.find(file);
    if (it == cache.end()) {
        Json list;
        std::string why;
        if (fs::path(file).extension() == ".jsonl") {
            std::ifstream in(file);
            list = Json::array();
            std::string line;
            for (size_t n = 1; std::getline(in, line); ++n) {
                if (line.empty()) continue;
                Json c = Json::parse(line, nullptr, false);
                if (c.is_discarded()) {
                    why = file + ":" + std::to_string(n) + ": not a JSON object";
                    list = nullptr;
                    break;
                }
                list.push_back(std::move(c));
            }
        } else {
            Result<core::YamlDocument> doc = core::LoadYamlFile(file);
            if (!doc)
                why = doc.error().What();
            else if (!doc->value["cases"].is_array())
                why = file + ": `cases` must be a list";
            else
                list = std::move(doc->value["cases"]);
        }
        it = cache.emplace(file, std::make_pair(std::move(list), std::move(why))).first;
    }
    if (error) *error = it->second.second;
    return it->second.first;
}

std::vector<RuleCase> RuleCases() {
    std::vector<RuleCase> cases;
    for (const auto& file : RuleCaseFiles()) {
        const Json& list = CaseList(file);
        if (!list.is_array()) continue;  // RuleCaseFilesTest names it
        const fs::path p(file);
        for (size_t i = 0; i < list.size(); ++i) {
            const std::string name = list[i].is_object() ? list[i].value("name", "") : "";
            cases.push_back(
                {file,
                 i,
                 p.filename().string() + " #" + std::to_string(i) + ": " + name,
                 Sanitized(p.stem().string(), 30) + "_" + std::to_string(i) + "_" + Sanitized(name, 60)}
            );
        }
    }
    return cases;
}

class RuleCaseTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(RuleCaseTest, Passes) {
    const RuleCase& rc = GetParam();
    SCOPED_TRACE(rc.id);
    std::string error;
    const Json& list = CaseList(rc.file, &error);
    ASSERT_TRUE(list.is_array()) << error;
    const Json& c = list[rc.index];
    core::YamlDocument rule_doc;
    rule_doc.file = rc.file;
    rule_doc.value = c["rule"];
    rule_doc.value["name"] = "case";
    rule_doc.value["trigger"] = {{"type", "test.trigger"}};
    if (!rule_doc.value.contains("action")) rule_doc.value["action"] = {{"ref", "core.noop"}};
    Result<packs::RuleMeta> rule = packs::RuleMeta::FromDocument(rule_doc, "default");
    ASSERT_TRUE(rule) << rule.error().What();
    Result<CompiledRulePtr> compiled = CompileRule(*rule, Ops());
    if (c.contains("error")) {  // a load-time error whose message contains this text
        ASSERT_FALSE(compiled) << "expected a load error";
        EXPECT_NE(compiled.error().What().find(c["error"].get<std::string>()), std::string::npos)
            << compiled.error().What();
        return;
    }
    ASSERT_TRUE(compiled) << compiled.error().What();
    core::TriggerInstance ti;
    ti.trigger = "test.trigger";
    ti.payload = c["payload"];
    RuleVerdict v = Matcher::Evaluate(**compiled, ti);
    EXPECT_EQ(v.matched, c["expect"].get<bool>()) << v.reason;
    if (c.contains("failing")) {
        bool found = false;
        for (const auto& cv : v.criteria) found = found || (!cv.passed && cv.key == c["failing"].get<std::string>());
        EXPECT_TRUE(found) << "expected " << c["failing"] << " to fail; reason: " << v.reason;
    }
    // The fast path (no verdicts), the indexed Matcher and the Matcher asked for verdicts agree with Evaluate.
    EXPECT_EQ(Matcher::Matches(**compiled, ti.payload), v.matched);
    Matcher m({*compiled});
    EXPECT_EQ(m.Match(ti).size(), v.matched ? 1u : 0u);
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>> verdicts;
    EXPECT_EQ(m.Match(ti, &verdicts).size(), v.matched ? 1u : 0u);
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts[0].second.matched, v.matched);
    EXPECT_EQ(verdicts[0].second.reason, v.reason);
}

INSTANTIATE_TEST_SUITE_P(
    RuleCases,
    RuleCaseTest,
    ::testing::ValuesIn(RuleCases()),
    [](const ::testing::TestParamInfo<RuleCase>& info) { return info.param.name; }
);

TEST(RuleCaseFilesTest, EveryFileLoadsAndTheCorpusIsLarge) {
    const std::vector<std::string> files = RuleCaseFiles();
    ASSERT_FALSE(files.empty()) << "no *.yaml in " << kRuleCaseDir;
    for (const auto& file : files) {
        std::string error;
        EXPECT_TRUE(CaseList(file, &error).is_array()) << error;
    }
    EXPECT_GE(RuleCases().size(), 150u);
}

core::TriggerInstance Instance(const Json& payload) {
    core::TriggerInstance ti;
    ti.id = "ti";
    ti.trigger = "test.trigger";
    ti.payload = payload;
    return ti;
}

CompiledRulePtr Rule(const std::string& name, const Json& criteria, const std::string& type = "standard") {
    packs::RuleMeta meta;
    meta.name = name;
    meta.pack = "default";
    meta.type = type;
    meta.trigger_type = "test.trigger";
    meta.criteria = criteria;
    Result<CompiledRulePtr> c = CompileRule(meta, Ops());
    if (!c) throw std::runtime_error(c.error().What());
    return *c;
}

std::vector<std::string> Names(const std::vector<CompiledRulePtr>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules) out.push_back(r->meta.name);
    return out;
}

TEST(MatcherIndexTest, EqualityIndexNarrowsCandidatesAndKeepsOrder) {
    std::vector<CompiledRulePtr> rules;
    for (int i = 0; i < 1000; ++i)
        rules.push_back(Rule("eq" + std::to_string(i), {{"trigger.n", {{"type", "equals"}, {"pattern", i}}}}));
    rules.push_back(Rule("any", {{"trigger.n", {{"type", "gt"}, {"pattern", 500}}}}));
    rules.push_back(Rule("no_criteria", Json::object()));
    // Template patterns are not indexed: they depend on the payload.
    rules.push_back(Rule("tmpl", {{"trigger.n", {{"type", "eq"}, {"pattern", "{{ trigger.m }}"}}}}));
    // Two equals criteria: indexed by one, the other still evaluated.
    rules.push_back(Rule(
        "two",
        {{"trigger.n", {{"type", "equals"}, {"pattern", 700}}}, {"trigger.s", {{"type", "equals"}, {"pattern", "x"}}}}
    ));
    Matcher m(rules);
    auto cands = m.Candidates(Instance({{"n", 700}, {"m", 700}}));
    EXPECT_EQ(Names(cands), (std::vector<std::string>{"eq700", "any", "no_criteria", "tmpl", "two"}));
    EXPECT_EQ(
        Names(m.Match(Instance({{"n", 700}, {"m", 700}}))),
        (std::vector<std::string>{"eq700", "any", "no_criteria", "tmpl"})
    );
    EXPECT_EQ(
        Names(m.Match(Instance({{"n", 700.0}, {"s", "x"}, {"m", 1}}))),
        (std::vector<std::string>{"eq700", "any", "no_criteria", "two"})
    );
    // Python equality: True == 1, so the rule with pattern 1 is a candidate and matches.
    EXPECT_EQ(Names(m.Match(Instance({{"n", true}}))), (std::vector<std::string>{"eq1", "no_criteria"}));
    // A value of another shape never equals a scalar pattern; only unindexed rules remain.
    EXPECT_EQ(
        Names(m.Candidates(Instance({{"n", Json::array({1})}}))),
        (std::vector<std::string>{"any", "no_criteria", "tmpl"})
    );
    EXPECT_EQ(Names(m.Candidates(Instance({{"other", 1}}))), (std::vector<std::string>{"any", "no_criteria", "tmpl"}));
}

TEST(MatcherIndexTest, BackstopOnlyWhenNoStandardRuleMatchedWithIndex) {
    Matcher m({
        Rule("main", {{"trigger.ref", {{"type", "equals"}, {"pattern", "main"}}}}),
        Rule("fallback", {{"trigger.ref", {{"type", "exists"}}}}, "backstop"),
        Rule("fallback_eq", {{"trigger.ref", {{"type", "equals"}, {"pattern", "dev"}}}}, "backstop"),
    });
    EXPECT_EQ(Names(m.Match(Instance({{"ref", "main"}}))), (std::vector<std::string>{"main"}));
    EXPECT_EQ(Names(m.Match(Instance({{"ref", "dev"}}))), (std::vector<std::string>{"fallback", "fallback_eq"}));
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>> verdicts;
    EXPECT_EQ(Names(m.Match(Instance({{"ref", "x"}}), &verdicts)), (std::vector<std::string>{"fallback"}));
    ASSERT_EQ(verdicts.size(), 3u);  // with verdicts, every rule says why it did (not) match
    EXPECT_EQ(verdicts[0].second.reason, "trigger.ref equals \"main\" failed (value \"x\")");
    EXPECT_TRUE(verdicts[1].second.matched);
}

TEST(MatcherTest, EvaluateGivesEveryVerdict) {
    auto rule = Rule(
        "r",
        {{"trigger.a", {{"type", "equals"}, {"pattern", 1}}},
         {"trigger.b", {{"type", "regex"}, {"pattern", "^x"}}},
         {"trigger.c", {{"type", "equals"}, {"pattern", "{{ trigger.nope }}"}}}}
    );
    RuleVerdict v = Matcher::Evaluate(*rule, Instance({{"a", 1}, {"b", "yx"}, {"c", 3}}));
    EXPECT_FALSE(v.matched);
    ASSERT_EQ(v.criteria.size(), 3u);
    EXPECT_TRUE(v.criteria[0].passed);
    EXPECT_FALSE(v.criteria[1].passed);
    EXPECT_EQ(v.criteria[1].value, "yx");
    EXPECT_EQ(v.criteria[1].pattern, "^x");
    EXPECT_FALSE(v.criteria[2].passed);
    EXPECT_FALSE(v.criteria[2].passed);  // an undefined name never equals 3
    EXPECT_EQ(v.reason, "trigger.b regex \"^x\" failed (value \"yx\")");
}

TEST(OperatorsTest, TimeDiffUsesTheInjectedClock) {
    core::ManualClock clock(std::chrono::system_clock::from_time_t(1700000000));  // 2023-11-14T22:13:20Z
    OperatorRegistry r;
    RegisterBuiltinOperators(r, &clock);
    const OperatorFn& lt = *r.Find("timediff_lt");
    const OperatorFn& gt = *r.Find("td_gt");
    const Json ts = "2023-11-14T22:12:20Z";  // 60 s earlier
    EXPECT_TRUE(lt(&ts, 61));
    EXPECT_FALSE(lt(&ts, 60));
    EXPECT_TRUE(gt(&ts, 59.5));
    const Json offset = "2023-11-14T23:12:20+01:00";  // the same instant
    EXPECT_TRUE(lt(&offset, 61));
    EXPECT_FALSE(gt(&offset, 60));
}

TEST(OperatorsTest, PyEqualsAndEqualityKeyAgree) {
    const std::vector<Json> values = {1, 1.0, true, 0, false, 0.0, "1", 2.5, -3, "a", 18446744073709551615ull};
    for (const auto& a : values) {
        for (const auto& b : values) {
            if (rules::PyEquals(a, b)) EXPECT_EQ(EqualityKey(a), EqualityKey(b)) << a << " " << b;
        }
    }
    EXPECT_TRUE(rules::PyEquals(Json::parse(R"({"a":[1,true]})"), Json::parse(R"({"a":[1.0,1]})")));
    EXPECT_EQ(EqualityKey(Json::array()), "");
}

TEST(OperatorsTest, CriteriaPaths) {
    auto steps = ParseCriteriaPath("trigger.a['b.c'][2][*].d", "trigger");
    ASSERT_TRUE(steps);
    ASSERT_EQ(steps->size(), 5u);
    EXPECT_EQ((*steps)[1].name, "b.c");
    EXPECT_EQ((*steps)[2].index, 2);
    EXPECT_EQ((*steps)[3].kind, PathStep::Kind::kWildcard);
    EXPECT_FALSE(ParseCriteriaPath("trigger.a[", "trigger"));
    EXPECT_FALSE(ParseCriteriaPath("trigger.a[x]", "trigger"));
    EXPECT_FALSE(ParseCriteriaPath("trigger..a", "trigger"));
}

}  // namespace
}  // namespace squall::rules
