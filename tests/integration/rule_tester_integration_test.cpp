// The rule tester over HTTP (POST /api/v1/rules/test, docs/api.md "Rule tester") and the executions list's `rule`
// and `trigger_type` filters, against the real binary with its embedded Redis: a webhook fires one of two rules; the
// tester gives every criterion's verdict, the first failing one and the rendered action parameters (a secret one
// masked) for stored rules and instances and for given ones; bad input is a 400 naming the field; non-admins get
// 403. The history lists the rule's executions by rule and by trigger type.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>

#include "git_repo.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

struct Answer {
    int status = 0;
    Json body;
    std::string total;
};

Answer Call(
    const SquallProcess& server,
    const std::string& method,
    const std::string& path,
    const Json& body = {},
    const std::string& key = ""
) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    httplib::Headers h = {{"St2-Api-Key", key.empty() ? server.api_key() : key}};
    httplib::Result r = method == "GET" ? c.Get(("/api/v1" + path).c_str(), h)
                                        : c.Post(("/api/v1" + path).c_str(), h, body.dump(), "application/json");
    if (!r) return {};
    return {r->status, Json::parse(r->body, nullptr, false), r->get_header_value("X-Total-Count")};
}

class RuleTesterIntegrationTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir();
        SquallProcess::Options o;
        o.data_dir = (dir_->path() / "d").string();
        const std::filesystem::path pack = dir_->path() / "d" / "packs" / "rt";
        WriteFile(pack / "pack.yaml", "---\nref: rt\nname: rt\nversion: 0.1.0\n");
        WriteFile(
            pack / "actions" / "say.yaml",
            "---\nname: say\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: \"true\"\n"
            "  who:\n    type: string\n  token:\n    type: string\n    secret: true\n"
        );
        WriteFile(
            pack / "rules" / "hit.yaml",
            "---\nname: hit\npack: rt\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: rt\ncriteria:\n"
            "  trigger.body.kind:\n    type: equals\n    pattern: build\naction:\n  ref: rt.say\n  parameters:\n"
            "    who: \"{{ trigger.body.who }}\"\n    token: \"t-{{ trigger.body.who }}\"\n"
        );
        WriteFile(
            pack / "rules" / "miss.yaml",
            "---\nname: miss\npack: rt\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: rt\ncriteria:\n"
            "  trigger.body.who:\n    type: startswith\n    pattern: bo\n  trigger.body.kind:\n    type: equals\n"
            "    pattern: deploy\naction:\n  ref: core.noop\n"
        );
        server_ = new SquallProcess(o);
        Answer posted = Call(*server_, "POST", "/webhooks/rt", {{"kind", "build"}, {"who", "bob"}});
        ASSERT_EQ(posted.status, 202) << posted.body.dump();
        instance_ = posted.body["id"];
        // The instance is stored and processed, and the matching rule's execution has ended.
        ASSERT_TRUE(WaitFor(
            [&] {
                Answer e = Call(*server_, "GET", "/executions?rule=rt.hit");
                return e.status == 200 && e.body.size() == 1 && e.body[0]["status"] == "succeeded";
            },
            30s
        )) << server_->Output();
    }
    static void TearDownTestSuite() {
        delete server_;
        delete dir_;
    }
    static TempDir* dir_;
    static SquallProcess* server_;
    static std::string instance_;
};
TempDir* RuleTesterIntegrationTest::dir_ = nullptr;
SquallProcess* RuleTesterIntegrationTest::server_ = nullptr;
std::string RuleTesterIntegrationTest::instance_;

TEST_F(RuleTesterIntegrationTest, StoredRuleAgainstStoredInstanceMatchesWithRenderedParameters) {
    Answer a = Call(*server_, "POST", "/rules/test", {{"rule", "rt.hit"}, {"trigger_instance", instance_}});
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["matched"], true) << a.body.dump(2);
    EXPECT_EQ(a.body["reason"], "");
    EXPECT_TRUE(a.body["failed_criterion"].is_null());
    ASSERT_EQ(a.body["criteria"].size(), 1u);
    EXPECT_EQ(a.body["criteria"][0]["key"], "trigger.body.kind");
    EXPECT_EQ(a.body["criteria"][0]["value"], "build");
    EXPECT_EQ(a.body["criteria"][0]["passed"], true);
    EXPECT_EQ(a.body["rule"]["ref"], "rt.hit");
    EXPECT_EQ(a.body["trigger_instance"]["id"], instance_);
    EXPECT_EQ(a.body["trigger_instance"]["trigger_parameters"], Json({{"url", "rt"}}));
    EXPECT_EQ(a.body["action"]["ref"], "rt.say");
    EXPECT_EQ(a.body["action"]["parameters"]["who"], "bob");
    EXPECT_EQ(a.body["action"]["parameters"]["token"], "********") << "a secret parameter is masked";
    EXPECT_EQ(a.body.dump().find("t-bob"), std::string::npos) << a.body.dump();
}

