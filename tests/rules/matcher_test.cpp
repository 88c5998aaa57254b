#include <gtest/gtest.h>

#include <filesystem>

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
    if (!r)
        throw std::runtime_error(r.error().What());
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
/// and, for misses, the key of the first failing criterion.
TEST(RuleCasesTest, AllCasesPass) {
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(std::string(SQUALL_SOURCE_DIR) + "/tests/cases/rules")) {
        if (entry.path().extension() != ".yaml")
            continue;
        Result<core::YamlDocument> doc = core::LoadYamlFile(entry.path().string());
        ASSERT_TRUE(doc) << doc.error().What();
        for (const auto& c : doc->value["cases"]) {
            SCOPED_TRACE(entry.path().filename().string() + ": " + c.value("name", ""));
            core::YamlDocument rule_doc;
            rule_doc.file = entry.path().string();
            rule_doc.value = c["rule"];
            rule_doc.value["name"] = "case";
            rule_doc.value["trigger"] = {{"type", "test.trigger"}};
            rule_doc.value["action"] = {{"ref", "core.noop"}};
            Result<packs::RuleMeta> rule = packs::RuleMeta::FromDocument(rule_doc, "default");
            ASSERT_TRUE(rule) << rule.error().What();
            Result<CompiledRulePtr> compiled = CompileRule(*rule, Ops());
            ASSERT_TRUE(compiled) << compiled.error().What();
            core::TriggerInstance ti;
            ti.trigger = "test.trigger";
            ti.payload = c["payload"];
            RuleVerdict v = Matcher::Evaluate(**compiled, ti);
            EXPECT_EQ(v.matched, c["expect"].get<bool>()) << v.reason;
            if (c.contains("failing")) {
                bool found = false;
                for (const auto& cv : v.criteria)
                    found = found || (!cv.passed && cv.key == c["failing"].get<std::string>());
                EXPECT_TRUE(found) << "expected " << c["failing"] << " to fail; reason: " << v.reason;
            }
            ++count;
        }
    }
    EXPECT_GE(count, 20u);
}

}  // namespace
}  // namespace squall::rules
