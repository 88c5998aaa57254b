// Installing StackStorm-shaped packs over the bundled system packs, and actions whose runner the server lacks,
// against a real `squall server` (embedded Redis) with packs in real git repositories made in a temp dir
// (issue 12, items 11 and 12).
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

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

std::string ShellAction(const std::string& name, const std::string& says) {
    return "---\nname: " + name + "\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: string\n" +
           "    default: echo " + says + "\n";
}

/// A git repository holding a pack: `files` are path → text.
std::string MakeRepo(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& files) {
    fs::create_directories(dir);
    Git(dir, {"init", "-q"});
    for (const auto& [path, text] : files) WriteFile(dir / path, text);
    Git(dir, {"add", "-A"});
    Git(dir, {"commit", "-q", "-m", "pack"});
    return "file://" + dir.string();
}

Json GetJson(const SquallProcess& server, const std::string& path, int* status = nullptr) {
    httplib::Client http(server.host(), server.port());
    auto r = http.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", server.api_key()}});
    if (status) *status = r ? r->status : -1;
    return r ? Json::parse(r->body, nullptr, false) : Json();
}

int Status(const SquallProcess& server, const std::string& path) {
    int status = -1;
    GetJson(server, path, &status);
    return status;
}

class SystemPackIntegrationTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Shaped like StackStorm's core: one action Squall has built in, one it lacks, one for a runner it lacks.
        core_url_ = MakeRepo(
            repos_.path() / "core",
            {{"pack.yaml", "---\nref: core\nname: core\nversion: 3.8.1\nauthor: t\n"},
             {"actions/local.yaml", ShellAction("local", "impostor")},
             {"actions/hello.yaml", ShellAction("hello", "hello-from-installed-core")},
             {"actions/winrm_cmd.yaml",
              "---\nname: winrm_cmd\nrunner_type: winrm-cmd\nparameters:\n  command:\n    type: string\n"},
             {"actions/ps.yaml", "---\nname: ps\nrunner_type: winrm-ps-cmd\n"}}
        );
        // Shaped like StackStorm's packs pack: install is an Orquesta workflow there.
        packs_url_ = MakeRepo(
            repos_.path() / "packs",
            {{"pack.yaml", "---\nref: packs\nname: packs\nversion: 3.8.1\nauthor: t\n"},
             {"actions/install.yaml",
              "---\nname: install\nrunner_type: orquesta\nentry_point: workflows/install.yaml\n"},
             {"actions/workflows/install.yaml", "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n"},
             {"actions/get.yaml", ShellAction("get", "get-from-installed-packs")}}
        );
        demo_url_ = MakeRepo(
            repos_.path() / "demo",
            {{"pack.yaml", "---\nref: demo\nname: demo\nversion: 1.0.0\nauthor: t\n"},
             {"actions/hi.yaml", ShellAction("hi", "hi-from-demo")}}
        );
        server_ = std::make_unique<SquallProcess>(SquallProcess::Options{data_.path().string()});
    }
    void TearDown() override {
        if (server_) EXPECT_EQ(server_->Stop(), 0) << server_->Output();
    }

    TempDir repos_;
    TempDir data_;
    std::string core_url_;
    std::string packs_url_;
    std::string demo_url_;
    std::unique_ptr<SquallProcess> server_;
};

