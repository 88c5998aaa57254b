#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/shell_common.hpp"
#include "files.hpp"
#include "runner_harness.hpp"
#include "temp_dir.hpp"

namespace squall::actionrunners {
namespace {

using test::ActionRequest;
using test::RunnerHarness;
using test::TestPackPath;

const Json kEchoSchema = {
    {"name", {{"type", "string"}}},
    {"count", {{"type", "integer"}}},
    {"flag", {{"type", "boolean"}}},
    {"off", {{"type", "boolean"}}},
    {"empty", {{"type", "string"}}},
    {"nothing", {{"type", "string"}}},
    {"token", {{"type", "string"}, {"secret", true}}},
    {"first", {{"type", "string"}, {"position", 0}}},
    {"items", {{"type", "array"}, {"position", 1}}},
    {"doc", {{"type", "object"}, {"position", 2}}},
    {"absent", {{"type", "string"}, {"position", 3}}},
    {"yes", {{"type", "boolean"}, {"position", 4}}},
    {"num", {{"type", "number"}, {"position", 5}}},
    // A runner parameter the action overrides: never an argument.
    {"timeout", {{"type", "integer"}, {"default", 20}}},
};

const Json kEchoParams = {
    {"name", "alice bob"},
    {"count", 3},
    {"flag", true},
    {"off", false},
    {"empty", ""},
    {"nothing", nullptr},
    {"token", "s3cr3t-token"},
    {"first", "one two"},
    {"items", {"a", "b", 3}},
    {"doc", {{"k", 1}}},
    {"yes", true},
    {"num", 1.5},
    {"timeout", 20},
    {"cwd", "/tmp"},
    {"env", {{"MY_VAR", "from env"}}},
    {"kwarg_op", "--"},
    {"sudo", false},
};

TEST(ScriptArgumentsTest, NamedThenPositionalAsStackStorm) {
    const Json action = {{"parameters", kEchoSchema}};
    const std::set<std::string> runner = {"cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"};
    EXPECT_EQ(
        ScriptArguments(action, kEchoParams, runner, "--"),
        (std::vector<std::string>{
            "--count=3",
            "--flag",
            "--name=alice bob",
            "--token=s3cr3t-token",
            "one two",
            "a,b,3",
            R"({"k":1})",
            "",
            "1",
            "1.5"})
    );
    Json p = {{"name", "x"}, {"flag", true}};
    EXPECT_EQ(
        ScriptArguments(action, p, runner, "-"), (std::vector<std::string>{"-flag", "-name=x", "", "", "", "", "", ""})
    );
    EXPECT_EQ(
        ScriptArguments(action, p, runner, ""), (std::vector<std::string>{"flag", "name=x", "", "", "", "", "", ""})
    );
}

TEST(LocalShellScriptTest, SudoPrefixesTheArgvAndKeepsThePasswordOnStdin) {
    const std::string script = TestPackPath() + "/actions/echo_args.sh";
    EXPECT_EQ(
        LocalShellScriptArgvForTest(script, {"--a=1"}, {{"sudo", true}}),
        (std::vector<std::string>{"sudo", "-E", "--", script, "--a=1"})
    );
    EXPECT_EQ(
        LocalShellScriptArgvForTest(script, {}, {{"sudo", true}, {"sudo_password", "pw"}}),
        (std::vector<std::string>{"sudo", "-S", "-E", "--", script})
    );
    EXPECT_EQ(LocalShellScriptArgvForTest(script, {"x"}, {{"sudo", false}}), (std::vector<std::string>{script, "x"}));
}

TEST(LocalShellScriptTest, RunsTheEntryPointWithArgumentsCwdAndEnv) {
    RunnerHarness h;
    RunRequest req = ActionRequest("echo_args", "local-shell-script", "echo_args.sh", kEchoSchema, kEchoParams);
    req.secret_values = {"s3cr3t-token"};
    test::RunReport r = h.Run("local-shell-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(
        r.result.result["stdout"],
        "arg:--count=3\narg:--flag\narg:--name=alice bob\narg:--token=********\narg:one two\narg:a,b,3\n"
        "arg:{\"k\":1}\narg:\narg:1\narg:1.5\ncwd:/tmp\nenv:from env\npack:squall_test"
    );
    EXPECT_EQ(r.result.result["return_code"], 0);
    EXPECT_EQ(r.result.result["succeeded"], true);
    EXPECT_EQ(r.result.result["failed"], false);
    EXPECT_EQ(r.result.result["stderr"], "");
    // Streamed line by line, masked too.
    std::vector<std::string> lines = r.Lines("stdout");
    ASSERT_EQ(lines.size(), 13u);
    EXPECT_EQ(lines[3], "arg:--token=********");
    EXPECT_EQ(r.result.result.dump().find("s3cr3t-token"), std::string::npos);
}

TEST(LocalShellScriptTest, FailureNamesTheScriptExitCodeAndStderr) {
    RunnerHarness h;
    test::RunReport r = h.Run("local-shell-script", ActionRequest("fail", "local-shell-script", "fail.sh", {}, {}));
    ASSERT_EQ(r.result.status, core::status::kFailed);
    EXPECT_EQ(r.result.result["return_code"], 3);
    EXPECT_EQ(r.result.result["stdout"], "about to fail");
    EXPECT_EQ(r.result.result["stderr"], "something went wrong");
    const std::string error = r.result.result["error"];
    EXPECT_NE(error.find("fail.sh"), std::string::npos) << error;
    EXPECT_NE(error.find("exited with code 3"), std::string::npos) << error;
    EXPECT_NE(error.find("something went wrong"), std::string::npos) << error;
}

TEST(LocalShellScriptTest, TimeoutKillsTheScript) {
    RunnerHarness h;
    test::RunReport r =
        h.Run("local-shell-script", ActionRequest("sleep", "local-shell-script", "sleep.sh", {}, {{"timeout", 1}}));
    EXPECT_EQ(r.result.status, core::status::kTimeout);
    EXPECT_EQ(r.result.result["return_code"], -9);
    EXPECT_EQ(r.result.result["stdout"], "sleeping");
}

TEST(LocalShellScriptTest, CancelStopsTheScript) {
    RunnerHarness h;
    RunRequest req = ActionRequest("sleep", "local-shell-script", "sleep.sh", {}, {{"timeout", 60}});
    auto pending = h.Start("local-shell-script", req);
    ASSERT_TRUE(squall::test::WaitFor(
        [&] {
            std::lock_guard lock(pending->mu);
            return !pending->report.lines.empty();
        },
        std::chrono::seconds(30)
    ));
    h.Get("local-shell-script").Cancel(req.execution_id);
    auto r = RunnerHarness::Wait(pending);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result.status, core::status::kCanceled);
}

TEST(LocalShellScriptTest, ScriptWithoutExecuteBitRunsThroughItsShebang) {
    squall::test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "actions");
    const auto script = dir.path() / "actions" / "plain.sh";
    std::ofstream(script) << "#!/bin/sh -e\necho \"plain $1\"\n";
    ::chmod(script.c_str(), 0644);
    RunnerHarness h;
    RunRequest req = ActionRequest(
        "plain", "local-shell-script", "plain.sh", {{"who", {{"type", "string"}, {"position", 0}}}}, {{"who", "me"}}
    );
    req.action["pack_path"] = dir.path().string();
    test::RunReport r = h.Run("local-shell-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["stdout"], "plain me");
}

TEST(LocalShellScriptTest, ASecretArgumentNeverShowsInPs) {
    // A shell script gets its arguments through the environment when one holds a secret: `ps` shows none.
    squall::test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "actions");
    const auto script = dir.path() / "actions" / "login.sh";
    std::ofstream(script) << "#!/bin/bash -e\nfor a in \"$@\"; do echo \"arg:$a\"; done\necho \"zero:$0\"\nsleep 30\n";
    ::chmod(script.c_str(), 0755);
    const std::string secret = "PsSecret-42 'quoted' $HOME \"x\"";
    RunnerHarness h;
    RunRequest req = ActionRequest(
        "login",
        "local-shell-script",
        "login.sh",
        {{"user", {{"type", "string"}, {"position", 0}}}, {"password", {{"type", "string"}, {"secret", true}}}},
        {{"user", "a b"}, {"password", secret}, {"timeout", 60}}
    );
    req.action["pack_path"] = dir.path().string();
    req.secret_values = {secret};
    auto pending = h.Start("local-shell-script", req);
    ASSERT_TRUE(squall::test::WaitFor(
        [&] {
            std::lock_guard lock(pending->mu);
            return pending->report.lines.size() >= 3;
        },
        std::chrono::seconds(30)
    ));
    EXPECT_TRUE(squall::test::LiveProcessesMatching("PsSecret-42").empty()) << "the secret is in a command line";
    EXPECT_FALSE(squall::test::LiveProcessesMatching(script.string()).empty());  // the script runs, as itself
    h.Get("local-shell-script").Cancel(req.execution_id);
    auto r = RunnerHarness::Wait(pending);
    ASSERT_TRUE(r);
    // The script saw its arguments exactly, and $0 is the script.
    EXPECT_EQ(
        r->result.result["stdout"],
        "arg:--password=********\narg:a b\nzero:" + std::filesystem::absolute(script).string()
    );
}

TEST(LocalShellScriptTest, MissingScriptOrPackPathFailsClearly) {
    RunnerHarness h;
    test::RunReport r = h.Run("local-shell-script", ActionRequest("gone", "local-shell-script", "gone.sh", {}, {}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("gone.sh"), std::string::npos);

    RunRequest req = ActionRequest("echo_args", "local-shell-script", "echo_args.sh", {}, {});
    req.action.erase("pack_path");
    r = h.Run("local-shell-script", req);
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("pack path"), std::string::npos);
}

}  // namespace
}  // namespace squall::actionrunners
