// `squall template render` (issue 3 item 2) as a user runs it: the built binary, a context file, exit codes.
#include <gtest/gtest.h>

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
