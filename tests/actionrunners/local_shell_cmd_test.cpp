// local-shell-cmd runs commands as StackStorm does: `/bin/sh -c` (Python's shell=True) for the server's own user.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/shell_common.hpp"
#include "runner_harness.hpp"
#include "temp_dir.hpp"

namespace squall::actionrunners {
namespace {

using test::ActionRequest;
using test::RunnerHarness;
using test::RunReport;

RunRequest Cmd(const std::string& name, const std::string& cmd) {
    return ActionRequest(name, "local-shell-cmd", "", Json::object(), {{"cmd", cmd}});
}

TEST(LocalShellCmdTest, RunsThroughShAsStackStormsShellTrue) {
    RunnerHarness h;
    RunReport r = h.Run("local-shell-cmd", Cmd("sh", "echo \"$0\"; echo a | tr a b"));
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["stdout"], "/bin/sh\nb");
}

// A bashism fails as it does under StackStorm, with what ran and its exit code in the error.
TEST(LocalShellCmdTest, ABashismFailsAsUnderStackStorm) {
    RunnerHarness h;
    RunReport r = h.Run("local-shell-cmd", Cmd("bashism", "[[ 1 == 1 ]] && echo yes"));
    ASSERT_EQ(r.result.status, core::status::kFailed) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["return_code"], 127);
    EXPECT_NE(r.result.result["stderr"].get<std::string>().find("[["), std::string::npos);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("[[ 1 == 1 ]]"), std::string::npos)
        << r.result.result["error"];
}

// A command killed at its timeout: the error says what ran, that it was killed, and the tail of its stderr, which
// often says why it hung.
TEST(LocalShellCmdTest, ATimeoutsErrorEndsWithTheTailOfStderr) {
    RunnerHarness h;
    RunRequest req = ActionRequest(
        "hang",
        "local-shell-cmd",
        "",
        Json::object(),
        {{"cmd", "echo waiting for db >&2; exec sleep 30"}, {"timeout", 1}}
    );
    RunReport r = h.Run("local-shell-cmd", req);
    ASSERT_EQ(r.result.status, core::status::kTimeout) << r.result.result.dump(2);
    const std::string error = r.result.result["error"];
    EXPECT_EQ(error.rfind("Action failed to complete in 1 seconds: `echo waiting for db", 0), 0u) << error;
    EXPECT_NE(error.find("exit code -9; stderr (last lines):\nwaiting for db"), std::string::npos) << error;
}

// `sudo: true` runs the command as StackStorm's ShellCommandAction does: `sudo -E -- bash -c CMD` (with `-S` and the
// password on stdin when one is given), so bash syntax works there. No sudo here: a stand-in on PATH records its
// arguments and runs what follows `--`.
TEST(LocalShellCmdTest, SudoRunsTheCommandThroughBash) {
    squall::test::TempDir dir;
    const std::filesystem::path fake = dir.path() / "sudo";
    std::ofstream(fake
    ) << "#!/bin/sh\nprintf 'sudo %s\\n' \"$*\" >&2\nif [ \"$1\" = -S ]; then read -r pw; echo \"pw=$pw\" >&2; fi\n"
         "while [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$@\"\n";
    ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
    const char* old = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
    const std::string saved = old ? old : "";
    ASSERT_EQ(::setenv("PATH", (dir.path().string() + ":" + saved).c_str(), 1), 0);  // NOLINT(concurrency-mt-unsafe)
    RunnerHarness h;
    RunRequest req = Cmd("sudo", "[[ 1 == 1 ]] && echo yes; echo {a,b}");
    req.parameters["sudo"] = true;
    RunReport r = h.Run("local-shell-cmd", req);
    req.parameters["sudo_password"] = "pw1";
    RunReport with_password = h.Run("local-shell-cmd", req);
    ::setenv("PATH", saved.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["stdout"], "yes\na b");
    EXPECT_NE(
        r.result.result["stderr"].get<std::string>().find("sudo -E -- /bin/bash -c [[ 1 == 1 ]]"), std::string::npos
    ) << r.result.result["stderr"];
    ASSERT_EQ(with_password.result.status, core::status::kSucceeded) << with_password.result.result.dump(2);
    EXPECT_EQ(with_password.result.result["stdout"], "yes\na b");
    const std::string err = with_password.result.result["stderr"];
    EXPECT_NE(err.find("sudo -S -E -- /bin/bash -c"), std::string::npos) << err;
    EXPECT_NE(err.find("pw="), std::string::npos) << err;  // the password came on stdin (masked in the result)
}