TEST_F(RuleTesterIntegrationTest, AMissNamesTheFirstFailingCriterion) {
    Answer a = Call(*server_, "POST", "/rules/test", {{"rule", "rt.miss"}, {"trigger_instance", instance_}});
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["matched"], false);
    EXPECT_EQ(a.body["reason"], "trigger.body.kind equals \"deploy\" failed (value \"build\")") << a.body.dump(2);
    ASSERT_EQ(a.body["criteria"].size(), 2u);
    EXPECT_EQ(a.body["failed_criterion"]["key"], "trigger.body.kind");
    EXPECT_EQ(a.body["failed_criterion"]["pattern"], "deploy");
    EXPECT_EQ(a.body["failed_criterion"]["passed"], false);
}

TEST_F(RuleTesterIntegrationTest, GivenRuleAndGivenInstance) {
    const Json rule = {
        {"name", "draft"},
        {"pack", "rt"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "rt"}}}}},
        {"criteria", {{"trigger.body.n", {{"type", "greaterthan"}, {"pattern", 3}}}}},
        {"action", {{"ref", "rt.say"}, {"parameters", {{"who", "n={{ trigger.body.n }}"}}}}}};
    Answer hit = Call(
        *server_, "POST", "/rules/test", {{"rule", rule}, {"trigger_instance", {{"payload", {{"body", {{"n", 5}}}}}}}}
    );
    ASSERT_EQ(hit.status, 200) << hit.body.dump();
    EXPECT_EQ(hit.body["matched"], true) << hit.body.dump(2);
    EXPECT_EQ(hit.body["trigger_instance"]["trigger"], "core.st2.webhook") << "the rule's trigger by default";
    EXPECT_EQ(hit.body["action"]["parameters"]["who"], "n=5");
    Answer low = Call(
        *server_, "POST", "/rules/test", {{"rule", rule}, {"trigger_instance", {{"payload", {{"body", {{"n", 1}}}}}}}}
    );
    ASSERT_EQ(low.status, 200);
    EXPECT_EQ(low.body["matched"], false);
    EXPECT_EQ(low.body["failed_criterion"]["key"], "trigger.body.n");
    // Another trigger type, or another webhook url, is no match whatever the criteria say.
    Answer other = Call(
        *server_,
        "POST",
        "/rules/test",
        {{"rule", rule},
         {"trigger_instance", {{"trigger", "core.st2.IntervalTimer"}, {"payload", {{"body", {{"n", 5}}}}}}}}
    );
    EXPECT_EQ(other.body["matched"], false);
    EXPECT_NE(other.body["reason"].get<std::string>().find("the rule listens to core.st2.webhook"), std::string::npos);
    Answer url = Call(
        *server_,
        "POST",
        "/rules/test",
        {{"rule", rule},
         {"trigger_instance", {{"trigger_parameters", {{"url", "elsewhere"}}}, {"payload", {{"body", {{"n", 5}}}}}}}}
    );
    EXPECT_EQ(url.body["matched"], false);
    EXPECT_NE(url.body["reason"].get<std::string>().find("trigger parameters"), std::string::npos) << url.body;
}

