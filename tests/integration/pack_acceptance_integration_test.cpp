// Issue 4's acceptance, as one piece: a StackStorm-format pack (tests/cases/packs/acme: a shell-script action,
// a python action using the datastore and its config, an http action and a rule) committed to a git repo in a
// temp dir installs with `squall pack install file://...`, each action runs with the expected result, the rule
// fires from a webhook; a broken copy reports every error with file:line:column and leaves 1.0.0 running.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

const fs::path kAcme = fs::path(SQUALL_SOURCE_DIR) / "tests/cases/packs/acme";
constexpr const char* kSecret = "tok-3f9a1c77e2-secret";

/// A git repo holding a copy of the acme pack, committed.
fs::path CommitPackCopy(const fs::path& repos, const std::string& name) {
    const fs::path repo = repos / name;
    fs::copy(kAcme, repo, fs::copy_options::recursive);
    Git(repo, {"init", "-q"});
    Git(repo, {"add", "-A"});
    Git(repo, {"commit", "-q", "-m", "acme"});
    return repo;
}

std::string ReadText(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Replaces the first `from` in a file (the test fails if it is not there).
void Edit(const fs::path& file, const std::string& from, const std::string& to) {
    std::string text = ReadText(file);
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << file;
    text.replace(at, from.size(), to);
    WriteFile(file, text);
}

/// `squall run <ref> k=v... -j`: the execution as JSON.
Json RunAction(const SquallProcess& server, const std::vector<std::string>& args) {
    std::vector<std::string> cli = {"run"};
    cli.insert(cli.end(), args.begin(), args.end());
    cli.push_back("-j");
    CliResult r = server.Cli(cli);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j;
}

Json Get(const SquallProcess& server, const std::string& path, int* status = nullptr) {
    httplib::Client http(server.host(), server.port());
    auto r = http.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", server.api_key()}});
    if (status != nullptr) *status = r ? r->status : -1;
    return r ? Json::parse(r->body, nullptr, false) : Json();
}

TEST(PackAcceptanceIntegrationTest, InstallFromGitRunEveryActionAndTheRuleThenRejectABrokenCopy) {
    TempDir repos;
    TempDir data;
    const fs::path repo = CommitPackCopy(repos.path(), "acme");
    SquallProcess server({data.path().string(), "", {}});

    CliResult install = server.Cli({"pack", "install", "file://" + repo.string()});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    EXPECT_NE(install.out.find("validated: 3 actions, 1 rules"), std::string::npos) << install.out;
    EXPECT_NE(install.out.find("installed acme 1.0.0"), std::string::npos) << install.out;
    // Installed means usable: the very next request sees the pack's rule, action and webhook.
    int status = 0;
    Get(server, "/rules/acme.on_visit", &status);
    EXPECT_EQ(status, 200);
    Get(server, "/actions/acme.visits", &status);
    EXPECT_EQ(status, 200);
    {
        httplib::Client early(server.host(), server.port());
        auto r = early.Post(
            "/api/v1/webhooks/acme_visit",
            {{"St2-Api-Key", server.api_key()}},
            R"({"name": "Not A Name"})",
            "application/json"
        );
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 202) << r->body;
    }

    // The pack config: the API URL the http action calls, a greeting, and a secret only the action sees.
    CliResult config = server.Cli(
        {"pack", "config", "acme", "api_url=" + server.api_url(), "greeting=Howdy", std::string("api_token=") + kSecret}
    );
    ASSERT_EQ(config.exit_code, 0) << config.out << config.err;
    EXPECT_NE(config.out.find("api_token: ********"), std::string::npos) << config.out;
    EXPECT_EQ(config.out.find(kSecret), std::string::npos) << config.out;

    // local-shell-script: named arguments (--count=3, the bare --verbose flag) then positional ones in order.
    Json report = RunAction(server, {"acme.report", "service=web", "count=3", "verbose=true"});
    EXPECT_EQ(report.value("status", ""), "succeeded") << report.dump();
    EXPECT_EQ(report["result"].value("stdout", ""), "arg: --count=3\narg: --verbose\narg: web\narg: staging")
        << report.dump();
    CliResult bad_report = server.Cli({"run", "acme.report", "service=web", "environment=moon"});
    EXPECT_EQ(bad_report.exit_code, 2) << bad_report.out << bad_report.err;
    EXPECT_NE(
        bad_report.err.find(R"(parameter "environment": "moon" is not one of ["staging","production"])"),
        std::string::npos
    ) << bad_report.err;

    // python-script: the datastore counts visits across runs, the config greets, the secret reaches the action.
    Json first = RunAction(server, {"acme.visits", "name=ann"});
    ASSERT_EQ(first.value("status", ""), "succeeded") << first.dump();
    EXPECT_EQ(first["result"]["result"], Json({{"message", "Howdy, ann!"}, {"visits", 1}, {"has_token", true}}))
        << first.dump();
    Json second = RunAction(server, {"acme.visits", "name=ann"});
    EXPECT_EQ(second["result"]["result"].value("visits", 0), 2) << second.dump();
    EXPECT_EQ(Get(server, "/keys/acme.visits.ann").value("value", ""), "2");

    // http-request: the URL comes from the config (config_context in the action's default); 2xx succeeds.
    Json health = RunAction(server, {"acme.health"});
    EXPECT_EQ(health.value("status", ""), "succeeded") << health.dump();
    EXPECT_EQ(health["parameters"].value("url", ""), server.api_url() + "/health") << health.dump();
    EXPECT_EQ(health["result"].value("status_code", 0), 200) << health.dump();
    EXPECT_EQ(health["result"]["body"].value("status", ""), "ok") << health.dump();

    // The rule: a webhook with a matching name runs acme.visits (the third visit); a non-matching one does not.
    httplib::Client http(server.host(), server.port());
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto miss = http.Post("/api/v1/webhooks/acme_visit", auth, R"({"name": "Not A Name"})", "application/json");
    ASSERT_TRUE(miss);
    EXPECT_EQ(miss->status, 202);
    auto hit = http.Post("/api/v1/webhooks/acme_visit", auth, R"({"name": "ann"})", "application/json");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->status, 202);
    Json by_rule;
    ASSERT_TRUE(WaitFor(
        [&] {
            by_rule = Get(server, "/executions?action=acme.visits&status=succeeded");
            return by_rule.is_array() && by_rule.size() == 3;
        },
        20s
    )) << by_rule.dump();
    bool third = false;
    for (const auto& e : by_rule) third = third || e["result"]["result"].value("visits", 0) == 3;
    EXPECT_TRUE(third) << by_rule.dump();
    EXPECT_EQ(Get(server, "/keys/acme.visits.ann").value("value", ""), "3");

    // `squall rule test --trigger-instance ID` replays both stored trigger instances against the rule file.
    std::string hit_id;
    std::string miss_id;
    for (const auto& ti : Get(server, "/triggerinstances?limit=100")) {
        const Json body = ti.value("payload", Json::object()).value("body", Json::object());
        const std::string name = body.is_object() ? body.value("name", "") : "";
        if (name == "ann") hit_id = ti.value("id", "");
        if (name == "Not A Name") miss_id = ti.value("id", "");
    }
    ASSERT_FALSE(hit_id.empty());
    ASSERT_FALSE(miss_id.empty());
    const std::string rule_file = (kAcme / "rules/on_visit.yaml").string();
    CliResult matches = server.Cli({"rule", "test", rule_file, "--trigger-instance", hit_id});
    EXPECT_EQ(matches.exit_code, 0) << matches.out << matches.err;
    EXPECT_NE(matches.out.find("PASS"), std::string::npos) << matches.out;
    EXPECT_NE(matches.out.find("\"ann\""), std::string::npos) << matches.out;
    CliResult no_match = server.Cli({"rule", "test", rule_file, "--trigger-instance", miss_id});
    EXPECT_EQ(no_match.exit_code, 1) << no_match.out << no_match.err;
    EXPECT_NE(no_match.out.find("FAIL"), std::string::npos) << no_match.out;
    EXPECT_NE(no_match.out.find("\"Not A Name\""), std::string::npos) << no_match.out;
    CliResult unknown = server.Cli({"rule", "test", rule_file, "--trigger-instance", "0123456789abcdef01234567"});
    EXPECT_EQ(unknown.exit_code, 2) << unknown.out << unknown.err;

    // The secret config value is in no execution record and not in the server's log.
    Json all = Get(server, "/executions?limit=100");
    EXPECT_EQ(all.dump().find(kSecret), std::string::npos);
    EXPECT_EQ(server.Output().find(kSecret), std::string::npos);

    // A broken copy (1.1.0): every error is reported with file:line:column, and 1.0.0 keeps running.
    const fs::path broken = CommitPackCopy(repos.path(), "acme_broken");
    Edit(broken / "pack.yaml", "version: 1.0.0", "version: 1.1.0");
    Edit(broken / "actions/report.yaml", "runner_type: local-shell-script", "runner_type: local-shell-scirpt");
    Edit(broken / "actions/visits.yaml", "entry_point: visits.py", "entry_point: visit.py");
    Edit(broken / "actions/health.yaml", "    type: number", "    type: nubmer");
    Edit(broken / "rules/on_visit.yaml", "type: regex", "type: regx");
    Edit(broken / "config.schema.yaml", "  type: string\n  default: Hello", "  type: string\n  defualt: Hello");
    Git(broken, {"commit", "-q", "-am", "broken"});
    CliResult rejected = server.Cli({"pack", "install", "file://" + broken.string()});
    EXPECT_EQ(rejected.exit_code, 1) << rejected.out << rejected.err;
    const std::string& e = rejected.err;
    EXPECT_NE(
        e.find("acme/actions/report.yaml:3:1: runner_type: unknown runner \"local-shell-scirpt\""), std::string::npos
    ) << e;
    EXPECT_NE(e.find("did you mean \"local-shell-script\""), std::string::npos) << e;
    EXPECT_NE(
        e.find("acme/actions/visits.yaml:6:14: entry_point: file \"actions/visit.py\" does not exist in the pack (did "
               "you mean \"visits.py\"?)"),
        std::string::npos
    ) << e;
    EXPECT_NE(e.find("acme/actions/health.yaml:14:5: parameters.timeout.type:"), std::string::npos) << e;
    EXPECT_NE(
        e.find("acme/rules/on_visit.yaml:12:5: criteria.trigger.body.name.type: unknown operator \"regx\""),
        std::string::npos
    ) << e;
    EXPECT_NE(e.find("did you mean \"regex\""), std::string::npos) << e;
    EXPECT_NE(e.find("acme/config.schema.yaml:5:3: greeting.defualt:"), std::string::npos) << e;
    EXPECT_EQ(Get(server, "/packs/acme").value("version", ""), "1.0.0");
    Json still = RunAction(server, {"acme.visits", "name=bob"});
    EXPECT_EQ(still["result"]["result"].value("message", ""), "Howdy, bob!") << still.dump();
}

}  // namespace
}  // namespace squall::test
