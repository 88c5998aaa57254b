// local-shell-cmd runs commands as StackStorm does: `/bin/sh -c` (Python's shell=True) for the server's own user.
#include <gtest/gtest.h>

#include <string>

#include "runner_harness.hpp"

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

}  // namespace
}  // namespace squall::actionrunners