// A command holding a secret reaches sh through its environment (`ps` shows only the eval).
TEST(LocalShellCmdTest, ACommandHoldingASecretIsEvaluatedFromTheEnvironment) {
    RunnerHarness h;
    RunRequest req = Cmd("secret", "echo s3cret-value | wc -c; ps -o args= -p $$");
    req.secret_values = {"s3cret-value"};
    RunReport r = h.Run("local-shell-cmd", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    const std::string out = r.result.result["stdout"];
    EXPECT_EQ(out.find("s3cret-value"), std::string::npos) << out;
    EXPECT_NE(out.find("13"), std::string::npos) << out;
    EXPECT_NE(out.find("eval \"$ST2_ACTION_CMD\""), std::string::npos) << out;
}

// A simple command of plain words runs without the shell's own process (its parent is this process, not a sh),
// with its leading assignments in its environment, as sh would run it.
TEST(LocalShellCmdTest, APlainCommandRunsWithoutAShellProcess) {
    RunnerHarness h;
    // /proc/self/stat's fourth field is the parent's pid.
    RunReport r = h.Run("local-shell-cmd", Cmd("plain", "GREETING=hi /bin/cat /proc/self/stat"));
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    const std::string stat = r.result.result["stdout"];
    const size_t close = stat.rfind(')');
    ASSERT_NE(close, std::string::npos) << stat;
    // ") S <ppid> ..."
    const long ppid = std::strtol(stat.c_str() + close + 4, nullptr, 10);
    EXPECT_EQ(ppid, static_cast<long>(::getpid())) << stat;
    RunReport env = h.Run("local-shell-cmd", Cmd("env", "GREETING=hi env"));
    ASSERT_EQ(env.result.status, core::status::kSucceeded) << env.result.result.dump(2);
    EXPECT_NE(env.result.result["stdout"].get<std::string>().find("GREETING=hi"), std::string::npos);
}

// Builtins, keywords, shell syntax and programs that are not found go to sh, which decides as StackStorm's would.
TEST(LocalShellCmdTest, AnythingButPlainWordsGoesToTheShell) {
    RunnerHarness h;
    RunReport echo = h.Run("local-shell-cmd", Cmd("builtin", "echo -e x"));  // dash's echo prints -e
    ASSERT_EQ(echo.result.status, core::status::kSucceeded) << echo.result.result.dump(2);
    EXPECT_EQ(echo.result.result["stdout"], "-e x");
    RunReport missing = h.Run("local-shell-cmd", Cmd("missing", "no-such-program-here arg"));
    EXPECT_EQ(missing.result.result["return_code"], 127) << missing.result.result.dump(2);
    EXPECT_NE(missing.result.result["stderr"].get<std::string>().find("not found"), std::string::npos);

    std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"}};
    EXPECT_EQ(PlainCommandArgv("ls -l /tmp", env), (std::vector<std::string>{"/usr/bin/ls", "-l", "/tmp"}));
    EXPECT_EQ(PlainCommandArgv("A=1 B=x/y /bin/true", env), (std::vector<std::string>{"/bin/true"}));
    EXPECT_EQ(env["A"], "1");
    EXPECT_EQ(env["B"], "x/y");
    for (const char* shell : {"ls *.txt",    "ls $HOME",       "ls ~",     "ls | wc",
                              "ls > f",      "ls; ls",         "ls 'a b'", "ls \\a",
                              "ls `id`",     "ls && ls",       "A=1",      "cd /tmp",
                              "true",        "./local-script", "ls\nls",   "no-such-program-here",
                              "ls #comment", "A=$x ls",        "1A=b ls",  "ls {a,b}"}) {
        std::map<std::string, std::string> e = env;
        EXPECT_TRUE(PlainCommandArgv(shell, e).empty()) << shell;
        EXPECT_EQ(e, env) << shell;
    }
}

}  // namespace
}  // namespace squall::actionrunners
