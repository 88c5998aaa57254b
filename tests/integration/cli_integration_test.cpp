// Squall's own CLI as a new user meets it (issue 15 item 7), with the real binary: `squall login` saves a token in
// a 0600 CLI config and later commands send it ($SQUALL_AUTH_TOKEN too); list tables fit the terminal ($COLUMNS),
// long cells cut with an ellipsis; every command and subcommand answers --help and -h; and the examples pack's
// http action reaches the API of the server that runs it, whatever port it listens on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "git_repo.hpp"
#include "io_runner.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/executions/store.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

constexpr const char* kPassword = "carol-Pw-5151-secret";

int AddUser(const std::string& data_dir, const std::string& name, const std::string& password) {
    const std::string cmd =
        SquallProcess::Binary() + " user add " + name + " --data-dir " + data_dir + " >/dev/null 2>&1";
    FILE* p = popen(cmd.c_str(), "w");
    if (p == nullptr) return -1;
    std::fputs((password + "\n").c_str(), p);
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Display columns of UTF-8 text.
size_t Columns(const std::string& text) {
    size_t n = 0;
    for (const unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
}

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

class CliTest : public ::testing::Test {
protected:
    void SetUp() override {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        server_ = std::make_unique<SquallProcess>(o);
        config_ = (dir_.path() / "home" / "cli.json").string();
    }
    /// `squall args` as a user with no API key in the environment, the CLI config in the test's directory.
    CliResult Run(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
        env.emplace("SQUALL_CLI_CONFIG", config_);
        env.emplace("SQUALL_API_KEY", "");
        env.emplace("SQUALL_AUTH_TOKEN", "");
        env.emplace("SQUALL_PASSWORD", "");
        return SquallProcess::RunBinary(args, env, 60s);
    }

    TempDir dir_;
    std::unique_ptr<SquallProcess> server_;
    std::string config_;
};

TEST_F(CliTest, LoginSavesATokenThatLaterCommandsSend) {
    ASSERT_EQ(AddUser((dir_.path() / "d").string(), "carol", kPassword), 0);
    // Nothing saved yet: refused, and the message says why.
    CliResult r = Run({"whoami"}, {{"SQUALL_API_URL", server_->api_url()}});
    EXPECT_EQ(r.exit_code, ExitCode(ErrorCode::kUnauthenticated)) << r.out << r.err;
    r = Run({"login", "carol", "-p", "wrong"}, {{"SQUALL_API_URL", server_->api_url()}});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("ERROR"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(config_));

    r = Run({"login", "carol", "-p", kPassword}, {{"SQUALL_API_URL", server_->api_url()}});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Logged in as carol"), std::string::npos) << r.out;
    struct stat st {};
    ASSERT_EQ(::stat(config_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(config_);
    const Json saved = Json::parse(in, nullptr, false);
    ASSERT_TRUE(saved.is_object());
    EXPECT_EQ(saved["user"], "carol");
    EXPECT_EQ(saved["api_url"], server_->api_url());
    const std::string token = saved.value("token", "");
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(r.out.find(token), std::string::npos) << "the token is not printed";

    // Later commands: the saved URL and token, no environment needed.
    r = Run({"whoami"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Currently logged in as \"carol\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("authentication token"), std::string::npos) << r.out;
    r = Run({"run", "core.local", "cmd=echo from-carol"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("from-carol"), std::string::npos) << r.out;
    // Hers are listed (the store's index by user); an admin-only operation says so.
    r = Run({"execution", "list", "-j"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json listed = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(listed.is_array()) << r.out;
    ASSERT_EQ(listed.size(), 1u) << r.out;
    EXPECT_EQ(listed[0]["context"]["user"], "carol");
    r = Run({"pack", "register"});
    EXPECT_EQ(r.exit_code, ExitCode(ErrorCode::kPermissionDenied)) << r.out << r.err;
    EXPECT_NE(r.err.find("admin"), std::string::npos) << r.err;
    // --debug names the variable, never the token.
    r = Run({"--debug", "whoami"});
    EXPECT_NE(r.err.find("X-Auth-Token: $SQUALL_AUTH_TOKEN"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(token), std::string::npos);

    // SQUALL_AUTH_TOKEN alone (another config, nothing saved there) works as well.
    r = SquallProcess::RunBinary(
        {"whoami"},
        {{"SQUALL_CLI_CONFIG", (dir_.path() / "other.json").string()},
         {"SQUALL_API_URL", server_->api_url()},
         {"SQUALL_API_KEY", ""},
         {"SQUALL_AUTH_TOKEN", token}},
        60s
    );
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"carol\""), std::string::npos);
    // An API key in the environment wins over the saved token.
    r = Run({"whoami"}, {{"SQUALL_API_KEY", server_->api_key()}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("\"admin\""), std::string::npos) << r.out;

    r = Run({"logout"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Run({"whoami"});
    EXPECT_EQ(r.exit_code, ExitCode(ErrorCode::kUnauthenticated)) << r.out << r.err;
}

TEST_F(CliTest, ListTablesFitTheTerminalAndCutLongCellsWithAnEllipsis) {
    const std::map<std::string, std::string> admin = {
        {"SQUALL_API_URL", server_->api_url()}, {"SQUALL_API_KEY", server_->api_key()}};
    auto with = [&](const std::string& columns) {
        auto env = admin;
        env["COLUMNS"] = columns;
        return env;
    };
    CliResult narrow = SquallProcess::RunBinary({"action", "list"}, with("70"), 60s);
    ASSERT_EQ(narrow.exit_code, 0) << narrow.err;
    const std::vector<std::string> lines = Lines(narrow.out);
    ASSERT_GT(lines.size(), 5u);
    bool cut = false;
    for (const auto& line : lines) {
        EXPECT_LE(Columns(line), 70u) << line;
        cut = cut || line.find("\u2026") != std::string::npos;
    }
    EXPECT_TRUE(cut) << narrow.out;
    EXPECT_EQ(lines[0].rfind("ref", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("description"), std::string::npos) << "titles stay whole: " << lines[0];
    EXPECT_NE(narrow.out.find("core.local "), std::string::npos) << "short cells stay whole";

    // A wide terminal shows every description whole.
    CliResult wide = SquallProcess::RunBinary({"action", "list"}, with("400"), 60s);
    ASSERT_EQ(wide.exit_code, 0) << wide.err;
    EXPECT_EQ(wide.out.find("\u2026"), std::string::npos) << wide.out;
    CliResult j = SquallProcess::RunBinary({"action", "get", "core.local", "-j"}, admin, 60s);
    ASSERT_EQ(j.exit_code, 0);
    const std::string description = Json::parse(j.out)["description"];
    EXPECT_NE(wide.out.find(description), std::string::npos) << wide.out;
    // The same for the other tables (datastore keys here: seven columns, whose titles alone take 67).
    ASSERT_EQ(SquallProcess::RunBinary({"key", "set", "long", std::string(300, 'v')}, admin, 60s).exit_code, 0);
    CliResult keys = SquallProcess::RunBinary({"key", "list"}, with("80"), 60s);
    ASSERT_EQ(keys.exit_code, 0) << keys.err;
    for (const auto& line : Lines(keys.out)) EXPECT_LE(Columns(line), 80u) << line;
    EXPECT_NE(keys.out.find("vvv\u2026"), std::string::npos) << keys.out;
}

TEST_F(CliTest, TheExamplesPacksHttpActionReachesThisServersApiOnAnyPort) {
    // The server listens on a free port, not 9101: the pack's api_url default (/api/v1) is resolved against it.
    ASSERT_EQ(server_->api_url().find(":9101/"), std::string::npos);
    CliResult r = server_->Cli({"run", "examples.api_health", "-j"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const Json e = Json::parse(r.out, nullptr, false);
    EXPECT_EQ(e["status"], "succeeded") << r.out;
    EXPECT_EQ(e["result"]["status_code"], 200) << r.out;
}

// The README walkthrough's re-run: an execution a rule created (examples.sample renders {{ trigger.body.name }}) runs
// again with the values rendered against its trigger, as StackStorm's liveaction keeps them.
TEST_F(CliTest, ReRunOfARuleCreatedExecutionKeepsItsRenderedParameters) {
    CliResult r = server_->Cli({"run", "core.local", "cmd=true"});  // the server is up and running actions
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string curl = "curl -sf -X POST -H 'St2-Api-Key: " + server_->api_key() +
                             "' -H 'Content-Type: application/json' -d '{\"name\": \"Squall\"}' " + server_->api_url() +
                             "/webhooks/sample >/dev/null";
    ASSERT_EQ(std::system(curl.c_str()), 0);
    std::string id;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult list =
                server_->Cli({"execution", "list", "--action", "examples.greet", "--status", "succeeded", "-j"});
            const Json rows = Json::parse(list.out, nullptr, false);
            if (rows.is_array() && !rows.empty()) id = rows[0]["id"];
            return !id.empty();
        },
        30s
    ));
    ASSERT_FALSE(id.empty());
    r = server_->Cli({"execution", "re-run", id, "-j"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const Json again = Json::parse(r.out, nullptr, false);
    EXPECT_EQ(again["status"], "succeeded") << r.out;
    EXPECT_EQ(again["parameters"]["name"], "Squall") << r.out;
    EXPECT_NE(again["result"]["stdout"].get<std::string>().find("Hello, Squall!"), std::string::npos) << r.out;
}

/// `squall execution tail ID` on `server` while an action waits on `gate`, a FIFO it reads a line from: the test opens
/// it and writes "second" once the tail has subscribed (the stream's listeners flag is set), so that what the action
/// does next is written while the tail follows it.
CliResult TailThroughGate(
    const SquallProcess& server, const fs::path& data_dir, const std::string& id, const std::string& gate
) {
    IoRunner io;
    core::RedisEndpoint ep;
    ep.unix_path = (data_dir / "redis" / "redis.sock").string();
    auto redis = core::RedisClient::Create(io.io(), ep);
    const std::string listeners = executions::Keys(ep.key_prefix).EventListeners();
    EXPECT_TRUE(redis->CommandBlocking({"DEL", listeners}));  // an earlier tail's flag is not this one's
    CliResult tail;
    std::thread tailing([&] { tail = server.Cli({"execution", "tail", id}); });
    const bool subscribed = WaitFor(
        [&] {
            Result<core::RedisReply> r = redis->CommandBlocking({"EXISTS", listeners});
            return r && r->integer == 1;
        },
        30s
    );
    // A FIFO opens for writing (without blocking) once its reader, the action, waits on it.
    int fd = -1;
    const bool reading = WaitFor([&] { return (fd = open(gate.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; }, 30s);
    if (reading) {
        EXPECT_EQ(write(fd, "second\n", 7), 7);
        close(fd);
    }
    tailing.join();
    redis->Close();
    EXPECT_TRUE(subscribed);
    EXPECT_TRUE(reading);
    return tail;
}

// squall execution tail, as st2 execution tail: the output of a running execution as it comes, then its end; an
// execution that has ended prints its output and that it has completed.
TEST_F(CliTest, ExecutionTailFollowsTheOutputUntilTheEnd) {
    const std::string gate = (dir_.path() / "gate").string();
    ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
    CliResult started =
        server_->Cli({"run", "core.local", "cmd=echo first; read line < " + gate + "; echo $line", "-a", "-j"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    const std::string id = Json::parse(started.out).value("id", "");
    ASSERT_FALSE(id.empty()) << started.out;
    // "first" is stored before the tail begins: the tail prints it from the stored output, then what the stream
    // brings, each line once.
    httplib::Client http(server_->host(), server_->port());
    ASSERT_TRUE(WaitFor(
        [&] {
            auto r = http.Get(("/api/v1/executions/" + id + "/output").c_str(), {{"St2-Api-Key", server_->api_key()}});
            return r && r->status == 200 && r->body == "first\n";
        },
        30s
    ));

    CliResult tail = TailThroughGate(*server_, dir_.path() / "d", id, gate);
    ASSERT_EQ(tail.exit_code, 0) << tail.out << tail.err;
    EXPECT_EQ(tail.out, "first\nsecond\n\nExecution " + id + " has completed (status=succeeded).\n");

    CliResult again = server_->Cli({"execution", "tail", id});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, "first\nsecond\n\nExecution " + id + " has completed (status=succeeded).\n");
    CliResult stderr_only = server_->Cli({"execution", "tail", id, "--type", "stderr"});
    EXPECT_EQ(stderr_only.out, "\nExecution " + id + " has completed (status=succeeded).\n");

    CliResult missing = server_->Cli({"execution", "tail", "nope"});
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
}

// squall run --tail, as st2 run --tail: the output as execution tail prints it (as it comes, or all of it when the
// execution ended before the tail began), then the execution as without --tail, and run's exit code.
TEST_F(CliTest, RunTailFollowsTheOutputThenPrintsTheResult) {
    CliResult ok = server_->Cli({"run", "core.local", "cmd=echo one; echo two", "--tail"});
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(ok.out.rfind("Tailing execution \"", 0), 0u) << ok.out;
    const size_t lines = ok.out.find("one\ntwo\n");
    const size_t end = ok.out.find("has completed (status=succeeded).");
    const size_t result = ok.out.find("status: succeeded");
    ASSERT_NE(lines, std::string::npos) << ok.out;
    ASSERT_NE(end, std::string::npos) << ok.out;
    ASSERT_NE(result, std::string::npos) << ok.out;
    EXPECT_LT(lines, end);
    EXPECT_LT(end, result);

    CliResult failed = server_->Cli({"run", "core.local", "cmd=echo bad >&2; exit 3", "--tail"});
    EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
    EXPECT_NE(failed.out.find("bad\n"), std::string::npos) << failed.out;
    EXPECT_NE(failed.out.find("has completed (status=failed)."), std::string::npos) << failed.out;
}

// Tailing a workflow, as st2 execution tail does: its tasks' output, each task's start and end, then the workflow's
// end (the same lines st2 prints, checked against it by hand). The first task waits on a FIFO the test opens once
// the tail has subscribed, so the tasks after it start while the tail follows.
TEST(CliTailTest, AWorkflowsTailFollowsItsTasks) {
    TempDir dir;
    const fs::path data = dir.path() / "d";
    const std::string gate = (dir.path() / "gate").string();
    ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
    WriteFile(data / "packs" / "tl" / "pack.yaml", "---\nref: tl\nname: tl\nversion: 0.1.0\n");
    WriteFile(
        data / "packs" / "tl" / "actions" / "wf.yaml",
        "---\nname: wf\nrunner_type: orquesta\nentry_point: workflows/wf.yaml\n"
    );
    WriteFile(
        data / "packs" / "tl" / "actions" / "workflows" / "wf.yaml",
        "version: 1.0\ntasks:\n  zero:\n    action: core.local\n    input:\n      cmd: read line < " + gate +
            "\n    next:\n      - do: one\n  one:\n    action: core.local cmd=\"echo second\"\n    next:\n      - do: "
            "two\n  two:\n    action: core.local cmd=\"echo two-err >&2\"\n"
    );
    SquallProcess::Options o;
    o.data_dir = data.string();
    SquallProcess server(o);
    CliResult started = server.Cli({"run", "tl.wf", "-a", "-j"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    const std::string id = Json::parse(started.out).value("id", "");
    ASSERT_FALSE(id.empty()) << started.out;

    CliResult tail = TailThroughGate(server, data, id, gate);
    ASSERT_EQ(tail.exit_code, 0) << tail.out << tail.err;
    CliResult tasks = server.Cli({"execution", "get", id, "--show-tasks", "-j"});
    ASSERT_EQ(tasks.exit_code, 0) << tasks.err;
    const Json got = Json::parse(tasks.out, nullptr, false);
    ASSERT_TRUE(got.is_object()) << tasks.out;
    std::map<std::string, std::string> task_ids;
    for (const auto& t : got.value("tasks", Json::array())) {
        task_ids[t.value("task", "")] = t.value("id", "");
    }
    ASSERT_EQ(task_ids.size(), 3u) << tasks.out;
    const std::string one = task_ids["one"], two = task_ids["two"];
    const std::string expected_end = "Child execution (task=one) " + one +
                                     " has started.\n\nsecond\n\n"
                                     "Child execution (task=one) " +
                                     one + " has finished (status=succeeded).\nChild execution (task=two) " + two +
                                     " has started.\n\ntwo-err\n\nChild execution (task=two) " + two +
                                     " has finished (status=succeeded).\n\nExecution " + id +
                                     " has completed (status=succeeded).\n";
    ASSERT_GE(tail.out.size(), expected_end.size()) << tail.out;
    EXPECT_EQ(tail.out.substr(tail.out.size() - expected_end.size()), expected_end) << tail.out;
}

TEST(CliHelpTest, EveryCommandAndSubcommandAnswersHelp) {
    const std::vector<std::vector<std::string>> commands = {
        {"run"},
        {"server"},
        {"execution"},
        {"execution", "list"},
        {"execution", "get"},
        {"execution", "tail"},
        {"execution", "cancel"},
        {"execution", "re-run"},
        {"execution", "pause"},
        {"execution", "resume"},
        {"deadletter", "list"},
        {"action", "list"},
        {"action", "get"},
        {"rule", "list"},
        {"rule", "get"},
        {"rule", "create"},
        {"rule", "delete"},
        {"rule", "test"},
        {"trigger-instance", "list"},
        {"trigger-instance", "get"},
        {"trigger-instance", "re-emit"},
        {"trace", "list"},
        {"trace", "get"},
        {"alias", "list"},
        {"alias", "match"},
        {"alias", "execute"},
        {"inquiry", "list"},
        {"inquiry", "respond"},
        {"pack", "install"},
        {"pack", "remove"},
        {"pack", "list"},
        {"pack", "get"},
        {"pack", "register"},
        {"pack", "config"},
        {"workflow", "inspect"},
        {"template", "render"},
        {"key", "set"},
        {"key", "get"},
        {"key", "list"},
        {"key", "delete"},
        {"key", "load"},
        {"user", "add"},
        {"user", "list"},
        {"user", "delete"},
        {"login"},
        {"logout"},
        {"whoami"},
    };
    for (const auto& command : commands) {
        for (const char* flag : {"--help", "-h"}) {
            std::vector<std::string> args = command;
            args.push_back(flag);
            // No server: help never needs one.
            const CliResult r = SquallProcess::RunBinary(args, {{"SQUALL_API_URL", "http://127.0.0.1:1/api/v1"}}, 60s);
            std::string shown;
            for (const auto& a : args) shown += a + " ";
            EXPECT_EQ(r.exit_code, 0) << shown << "\n" << r.out << r.err;
            EXPECT_NE(r.out.find("usage"), std::string::npos) << shown << "\n" << r.out << r.err;
            EXPECT_EQ(r.err.find("needs a value"), std::string::npos) << shown << "\n" << r.err;
            EXPECT_EQ(r.err.find("cannot reach"), std::string::npos) << shown << "\n" << r.err;
            // The help names the command (and the subcommand).
            EXPECT_NE(r.out.find(command[0]), std::string::npos) << shown << "\n" << r.out;
            if (command.size() > 1) EXPECT_NE(r.out.find(command[1]), std::string::npos) << shown << "\n" << r.out;
        }
    }
}

}  // namespace
}  // namespace squall::test
