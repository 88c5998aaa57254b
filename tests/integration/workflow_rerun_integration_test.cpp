// Re-run of a finished Orquesta workflow from chosen tasks, end to end with the real binary:
// `squall execution re-run ID --tasks t2` and the API's `POST /executions/{id}/re_run {"tasks": [...]}` run only those
// tasks again (and what follows them), in the context they had; a with-items task re-runs only its failed items
// (`--no-reset`, or the API without `reset`) or all of them (reset). Tasks append lines to a file: the lines count
// what ran.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <httplib.h>

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

/// The pack `rr`: `rr.steps` (t1 publishes, t2 fails until the file `flag` exists, t3) and `rr.items` (items a, b, c;
/// b fails until `flag` exists).
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "rr";
    Write(pack / "pack.yaml", "name: rr\ndescription: re-run\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n");
    const std::string params =
        "parameters:\n  file:\n    type: string\n    required: true\n  flag:\n    type: string\n    required: true\n";
    Write(
        pack / "actions" / "steps.yaml",
        "name: steps\nrunner_type: orquesta\nentry_point: workflows/steps.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "steps.yaml", R"(version: 1.0
input:
  - file
  - flag
tasks:
  t1:
    action: core.local cmd="echo t1 >> {{ ctx('file') }}"
    next:
      - publish: word=from-t1
        do: t2
  t2:
    action: core.local
    input:
      cmd: "echo t2 {{ ctx('word') }} >> {{ ctx('file') }}; test -e {{ ctx('flag') }}"
    next:
      - when: "{{ succeeded() }}"
        do: t3
  t3:
    action: core.local cmd="echo t3 >> {{ ctx('file') }}"
output:
  - word: "{{ ctx('word') }}"
)");
    Write(
        pack / "actions" / "items.yaml",
        "name: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "items.yaml", R"(version: 1.0
input:
  - file
  - flag
tasks:
  fan:
    with: x in {{ ['a', 'b', 'c'] }}
    action: core.local
    input:
      cmd: "echo item-{{ item('x') }} >> {{ ctx('file') }}; test {{ item('x') }} != b -o -e {{ ctx('flag') }}"
    next:
      - when: "{{ succeeded() }}"
        publish: count="{{ result() | length }}"
output:
  - count: "{{ ctx('count') }}"
)");
    // rr.join: a and b run in parallel into `joined` (join: all), which fails until `flag` exists.
    Write(
        pack / "actions" / "join.yaml", "name: join\nrunner_type: orquesta\nentry_point: workflows/join.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "join.yaml", R"(version: 1.0
input:
  - file
  - flag
tasks:
  start:
    action: core.noop
    next:
      - do: [a, b]
  a:
    action: core.local cmd="echo a >> {{ ctx('file') }}"
    next:
      - when: "{{ succeeded() }}"
        publish: from_a=A
        do: joined
  b:
    action: core.local cmd="echo b >> {{ ctx('file') }}"
    next:
      - when: "{{ succeeded() }}"
        publish: from_b=B
        do: joined
  joined:
    join: all
    action: core.local
    input:
      cmd: "echo joined {{ ctx('from_a') }}{{ ctx('from_b') }} >> {{ ctx('file') }}; test -e {{ ctx('flag') }}"
output:
  - both: "{{ ctx('from_a') }}{{ ctx('from_b') }}"
)");
}

/// The pack `st2rr`: StackStorm's examples.orquesta-test-rerun and orquesta-test-rerun-with-items shapes, written
/// here: a task exits with the number the file `tempfile` holds; with-items over range(0, 4) exits with
/// `number * item % 2` (items 1 and 3 fail while the file holds 1).
void WriteSt2Pack(const fs::path& data) {
    const fs::path pack = data / "packs" / "st2rr";
    Write(
        pack / "pack.yaml", "name: st2rr\ndescription: re-run\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    const std::string params = "parameters:\n  tempfile:\n    type: string\n    required: true\n";
    Write(
        pack / "actions" / "rerun.yaml",
        "name: rerun\nrunner_type: orquesta\nentry_point: workflows/rerun.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "rerun.yaml", R"(version: 1.0
input:
  - tempfile
tasks:
  task1:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: task2
  task2:
    action: core.local
    input:
      cmd: "exit `cat <% ctx().tempfile %>`"
    next:
      - when: <% succeeded() %>
        do: task3
  task3:
    action: core.noop
)");
    Write(
        pack / "actions" / "items.yaml",
        "name: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "items.yaml", R"(version: 1.0
input:
  - tempfile
tasks:
  task1:
    with: <% range(0, 4) %>
    action: core.local
    input:
      cmd: 'x=`cat <% ctx().tempfile %>`; exit $(( x * <% item() %> % 2 ))'
)");
}

Json GetExecution(const SquallProcess& server, const std::string& id) {
    CliResult got = server.Cli({"execution", "get", id, "-j"});
    Json e = Json::parse(got.out, nullptr, false);
    return e.is_object() ? e : Json::object();
}

Json ParseOut(const CliResult& r) {
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j.is_object() ? j : Json::object();
}

Json WaitEnded(const SquallProcess& server, const std::string& id) {
    Json e;
    EXPECT_TRUE(WaitFor(
        [&] {
            e = GetExecution(server, id);
            const std::string s = e.value("status", "");
            return s == "succeeded" || s == "failed" || s == "canceled";
        },
        60s
    )) << e.dump(2);
    return e;
}

size_t Count(const std::string& text, const std::string& line) {
    size_t n = 0;
    for (size_t at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) ++n;
    return n;
}

TEST(WorkflowRerunIntegrationTest, ReRunsFromChosenTasksThroughTheCli) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "steps.txt").string();
    const std::string flag = (data.path() / "flag").string();
    Json first = ParseOut(server.Cli({"run", "rr.steps", "file=" + file, "flag=" + flag, "-j"}));
    ASSERT_EQ(first["status"], "failed") << first.dump(2);
    EXPECT_EQ(ReadFile(file), "t1\nt2 from-t1\n");

    // Not a task of the workflow: the new execution fails saying so, and nothing runs.
    Json bad = ParseOut(server.Cli({"execution", "re-run", first["id"], "--tasks", "nope", "-j"}));
    EXPECT_EQ(bad["status"], "failed") << bad.dump(2);
    EXPECT_NE(bad["result"].dump().find("task \\\"nope\\\" is not in the workflow"), std::string::npos) << bad.dump(2);

    // Fixed: t2 runs again with t1's publish (t1 does not run again), then t3.
    Write(flag, "");
    Json again = ParseOut(server.Cli({"execution", "re-run", first["id"], "--tasks", "t2", "-j"}));
    EXPECT_EQ(again["status"], "succeeded") << again.dump(2) << server.Output();
    EXPECT_EQ(again["result"]["output"]["word"], "from-t1");
    EXPECT_FALSE(again["result"].contains("errors")) << again.dump(2);
    EXPECT_EQ(ReadFile(file), "t1\nt2 from-t1\nt2 from-t1\nt3\n");
    EXPECT_EQ(again["context"]["re_run"]["ref"], first["id"]);
    EXPECT_EQ(again["context"]["re_run"]["tasks"], Json::array({"t2"}));
    ASSERT_EQ(again["children"].size(), 2u) << again.dump(2);
    EXPECT_EQ(GetExecution(server, again["children"][0])["context"]["orquesta"]["task_name"], "t2");
    EXPECT_EQ(GetExecution(server, again["children"][1])["context"]["orquesta"]["task_name"], "t3");
    // The original is left as it was.
    EXPECT_EQ(GetExecution(server, first["id"])["status"], "failed");

    // Only workflows re-run from tasks.
    Json plain = ParseOut(server.Cli({"run", "core.local", "cmd=true", "-j"}));
    CliResult refused = server.Cli({"execution", "re-run", plain["id"], "--tasks", "t1"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE((refused.out + refused.err).find("is not an Orquesta workflow"), std::string::npos)
        << refused.out << refused.err;
}

/// A re-run of one branch into a join: the branch that is not re-run counts as arrived, so the join runs again.
TEST(WorkflowRerunIntegrationTest, AJoinFiresWhenOnlyOneOfItsBranchesIsReRun) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "join.txt").string();
    const std::string flag = (data.path() / "flag").string();
    Json first = ParseOut(server.Cli({"run", "rr.join", "file=" + file, "flag=" + flag, "-j"}));
    ASSERT_EQ(first["status"], "failed") << first.dump(2);
    EXPECT_EQ(Count(ReadFile(file), "joined AB\n"), 1u) << ReadFile(file);

    Write(flag, "");
    Json again = ParseOut(server.Cli({"execution", "re-run", first["id"], "--tasks", "a", "-j"}));
    EXPECT_EQ(again["status"], "succeeded") << again.dump(2) << server.Output();
    EXPECT_EQ(again["result"]["output"]["both"], "AB") << again.dump(2);
    const std::string text = ReadFile(file);
    EXPECT_EQ(Count(text, "a\n"), 2u) << text;
    EXPECT_EQ(Count(text, "b\n"), 1u) << text;  // b is not re-run
    EXPECT_EQ(Count(text, "joined AB\n"), 2u) << text;
    ASSERT_EQ(again["children"].size(), 2u) << again.dump(2);
    EXPECT_EQ(GetExecution(server, again["children"][1])["context"]["orquesta"]["task_name"], "joined");
}

TEST(WorkflowRerunIntegrationTest, WithItemsReRunsOnlyFailedItemsUnlessReset) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "items.txt").string();
    const std::string flag = (data.path() / "flag").string();
    Json first = ParseOut(server.Cli({"run", "rr.items", "file=" + file, "flag=" + flag, "-j"}));
    ASSERT_EQ(first["status"], "failed") << first.dump(2);
    Write(flag, "");

    // The API without `reset`: only item b runs again.
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto r = c.Post(
        "/api/v1/executions/" + first["id"].get<std::string>() + "/re_run",
        auth,
        R"({"tasks": ["fan"]})",
        "application/json"
    );
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    Json rerun = WaitEnded(server, Json::parse(r->body)["id"]);
    EXPECT_EQ(rerun["status"], "succeeded") << rerun.dump(2);
    EXPECT_EQ(rerun["result"]["output"]["count"], 3);
    EXPECT_EQ(rerun["children"].size(), 1u);
    std::string lines = ReadFile(file);
    EXPECT_EQ(Count(lines, "item-a\n"), 1u) << lines;
    EXPECT_EQ(Count(lines, "item-b\n"), 2u) << lines;
    EXPECT_EQ(Count(lines, "item-c\n"), 1u) << lines;

    // `--tasks fan` from the CLI resets the task: all three items run again; `--no-reset fan` keeps what succeeded.
    Json all = ParseOut(server.Cli({"execution", "re-run", rerun["id"], "--tasks", "fan", "-j"}));
    EXPECT_EQ(all["status"], "succeeded") << all.dump(2);
    EXPECT_EQ(all["children"].size(), 3u);
    Json none = ParseOut(server.Cli({"execution", "re-run", rerun["id"], "--tasks", "fan", "--no-reset", "fan", "-j"}));
    EXPECT_EQ(none["status"], "succeeded") << none.dump(2);
    EXPECT_EQ(none["children"].size(), 0u) << none.dump(2);
    lines = ReadFile(file);
    EXPECT_EQ(Count(lines, "item-a\n"), 2u) << lines;
    EXPECT_EQ(Count(lines, "item-b\n"), 3u) << lines;
}

/// StackStorm's test_wiring_rerun.py on the examples' shapes: the workflow fails while the file holds 1; with 0, a
/// plain re-run runs it all again, `--tasks task2` runs task2 and task3 only; the with-items re-run has 4 children
/// when reset, 2 (the failed items) with `--no-reset`.
TEST(WorkflowRerunIntegrationTest, StackStormsRerunExamplesSteeredByTheirTempFile) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WriteSt2Pack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string tempfile = (data.path() / "exit").string();
    Write(tempfile, "1");
    Json first = ParseOut(server.Cli({"run", "st2rr.rerun", "tempfile=" + tempfile, "-j"}));
    ASSERT_EQ(first["status"], "failed") << first.dump(2);
    Write(tempfile, "0");
    Json whole = ParseOut(server.Cli({"execution", "re-run", first["id"], "-j"}));
    EXPECT_NE(whole["id"], first["id"]);
    EXPECT_EQ(whole["status"], "succeeded") << whole.dump(2);
    EXPECT_EQ(whole["children"].size(), 3u) << whole.dump(2);
    Json task = ParseOut(server.Cli({"execution", "re-run", first["id"], "--tasks", "task2", "-j"}));
    EXPECT_EQ(task["status"], "succeeded") << task.dump(2);
    ASSERT_EQ(task["children"].size(), 2u) << task.dump(2);
    EXPECT_EQ(GetExecution(server, task["children"][0])["context"]["orquesta"]["task_name"], "task2");
    EXPECT_EQ(GetExecution(server, task["children"][1])["context"]["orquesta"]["task_name"], "task3");
    // A workflow that succeeded re-runs from a task too.
    Json again = ParseOut(server.Cli({"execution", "re-run", task["id"], "--tasks", "task2", "-j"}));
    EXPECT_EQ(again["status"], "succeeded") << again.dump(2);

    for (const bool reset : {true, false}) {
        Write(tempfile, "1");
        Json items = ParseOut(server.Cli({"run", "st2rr.items", "tempfile=" + tempfile, "-j"}));
        ASSERT_EQ(items["status"], "failed") << items.dump(2);
        Write(tempfile, "0");
        std::vector<std::string> cli = {"execution", "re-run", items["id"], "--tasks", "task1", "-j"};
        if (!reset) cli.insert(cli.end(), {"--no-reset", "task1"});
        Json rerun = ParseOut(server.Cli(cli));
        EXPECT_EQ(rerun["status"], "succeeded") << rerun.dump(2);
        EXPECT_EQ(rerun["children"].size(), reset ? 4u : 2u) << rerun.dump(2);
    }
}

}  // namespace
}  // namespace squall::test
