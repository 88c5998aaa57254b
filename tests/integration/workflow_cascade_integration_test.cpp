// Cancel, pause and resume cascade down to subworkflows, end to end with the real binary: a workflow (Orquesta or
// action-chain) whose task is another workflow; canceling the parent cancels the subworkflow (its running task
// finishes, nothing new starts in either); pausing the parent pauses the subworkflow and the parent is paused once the
// subworkflow is; resuming the parent resumes both to the end.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

/// The pack `casc`: `casc.inner` appends `n` lines to `file`, one task each taking `pause` seconds; `casc.outer`
/// (Orquesta) and `casc.chain_outer` (action-chain) run it as their first task, then append "after".
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "casc";
    Write(
        pack / "pack.yaml", "name: casc\ndescription: cascade\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    const std::string params =
        "parameters:\n  file:\n    type: string\n    required: true\n  n:\n    type: integer\n    default: 10\n  "
        "pause:\n    type: number\n    default: 0.2\n";
    Write(
        pack / "actions" / "inner.yaml",
        "name: inner\nrunner_type: orquesta\nentry_point: workflows/inner.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "inner.yaml", R"(version: 1.0
input:
  - file
  - n
  - pause
vars:
  - i: 0
tasks:
  step:
    action: core.local
    input:
      cmd: "echo inner{{ ctx('i') }} >> {{ ctx('file') }}; sleep {{ ctx('pause') }}"
    next:
      - when: "{{ succeeded() and ctx('i') + 1 < ctx('n') }}"
        publish: i="{{ ctx('i') + 1 }}"
        do: step
output:
  - steps: "{{ ctx('i') + 1 }}"
)");
    Write(
        pack / "actions" / "outer.yaml",
        "name: outer\nrunner_type: orquesta\nentry_point: workflows/outer.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "outer.yaml", R"(version: 1.0
input:
  - file
  - n
  - pause
tasks:
  sub:
    action: casc.inner
    input:
      file: "{{ ctx('file') }}"
      n: "{{ ctx('n') }}"
      pause: "{{ ctx('pause') }}"
    next:
      - when: "{{ succeeded() }}"
        publish: steps="{{ result().output.steps }}"
        do: after
  after:
    action: core.local cmd="echo after >> {{ ctx('file') }}"
output:
  - steps: "{{ ctx('steps') }}"
)");
    Write(
        pack / "actions" / "chain_outer.yaml",
        "name: chain_outer\nrunner_type: action-chain\nentry_point: chains/outer.yaml\n" + params
    );
    Write(pack / "actions" / "chains" / "outer.yaml", R"(chain:
  - name: sub
    ref: casc.inner
    params: {file: "{{ file }}", n: "{{ n }}", pause: "{{ pause }}"}
    publish:
      steps: "{{ sub.output.steps }}"
    on-success: after
  - name: after
    ref: core.local
    params: {cmd: "echo after >> {{ file }}"}
)");
}

size_t CountLines(const fs::path& path) {
    std::ifstream in(path);
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    return n;
}

Json GetExecution(const SquallProcess& server, const std::string& id) {
    CliResult got = server.Cli({"execution", "get", id, "-j"});
    Json e = Json::parse(got.out, nullptr, false);
    return e.is_object() ? e : Json::object();
}

std::string StartAsync(const SquallProcess& server, const std::vector<std::string>& args) {
    std::vector<std::string> cli = {"run"};
    cli.insert(cli.end(), args.begin(), args.end());
    cli.push_back("-a");
    cli.push_back("-j");
    CliResult run = server.Cli(cli);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    Json j = Json::parse(run.out, nullptr, false);
    return j.is_object() ? j.value("id", "") : "";
}

Json WaitStatus(const SquallProcess& server, const std::string& id, const std::string& status) {
    Json e;
    EXPECT_TRUE(WaitFor(
        [&] {
            e = GetExecution(server, id);
            return e.value("status", "") == status;
        },
        60s
    )) << "waiting for "
       << status << ": " << e.dump(2) << server.Output();
    return e;
}

/// The subworkflow: the parent's first child, once it exists.
std::string Subworkflow(const SquallProcess& server, const std::string& parent) {
    std::string sub;
    EXPECT_TRUE(WaitFor(
        [&] {
            Json p = GetExecution(server, parent);
            if (p.value("children", Json::array()).empty()) return false;
            sub = p["children"][0];
            return true;
        },
        30s
    ));
    return sub;
}

void CancelCascades(const std::string& action) {
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "out.txt";
    const std::string id = StartAsync(server, {action, "file=" + file.string(), "n=30", "pause=0.3"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 30s));
    const std::string sub = Subworkflow(server, id);
    CliResult cancel = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
    const size_t at_cancel = CountLines(file);
    WaitStatus(server, sub, "canceled");
    Json parent = WaitStatus(server, id, "canceled");
    // Nothing starts in either once canceled: at most the task that was running finishes.
    EXPECT_FALSE(WaitFor([&] { return CountLines(file) > at_cancel + 1; }, 1s)) << ReadFile(file.string());
    EXPECT_LT(CountLines(file), 30u);
    EXPECT_EQ(ReadFile(file.string()).find("after"), std::string::npos);
    EXPECT_EQ(parent.value("children", Json::array()).size(), 1u) << parent.dump(2);
}

void PauseAndResumeCascade(const std::string& action) {
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "out.txt";
    const std::string id = StartAsync(server, {action, "file=" + file.string(), "n=8", "pause=0.2"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 30s));
    const std::string sub = Subworkflow(server, id);
    CliResult pause = server.Cli({"execution", "pause", id});
    ASSERT_EQ(pause.exit_code, 0) << pause.out << pause.err;
    WaitStatus(server, sub, "paused");
    WaitStatus(server, id, "paused");
    const size_t at_pause = CountLines(file);
    EXPECT_FALSE(WaitFor([&] { return CountLines(file) != at_pause; }, 1s)) << "a task started while paused";
    EXPECT_LT(at_pause, 8u);
    CliResult resume = server.Cli({"execution", "resume", id});
    ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
    Json parent = WaitStatus(server, id, "succeeded");
    Json child = GetExecution(server, sub);
    EXPECT_EQ(child["status"], "succeeded") << child.dump(2);
    EXPECT_EQ(CountLines(file), 9u) << ReadFile(file.string());
    EXPECT_NE(ReadFile(file.string()).find("inner7\nafter\n"), std::string::npos) << ReadFile(file.string());
    for (const Json* e : {&parent, &child}) {
        std::vector<std::string> statuses;
        for (const auto& l : (*e)["log"]) statuses.push_back(l["status"]);
        EXPECT_EQ(
            statuses,
            (std::vector<std::string>{
                "requested", "scheduled", "running", "pausing", "paused", "resuming", "running", "succeeded"})
        ) << e->dump(2);
    }
}

TEST(WorkflowCascadeIntegrationTest, CancelOfAWorkflowCancelsItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    CancelCascades("casc.outer");
}

TEST(WorkflowCascadeIntegrationTest, PauseAndResumeOfAWorkflowCascadeToItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    PauseAndResumeCascade("casc.outer");
}

TEST(WorkflowCascadeIntegrationTest, CancelOfAnActionChainCancelsItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    CancelCascades("casc.chain_outer");
}

TEST(WorkflowCascadeIntegrationTest, PauseAndResumeOfAnActionChainCascadeToItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    PauseAndResumeCascade("casc.chain_outer");
}

}  // namespace
}  // namespace squall::test
