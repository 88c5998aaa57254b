// `squall rule test` end to end through the built binary, with --payload (no server needed).
#include <gtest/gtest.h>

#include <fstream>

#include "squall_process.hpp"
#include "temp_dir.hpp"

namespace squall::test {
namespace {

class RuleTestCliTest : public ::testing::Test {
protected:
    std::string Write(const std::string& name, const std::string& text) {
        const std::string path = (dir_.path() / name).string();
        std::ofstream(path) << text;
        return path;
    }
    CliResult Run(const std::vector<std::string>& args) {
        // An unreachable API: --payload must not need the server.
        return SquallProcess::RunBinary(
            args, {{"SQUALL_API_URL", "http://127.0.0.1:1/api/v1"}}, std::chrono::seconds(30)
        );
    }
    TempDir dir_;
};

constexpr const char* kRule = R"(name: on_push
pack: deploy
trigger:
  type: core.st2.webhook
  parameters: {url: push}
criteria:
  trigger.body.ref:
    type: equals
    pattern: refs/heads/main
  trigger.body.commits:
    type: search
    condition: any
    pattern:
      item.message: {type: icontains, pattern: deploy}
action:
  ref: core.noop
)";

TEST_F(RuleTestCliTest, MatchPrintsEveryCriterionAndExitsZero) {
    const std::string rule = Write("rule.yaml", kRule);
    const std::string payload = Write(
        "payload.json", R"({"headers": {}, "body": {"ref": "refs/heads/main", "commits": [{"message": "Deploy it"}]}})"
    );
    CliResult r = Run({"rule", "test", rule, "--payload", payload});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("PASS trigger.body.ref equals \"refs/heads/main\" \"refs/heads/main\""), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("PASS trigger.body.commits search"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("MATCH deploy.on_push"), std::string::npos) << r.out;
}

TEST_F(RuleTestCliTest, NoMatchNamesTheFailingCriterionAndExitsOne) {
    const std::string rule = Write("rule.yaml", kRule);
    const std::string payload = Write("payload.json", R"({"body": {"ref": "refs/heads/dev", "commits": []}})");
    // The positional form of SPEC §4: an existing file is the payload.
    CliResult r = Run({"rule", "test", rule, payload});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAIL trigger.body.ref equals \"refs/heads/main\" \"refs/heads/dev\""), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("FAIL trigger.body.commits search"), std::string::npos) << r.out;
    // The first failing criterion in the file's order, as st2's filter walks the criteria dict.
    EXPECT_NE(r.out.find("NO MATCH deploy.on_push: trigger.body.ref equals"), std::string::npos) << r.out;
}

TEST_F(RuleTestCliTest, DisabledRulesOtherTriggersAndBrokenParametersAreNoMatch) {
    const std::string payload =
        Write("payload.json", R"({"body": {"ref": "refs/heads/main", "commits": [{"message": "deploy"}]}})");
    std::string text = kRule;
    const std::string disabled = Write("disabled.yaml", "enabled: false\n" + text);
    CliResult r = Run({"rule", "test", disabled, "--payload", payload});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("NO MATCH deploy.on_push: the rule is disabled"), std::string::npos) << r.out;

    const std::string instance = Write(
        "instance.json",
        R"({"trigger": "core.st2.IntervalTimer", "payload": {"body": {"ref": "refs/heads/main",)"
        R"( "commits": [{"message": "deploy"}]}}})"
    );
    r = Run({"rule", "test", Write("rule.yaml", kRule), "--payload", instance});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(
        r.out.find("the trigger instance is a core.st2.IntervalTimer, the rule listens to core.st2.webhook"),
        std::string::npos
    ) << r.out;

    const std::string broken = Write(
        "broken.yaml",
        text.replace(
            text.find("  ref: core.noop"),
            std::string("  ref: core.noop").size(),
            "  ref: core.local\n  parameters:\n"
            "    cmd: \"echo {{ trigger.nope.x }}\""
        )
    );
    r = Run({"rule", "test", broken, "--payload", payload});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("NO MATCH deploy.on_push: action parameters: template error"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("'trigger.nope' is undefined"), std::string::npos) << r.out;
}

TEST_F(RuleTestCliTest, AbsentValueIsShown) {
    const std::string rule = Write("rule.yaml", kRule);
    const std::string payload = Write("payload.yaml", "body: {x: 1}\n");
    CliResult r = Run({"rule", "test", rule, "--payload", payload});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("FAIL trigger.body.ref equals \"refs/heads/main\" <absent>"), std::string::npos) << r.out;
}

TEST_F(RuleTestCliTest, UnknownOperatorIsALoadErrorWithLocation) {
    const std::string rule = Write(
        "bad.yaml",
        "name: bad\ntrigger:\n  type: test.event\ncriteria:\n  trigger.body.ref:\n    type: equal\n"
        "    pattern: x\naction:\n  ref: core.noop\n"
    );
    const std::string payload = Write("payload.json", "{\"body\": {}}");
    CliResult r = Run({"rule", "test", rule, "--payload", payload});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("bad.yaml:6:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("did you mean \"equals\"?"), std::string::npos) << r.err;
}

TEST_F(RuleTestCliTest, MissingPayloadIsUsageError) {
    const std::string rule = Write("rule.yaml", kRule);
    CliResult r = Run({"rule", "test", rule});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("usage: squall rule test"), std::string::npos) << r.err;
}

TEST_F(RuleTestCliTest, WarnsWhenTriggerDataReachesAShellCommand) {
    const std::string rule = Write(
        "shell.yaml",
        "name: shell\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: x}\naction:\n  ref: core.local\n"
        "  parameters:\n    cmd: 'echo {{ trigger.body.name }}'\n"
    );
    const std::string payload = Write("payload.json", R"J({"body": {"name": "$(id>/tmp/x)"}})J");
    CliResult r = Run({"rule", "test", rule, "--payload", payload});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(
        r.err.find("warning: rule default.shell renders trigger data into the shell command (action.parameters.cmd)"),
        std::string::npos
    ) << r.err;
    const std::string safe = Write(
        "safe.yaml",
        "name: safe\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: x}\naction:\n  ref: core.local\n"
        "  parameters:\n    cmd: 'echo \"$NAME\"'\n    env: {NAME: '{{ trigger.body.name }}'}\n"
    );
    CliResult ok = Run({"rule", "test", safe, "--payload", payload});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(ok.err.find("warning"), std::string::npos) << ok.err;
}

}  // namespace
}  // namespace squall::test