TEST_F(RuleTesterIntegrationTest, BadInputIsA400NamingTheField) {
    const auto fault = [](const Answer& a) {
        return a.body.is_object() ? a.body.value("faultstring", std::string()) : std::string();
    };
    Answer no_rule = Call(*server_, "POST", "/rules/test", {{"trigger_instance", instance_}});
    EXPECT_EQ(no_rule.status, 400);
    EXPECT_NE(fault(no_rule).find("\"rule\""), std::string::npos) << fault(no_rule);
    Answer unknown = Call(*server_, "POST", "/rules/test", {{"rule", "rt.nope"}, {"trigger_instance", instance_}});
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(fault(unknown), "rule: rule \"rt.nope\" not found");
    Answer no_ti = Call(*server_, "POST", "/rules/test", {{"rule", "rt.hit"}});
    EXPECT_EQ(no_ti.status, 400);
    EXPECT_NE(fault(no_ti).find("\"trigger_instance\""), std::string::npos) << fault(no_ti);
    Answer missing_ti = Call(*server_, "POST", "/rules/test", {{"rule", "rt.hit"}, {"trigger_instance", "nope"}});
    EXPECT_EQ(missing_ti.status, 400);
    EXPECT_EQ(fault(missing_ti).rfind("trigger_instance: ", 0), 0u) << fault(missing_ti);
    Answer bad_ti = Call(*server_, "POST", "/rules/test", {{"rule", "rt.hit"}, {"trigger_instance", 3}});
    EXPECT_EQ(bad_ti.status, 400);
    EXPECT_EQ(fault(bad_ti).rfind("trigger_instance: ", 0), 0u) << fault(bad_ti);
    Answer bad_trigger = Call(
        *server_, "POST", "/rules/test", {{"rule", "rt.hit"}, {"trigger_instance", {{"trigger", 1}, {"payload", {}}}}}
    );
    EXPECT_EQ(bad_trigger.status, 400);
    EXPECT_EQ(fault(bad_trigger).rfind("trigger_instance.trigger: ", 0), 0u) << fault(bad_trigger);
    const Json bad_rule = {
        {"name", "draft"},
        {"pack", "rt"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "rt"}}}}},
        {"criteria", {{"trigger.body.n", {{"type", "equal"}, {"pattern", 3}}}}},
        {"action", {{"ref", "rt.say"}}}};
    Answer op = Call(*server_, "POST", "/rules/test", {{"rule", bad_rule}, {"trigger_instance", instance_}});
    EXPECT_EQ(op.status, 400);
    EXPECT_EQ(fault(op).rfind("rule: ", 0), 0u) << fault(op);
    EXPECT_NE(fault(op).find("unknown operator \"equal\""), std::string::npos) << fault(op);
}

TEST_F(RuleTesterIntegrationTest, NonAdminsAreRefused) {
    Answer key = Call(*server_, "POST", "/apikeys", {{"user", "carol"}});
    ASSERT_EQ(key.status, 201) << key.body.dump();
    Answer a =
        Call(*server_, "POST", "/rules/test", {{"rule", "rt.hit"}, {"trigger_instance", instance_}}, key.body["key"]);
    EXPECT_EQ(a.status, 403) << a.body.dump();
}

TEST_F(RuleTesterIntegrationTest, ExecutionsFilterByRuleAndTriggerType) {
    Answer by_rule = Call(*server_, "GET", "/executions?rule=rt.hit");
    ASSERT_EQ(by_rule.status, 200);
    ASSERT_EQ(by_rule.body.size(), 1u);
    EXPECT_EQ(by_rule.total, "1");
    EXPECT_EQ(by_rule.body[0]["rule"]["ref"], "rt.hit");
    const std::string id = by_rule.body[0]["id"];
    // An execution that no rule created is in neither index.
    Answer manual = Call(*server_, "POST", "/executions", {{"action", "core.noop"}});
    ASSERT_EQ(manual.status, 201);
    for (const std::string q :
         {"trigger_type=core.st2.webhook",
          "trigger=core.st2.webhook",
          "rule=rt.hit&status=succeeded",
          "trigger_type=core.st2.webhook&action=rt.say",
          "rule=rt.hit&trigger_type=core.st2.webhook"}) {
        Answer a = Call(*server_, "GET", "/executions?" + q);
        ASSERT_EQ(a.status, 200) << q;
        ASSERT_EQ(a.body.size(), 1u) << q << ": " << a.body.dump();
        EXPECT_EQ(a.body[0]["id"], id) << q;
        EXPECT_EQ(a.total, "1") << q;
    }
    for (const std::string q :
         {"rule=rt.miss",
          "rule=rt.hit&status=failed",
          "trigger_type=core.st2.IntervalTimer",
          "rule=rt.hit&action=core.noop",
          "rule=rt.hit&offset=1"}) {
        Answer a = Call(*server_, "GET", "/executions?" + q);
        ASSERT_EQ(a.status, 200) << q;
        EXPECT_TRUE(a.body.empty()) << q << ": " << a.body.dump();
    }
}

}  // namespace
}  // namespace squall::test
