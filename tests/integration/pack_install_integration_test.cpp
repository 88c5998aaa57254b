// `squall pack install/list/get/remove/register` against a real `squall server` (embedded Redis), with packs
// in real git repositories made in a temp dir.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

constexpr auto Write = WriteFile;

std::string Action(const std::string& name, const std::string& says) {
    return "---\nname: " + name + "\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: string\n" +
           "    default: echo " + says + "\n";
}

/// The action's registration as the API sees it (HTTP status).
int ActionStatus(const SquallProcess& server, const std::string& ref) {
    httplib::Client http(server.host(), server.port());
    auto r = http.Get(("/api/v1/actions/" + ref).c_str(), {{"St2-Api-Key", server.api_key()}});
    return r ? r->status : -1;
}

TEST(PackInstallIntegrationTest, InstallRunUpgradeBreakAndRemove) {
    TempDir repos;
    TempDir data;
    const fs::path repo = repos.path() / "demo";
    fs::create_directories(repo);
    Git(repo, {"init", "-q"});
    Write(repo / "pack.yaml", "---\nref: demo\nname: Demo pack\nversion: 1.0.0\nauthor: t\n");
    Write(repo / "actions" / "hello.yaml", Action("hello", "hello-from-demo-v1"));
    Git(repo, {"add", "-A"});
    Git(repo, {"commit", "-q", "-m", "v1"});
    Git(repo, {"tag", "v1.0.0"});
    const std::string url = "file://" + repo.string();

    SquallProcess server({data.path().string(), "", {}});

    // Install 1.0.0: the CLI follows the execution's output and exits 0.
    CliResult install = server.Cli({"pack", "install", url + "=1.0.0"});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    EXPECT_NE(install.out.find("cloning " + url + "=1.0.0"), std::string::npos) << install.out;
    EXPECT_NE(install.out.find("checked out v1.0.0 ("), std::string::npos) << install.out;
    EXPECT_NE(install.out.find("validated: 1 actions, 0 rules"), std::string::npos) << install.out;
    EXPECT_NE(install.out.find("installed demo 1.0.0"), std::string::npos) << install.out;
    EXPECT_TRUE(fs::exists(data.path() / "packs" / "demo" / "actions" / "hello.yaml"));

    ASSERT_TRUE(WaitFor([&] { return ActionStatus(server, "demo.hello") == 200; }, 10s));
    CliResult run = server.Cli({"run", "demo.hello"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("hello-from-demo-v1"), std::string::npos) << run.out;

    CliResult list = server.Cli({"pack", "list"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("demo"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("packs"), std::string::npos) << list.out;  // the bundled packs pack
    CliResult list_json = server.Cli({"pack", "list", "-j"});
    ASSERT_EQ(list_json.exit_code, 0);
    Json packs = Json::parse(list_json.out, nullptr, false);
    ASSERT_TRUE(packs.is_array()) << list_json.out;
    bool found = false;
    for (const auto& p : packs) found = found || (p.value("ref", "") == "demo" && p.value("version", "") == "1.0.0");
    EXPECT_TRUE(found) << list_json.out;
    CliResult get = server.Cli({"pack", "get", "demo"});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    EXPECT_NE(get.out.find("version: 1.0.0"), std::string::npos) << get.out;
    EXPECT_NE(get.out.find("load_errors: none"), std::string::npos) << get.out;

    // A broken 2.0.0 fails with every error, and 1.0.0 stays in place and keeps running.
    Write(repo / "pack.yaml", "---\nref: demo\nname: Demo pack\nversion: 2.0.0\nauthor: t\n");
    Write(repo / "actions" / "bad.yaml", "---\nname: bad\ndescription: no runner type\n");
    // A timer rule whose schedule does not parse is an error of the install, as `rule create` refuses it; it was
    // registered and never fired.
    Write(
        repo / "rules" / "badtimer.yaml",
        "---\nname: badtimer\npack: demo\ntrigger:\n  type: core.st2.IntervalTimer\n  parameters:\n"
        "    unit: fortnights\n    delta: 1\naction:\n  ref: core.noop\n"
    );
    Git(repo, {"add", "-A"});
    Git(repo, {"commit", "-q", "-m", "v2 broken"});
    Git(repo, {"tag", "v2.0.0"});
    CliResult broken = server.Cli({"pack", "install", url + "=2.0.0"});
    EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
    EXPECT_NE(broken.err.find("demo/actions/bad.yaml:"), std::string::npos) << broken.err;
    EXPECT_NE(broken.err.find("demo/rules/badtimer.yaml:7:"), std::string::npos) << broken.err;
    EXPECT_NE(broken.err.find("trigger.parameters.unit"), std::string::npos) << broken.err;
    CliResult still = server.Cli({"run", "demo.hello"});
    ASSERT_EQ(still.exit_code, 0) << still.out << still.err;
    EXPECT_NE(still.out.find("hello-from-demo-v1"), std::string::npos) << still.out;

    // 3.0.0 replaces hello with bye: the new action appears, the old one disappears; the config file stays.
    Write(data.path() / "configs" / "demo.yaml", "---\n{}\n");
    fs::remove(repo / "actions" / "bad.yaml");
    fs::remove(repo / "rules" / "badtimer.yaml");
    fs::remove(repo / "actions" / "hello.yaml");
    Write(repo / "actions" / "bye.yaml", Action("bye", "bye-from-demo-v3"));
    Write(repo / "pack.yaml", "---\nref: demo\nname: Demo pack\nversion: 3.0.0\nauthor: t\n");
    Write(
        repo / "config.schema.yaml",
        "---\ngreeting:\n  type: string\n  default: hi\ncount:\n  type: integer\n  required: false\n"
    );
    Git(repo, {"add", "-A"});
    Git(repo, {"commit", "-q", "-m", "v3"});
    Git(repo, {"tag", "v3.0.0"});
    CliResult upgrade = server.Cli({"pack", "install", url + "=3.0.0"});
    ASSERT_EQ(upgrade.exit_code, 0) << upgrade.out << upgrade.err;
    EXPECT_NE(upgrade.out.find("installed demo 3.0.0"), std::string::npos) << upgrade.out;
    EXPECT_TRUE(fs::exists(data.path() / "configs" / "demo.yaml"));
    ASSERT_TRUE(WaitFor([&] { return ActionStatus(server, "demo.bye") == 200; }, 10s));
    EXPECT_TRUE(WaitFor([&] { return ActionStatus(server, "demo.hello") == 404; }, 10s));
    CliResult bye = server.Cli({"run", "demo.bye"});
    ASSERT_EQ(bye.exit_code, 0) << bye.out << bye.err;
    EXPECT_NE(bye.out.find("bye-from-demo-v3"), std::string::npos) << bye.out;

    // pack config merges key=value pairs (JSON when they parse) into the stored config.
    CliResult config = server.Cli({"pack", "config", "demo", "greeting=hello there", "count=3"});
    ASSERT_EQ(config.exit_code, 0) << config.out << config.err;
    EXPECT_NE(config.out.find("greeting: hello there"), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("count: 3"), std::string::npos) << config.out;
    CliResult config2 = server.Cli({"pack", "config", "demo", "count=4"});
    ASSERT_EQ(config2.exit_code, 0) << config2.out << config2.err;
    EXPECT_NE(config2.out.find("greeting: hello there"), std::string::npos) << config2.out;
    EXPECT_NE(config2.out.find("count: 4"), std::string::npos) << config2.out;
    CliResult bad_config = server.Cli({"pack", "config", "demo", "count=many"});
    EXPECT_NE(bad_config.exit_code, 0) << bad_config.out;
    EXPECT_NE(bad_config.err.find("count"), std::string::npos) << bad_config.err;

    // register re-reads from disk.
    CliResult reg = server.Cli({"pack", "register", "demo"});
    ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
    EXPECT_NE(reg.out.find("registered 1 packs: 1 actions, 0 rules"), std::string::npos) << reg.out;

    // remove: the folder and the registration go; the config file stays.
    CliResult remove = server.Cli({"pack", "remove", "demo"});
    ASSERT_EQ(remove.exit_code, 0) << remove.out << remove.err;
    EXPECT_FALSE(fs::exists(data.path() / "packs" / "demo"));
    EXPECT_TRUE(fs::exists(data.path() / "configs" / "demo.yaml"));
    EXPECT_TRUE(WaitFor([&] { return ActionStatus(server, "demo.bye") == 404; }, 10s));
    CliResult gone = server.Cli({"pack", "get", "demo"});
    EXPECT_NE(gone.exit_code, 0);
    CliResult remove_again = server.Cli({"pack", "remove", "demo"});
    EXPECT_EQ(remove_again.exit_code, 1);
    EXPECT_NE(remove_again.err.find("pack \"demo\" is not installed"), std::string::npos) << remove_again.err;

    // Bad API input is a 400 naming the field; the install API answers 202 with the execution id.
    httplib::Client http(server.host(), server.port());
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto bad = http.Post("/api/v1/packs/install", auth, R"({"packs": "x"})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("\\\"packs\\\" must be a list of strings"), std::string::npos) << bad->body;
    auto ok = http.Post("/api/v1/packs/install", auth, Json{{"packs", {url + "=1.0.0"}}}.dump(), "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 202) << ok->body;
    Json accepted = Json::parse(ok->body, nullptr, false);
    ASSERT_TRUE(accepted.is_object());
    EXPECT_FALSE(accepted.value("execution_id", "").empty()) << ok->body;

    EXPECT_EQ(server.Stop(), 0) << server.Output();
}

}  // namespace
}  // namespace squall::test