TEST_F(SystemPackIntegrationTest, AnActionOfAMissingRunnerIsAWarningAndCannotRun) {
    CliResult install = server_->Cli({"pack", "install", demo_url_});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    // core without --force: installed, with one warning per action it cannot run, file:line:col first.
    install = server_->Cli({"pack", "install", core_url_});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    EXPECT_NE(
        install.out.find(
            "warning: core/actions/winrm_cmd.yaml:3:1: runner_type: runner \"winrm-cmd\" is not available on this "
            "server: action \"core.winrm_cmd\" is registered but cannot run"
        ),
        std::string::npos
    ) << install.out;
    EXPECT_NE(install.out.find("runner \"winrm-ps-cmd\" is not available"), std::string::npos) << install.out;
    ASSERT_TRUE(WaitFor([&] { return Status(*server_, "/actions/core.winrm_cmd") == 200; }, 10s));
    Json action = GetJson(*server_, "/actions/core.winrm_cmd");
    EXPECT_EQ(action["unavailable"], "runner \"winrm-cmd\" is not available on this server") << action.dump();

    // Running it is refused, naming the runner; the rest of the pack runs.
    CliResult run = server_->Cli({"run", "core.winrm_cmd", "command=dir"});
    EXPECT_NE(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(
        (run.out + run.err)
            .find("action \"core.winrm_cmd\" cannot run: runner \"winrm-cmd\" is not available on this server"),
        std::string::npos
    ) << run.out
      << run.err;
    run = server_->Cli({"run", "core.hello"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("hello-from-installed-core"), std::string::npos) << run.out;

    CliResult get = server_->Cli({"pack", "get", "core"});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    EXPECT_NE(get.out.find("load_warnings:"), std::string::npos) << get.out;
    EXPECT_NE(get.out.find("core/actions/winrm_cmd.yaml:3:1"), std::string::npos) << get.out;
}

TEST_F(SystemPackIntegrationTest, InstalledCoreAndPacksAreMergedAndTheBuiltInsStay) {
    const std::string bundled_local = GetJson(*server_, "/actions/core.local").value("pack_path", "");
    ASSERT_FALSE(bundled_local.empty());
    CliResult install = server_->Cli({"pack", "install", core_url_, packs_url_});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    EXPECT_NE(
        install.out.find(
            "warning: core/actions/local.yaml: \"core.local\" is built into Squall's \"core\" pack, which keeps its "
            "own: this definition is not registered"
        ),
        std::string::npos
    ) << install.out;
    EXPECT_NE(
        install.out.find("warning: packs/actions/install.yaml: \"packs.install\" is built into"), std::string::npos
    ) << install.out;
    ASSERT_TRUE(WaitFor([&] { return Status(*server_, "/actions/packs.get") == 200; }, 10s));

    // The built-ins stay: core.local is Squall's, packs.install still installs.
    Json local = GetJson(*server_, "/actions/core.local");
    EXPECT_EQ(local["pack_path"], bundled_local) << local.dump();
    EXPECT_EQ(GetJson(*server_, "/actions/packs.install")["runner_type"], "pack-manager");
    CliResult run = server_->Cli({"run", "core.local", "cmd=echo still-squall"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("still-squall"), std::string::npos) << run.out;
    run = server_->Cli({"run", "packs.get"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("get-from-installed-packs"), std::string::npos) << run.out;
    CliResult demo = server_->Cli({"pack", "install", demo_url_});
    ASSERT_EQ(demo.exit_code, 0) << demo.out << demo.err;
    ASSERT_TRUE(WaitFor([&] { return Status(*server_, "/actions/demo.hi") == 200; }, 10s));

    Json pack = GetJson(*server_, "/packs/core");
    EXPECT_EQ(pack["path"], fs::path(bundled_local).string()) << pack.dump();
    EXPECT_EQ(pack["installed"]["version"], "3.8.1") << pack.dump();

    // A restart registers the bundled packs first, then merges the installed ones again.
    EXPECT_EQ(server_->Stop(), 0) << server_->Output();
    server_ = std::make_unique<SquallProcess>(SquallProcess::Options{data_.path().string()});
    EXPECT_EQ(GetJson(*server_, "/actions/core.local")["pack_path"], bundled_local);
    EXPECT_EQ(Status(*server_, "/actions/core.hello"), 200);
    EXPECT_EQ(GetJson(*server_, "/actions/packs.install")["runner_type"], "pack-manager");
    EXPECT_EQ(Status(*server_, "/actions/packs.get"), 200);

    // Removing the installed core leaves the built-in one.
    CliResult removed = server_->Cli({"pack", "remove", "core", "packs"});
    ASSERT_EQ(removed.exit_code, 0) << removed.out << removed.err;
    ASSERT_TRUE(WaitFor([&] { return Status(*server_, "/actions/core.hello") == 404; }, 10s));
    EXPECT_EQ(Status(*server_, "/actions/packs.get"), 404);
    EXPECT_EQ(GetJson(*server_, "/actions/core.local")["pack_path"], bundled_local);
    EXPECT_EQ(GetJson(*server_, "/actions/packs.install")["runner_type"], "pack-manager");
    EXPECT_FALSE(GetJson(*server_, "/packs/core").contains("installed"));
    removed = server_->Cli({"pack", "remove", "demo"});
    EXPECT_EQ(removed.exit_code, 0) << removed.out << removed.err;
}

}  // namespace
}  // namespace squall::test
