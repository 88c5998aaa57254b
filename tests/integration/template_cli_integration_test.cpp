// `squall template render` (issue 3 item 2) as a user runs it: the built binary, a context file, exit codes.
#include <gtest/gtest.h>

#include <map>

#include <chrono>
#include <fstream>

#include "squall_process.hpp"
#include "temp_dir.hpp"

namespace squall::test {
namespace {

using namespace std::chrono_literals;

class TemplateCliTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::ofstream(ctx_) << R"({"trigger": {"x": "push", "n": [1, 2], "commits": [{"id": "a1"}, {"id": "b2"}]}})";
    }
    CliResult Render(std::vector<std::string> args) {
        args.insert(args.begin(), {"template", "render", "--context", ctx_});
        return SquallProcess::RunBinary(args, {}, 30s);
    }
    TempDir dir_;
    std::string ctx_ = (dir_.path() / "ctx.json").string();
};

TEST_F(TemplateCliTest, PrintsTextOrTheTypedValue) {
    CliResult text = Render({"event={{ trigger.x | upper }} {{ trigger.n }}"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_EQ(text.out, "event=PUSH [1, 2]\n");
    CliResult typed = Render({"--json", "{{ trigger.n }}"});
    ASSERT_EQ(typed.exit_code, 0) << typed.err;
    EXPECT_EQ(typed.out, "[1,2]\n");
}

TEST_F(TemplateCliTest, ARenderErrorExits2WithColumnAndText) {
    CliResult bad = Render({"{{ trigger.x | uper }}"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(
        bad.err.find(
            R"(template error at column 14: unknown filter "uper" (did you mean "upper"?) in "{{ trigger.x | uper }}")"
        ),
        std::string::npos
    ) << bad.err;
    CliResult undefined = Render({"{{ trigger.nope.x }}"});
    EXPECT_EQ(undefined.exit_code, 2);
    EXPECT_NE(undefined.err.find("trigger.nope"), std::string::npos) << undefined.err;
}

TEST_F(TemplateCliTest, StackStormFlagTrimsBlocksAsTheEnforcerDoes) {
    const std::string tpl = "{% for c in trigger.commits %}\n  {{ c.id }}\n{% endfor %}\n";
    CliResult jinja = Render({tpl});
    ASSERT_EQ(jinja.exit_code, 0) << jinja.err;
    EXPECT_EQ(jinja.out, "\n  a1\n\n  b2\n\n");  // Jinja2's defaults (and one trailing newline dropped)
    CliResult st2 = Render({"--stackstorm", tpl});
    ASSERT_EQ(st2.exit_code, 0) << st2.err;
    EXPECT_EQ(st2.out, "  a1\n  b2\n\n");  // trim_blocks + lstrip_blocks, as StackStorm renders parameters
}

}  // namespace
}  // namespace squall::test

namespace squall::test {
namespace {

// `--help` after any command prints that command's usage and exits 0, as `st2 <command> --help` does; it is never
// taken for an option that needs a value. No server is needed.
TEST(CliHelpTest, EveryCommandAnswersHelpWithItsUsage) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--help"}, "usage: squall <command>"},
        {{"server", "--help"}, "--data-dir DIR"},
        {{"run", "--help"}, "run <action-ref>"},
        {{"execution", "--help"}, "execution re-run <id>"},
        {{"execution", "list", "--help"}, "execution list [--action REF]"},
        {{"execution", "list", "-n", "5", "--help"}, "execution list [--action REF]"},
        {{"rule", "test", "-h"}, "rule test <rule.yaml>"},
        {{"pack", "install", "--help"}, "squall pack install <source>"},
        {{"key", "set", "--help"}, "set NAME VALUE"},
        {{"inquiry", "--help"}, "inquiry respond <id>"},
        {{"template", "render", "--help"}, "--stackstorm"},
    };
    for (const auto& [args, expected] : cases) {
        CliResult r = SquallProcess::RunBinary(args, {}, 30s);
        const std::string shown = "squall " + args[0] + (args.size() > 1 ? " " + args[1] : "");
        EXPECT_EQ(r.exit_code, 0) << shown << ": " << r.err;
        EXPECT_NE(r.out.find(expected), std::string::npos) << shown << " printed:\n" << r.out << r.err;
        EXPECT_EQ(r.err.find("needs a value"), std::string::npos) << shown << ": " << r.err;
    }
    CliResult unknown = SquallProcess::RunBinary({"nosuch", "--help"}, {}, 30s);
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown command \"nosuch\""), std::string::npos) << unknown.err;
}

// `--debug` anywhere prints each API request as the equivalent curl command (as st2 --debug does), with the key
// read from the environment instead of printed. Nothing listens on port 9: the request fails after the print.
TEST(CliHelpTest, DebugPrintsTheEquivalentCurlWithoutTheKey) {
    const std::map<std::string, std::string> env = {
        {"SQUALL_API_URL", "http://127.0.0.1:9/api/v1"}, {"SQUALL_API_KEY", "sekrit-key-123"}};
    CliResult r = SquallProcess::RunBinary({"action", "get", "core.local", "--debug"}, env, 30s);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(
        r.err.find("curl -X GET -H \"St2-Api-Key: $SQUALL_API_KEY\" 'http://127.0.0.1:9/api/v1/actions/core.local'"),
        std::string::npos
    ) << r.err;
    CliResult post = SquallProcess::RunBinary({"--debug", "key", "set", "greeting", "it's"}, env, 30s);
    EXPECT_NE(
        post.err.find("curl -X PUT -H \"St2-Api-Key: $SQUALL_API_KEY\" -H 'Content-Type: application/json'"),
        std::string::npos
    ) << post.err;
    EXPECT_NE(post.err.find("it'\\''s"), std::string::npos) << post.err;  // quoted for the shell
    EXPECT_EQ((r.out + r.err + post.out + post.err).find("sekrit-key-123"), std::string::npos);
}

}  // namespace
}  // namespace squall::test
