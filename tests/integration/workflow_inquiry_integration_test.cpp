// core.ask inside workflows, end to end with the real binary: the inquiry task waits in `pending`, the workflow
// (Orquesta or action-chain) pauses and starts nothing new; the answer through the API
// (PUT /api/v1/inquiries/{id}) completes the task and the workflow resumes by itself, its next task reading the
// response.
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
#include "workflow_cli.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

/// The pack `askp`: `askp.approve` (Orquesta) and `askp.approve_chain` (action-chain) ask for {approve, reason},
/// then append what was answered to `file`.
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "askp";
    Write(
        pack / "pack.yaml", "name: askp\ndescription: ask tests\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    const std::string params = "parameters:\n  file:\n    type: string\n    required: true\n";
    Write(
        pack / "actions" / "approve.yaml",
        "name: approve\nrunner_type: orquesta\nentry_point: workflows/approve.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "approve.yaml", R"(version: 1.0
input:
  - file
tasks:
  before:
    action: core.local cmd="echo before >> {{ ctx('file') }}"
    next:
      - do: ask
  ask:
    action: core.ask
    input:
      route: deploys
      schema:
        type: object
        properties:
          approve:
            type: boolean
            required: true
          reason:
            type: string
    next:
      - when: "{{ succeeded() }}"
        publish:
          - approved: "{{ result().response.approve }}"
          - reason: "{{ result().response.reason }}"
        do: after
  after:
    action: core.local
    input:
      cmd: "echo after {{ ctx('approved') }} {{ ctx('reason') }} >> {{ ctx('file') }}"
output:
  - approved: "{{ ctx('approved') }}"
)");
    Write(
        pack / "actions" / "approve_chain.yaml",
        "name: approve_chain\nrunner_type: action-chain\nentry_point: chains/approve.yaml\n" + params
    );
    // The same questions one level down: an Orquesta workflow and an action-chain whose task is the workflow that
    // asks (StackStorm's examples.orquesta-ask-nested and chain-test-inquiry-parent).
    Write(
        pack / "actions" / "outer.yaml",
        "name: outer\nrunner_type: orquesta\nentry_point: workflows/outer.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "outer.yaml", R"(version: 1.0
input:
  - file
tasks:
  sub:
    action: askp.approve file=<% ctx(file) %>
    next:
      - when: <% succeeded() %>
        publish: approved=<% result().output.approved %>
        do: done
  done:
    action: core.local cmd="echo outer done >> <% ctx(file) %>"
output:
  - approved: <% ctx(approved) %>
)");
    Write(
        pack / "actions" / "outer_chain.yaml",
        "name: outer_chain\nrunner_type: action-chain\nentry_point: chains/outer.yaml\n" + params
    );
    Write(pack / "actions" / "chains" / "outer.yaml", R"(chain:
  - name: sub
    ref: askp.approve_chain
    params: {file: "{{ file }}"}
    on-success: done
  - name: done
    ref: core.local
    params: {cmd: "echo outer done >> {{ file }}"}
)");
    Write(pack / "actions" / "chains" / "approve.yaml", R"(chain:
  - name: before
    ref: core.local
    params: {cmd: "echo before >> {{ file }}"}
    on-success: ask
  - name: ask
    ref: core.ask
    params:
      schema:
        type: object
        properties:
          approve: {type: boolean, required: true}
    publish:
      approved: "{{ ask.response.approve }}"
    on-success: after
  - name: after
    ref: core.local
    params: {cmd: "echo after {{ approved }} >> {{ file }}"}
)");
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

std::vector<std::string> Statuses(const Json& e) {
    std::vector<std::string> out;
    for (const auto& l : e.value("log", Json::array())) out.push_back(l.value("status", ""));
    return out;
}

/// Pauses at the inquiry, answers it through the API, checks the workflow resumed and used the answer.
void AskAndAnswer(const SquallProcess& server, const std::string& action, const fs::path& file, const Json& answer) {
    const std::string id = StartAsync(server, {action, "file=" + file.string()});
    ASSERT_FALSE(id.empty());
    Json wf = WaitStatus(server, id, "paused");
    EXPECT_EQ(ReadFile(file.string()), "before\n");
    // The pending task is an inquiry of the workflow.
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto list = c.Get("/api/v1/inquiries", auth);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->status, 200) << list->body;
    Json inquiries = Json::parse(list->body);
    ASSERT_EQ(inquiries.size(), 1u) << inquiries.dump(2);
    const std::string inquiry = inquiries[0]["id"];
    EXPECT_EQ(inquiries[0]["parent"], id) << inquiries.dump(2);
    // Nothing starts while it waits (a second with no change; a violation ends the wait at once).
    EXPECT_FALSE(WaitFor([&] { return ReadFile(file.string()) != "before\n"; }, 1s)) << ReadFile(file.string());
    EXPECT_EQ(GetExecution(server, id)["status"], "paused");
    // A response the schema refuses leaves it waiting.
    auto bad =
        c.Put("/api/v1/inquiries/" + inquiry, auth, R"({"response": {"reason": "no approve"}})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << bad->body;
    EXPECT_EQ(GetExecution(server, id)["status"], "paused");
    auto ok = c.Put("/api/v1/inquiries/" + inquiry, auth, Json{{"response", answer}}.dump(), "application/json");
    ASSERT_TRUE(ok);
    ASSERT_EQ(ok->status, 200) << ok->body;
    wf = WaitStatus(server, id, "succeeded");
    EXPECT_EQ(
        Statuses(wf),
        (std::vector<std::string>{
            "requested", "scheduled", "running", "pausing", "paused", "resuming", "running", "succeeded"})
    ) << wf.dump(2);
    Json asked = GetExecution(server, inquiry);
    EXPECT_EQ(asked["status"], "succeeded");
    EXPECT_EQ(asked["result"]["response"], answer);
}

TEST(WorkflowInquiryIntegrationTest, AnOrquestaWorkflowPausesUntilTheInquiryIsAnswered) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "orquesta.txt";
    AskAndAnswer(server, "askp.approve", file, {{"approve", true}, {"reason", "ship it"}});
    EXPECT_EQ(ReadFile(file.string()), "before\nafter True ship it\n");
}

TEST(WorkflowInquiryIntegrationTest, AnActionChainPausesUntilTheInquiryIsAnswered) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "chain.txt";
    AskAndAnswer(server, "askp.approve_chain", file, {{"approve", false}});
    EXPECT_EQ(ReadFile(file.string()), "before\nafter False\n");
}

/// Cancel while the workflow waits on an inquiry: the workflow ends canceled at once and the inquiry is withdrawn
/// (canceled), so nobody is left answering a question nothing waits for.
void CancelWithdrawsTheInquiry(const std::string& action) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "out.txt";
    const std::string id = StartAsync(server, {action, "file=" + file.string()});
    ASSERT_FALSE(id.empty());
    WaitStatus(server, id, "paused");
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto list = c.Get("/api/v1/inquiries", auth);
    ASSERT_TRUE(list && list->status == 200);
    Json inquiries = Json::parse(list->body);
    ASSERT_EQ(inquiries.size(), 1u) << inquiries.dump(2);
    const std::string inquiry = inquiries[0]["id"];

    CliResult cancel = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
    Json wf = WaitStatus(server, id, "canceled");
    Json asked = WaitStatus(server, inquiry, "canceled");
    EXPECT_EQ(asked["parent"], id) << asked.dump(2);
    ASSERT_TRUE(WaitFor(
        [&] {
            auto again = c.Get("/api/v1/inquiries", auth);
            return again && again->status == 200 && Json::parse(again->body).empty();
        },
        10s
    ));
    // An answer that comes too late is refused; the workflow stays canceled and nothing ran after the question.
    auto late = c.Put("/api/v1/inquiries/" + inquiry, auth, R"({"response": {"approve": true}})", "application/json");
    ASSERT_TRUE(late);
    EXPECT_GE(late->status, 400) << late->body;
    EXPECT_EQ(GetExecution(server, id)["status"], "canceled");
    EXPECT_EQ(ReadFile(file.string()), "before\n");
}

TEST(WorkflowInquiryIntegrationTest, CancelOfAnOrquestaWorkflowWithdrawsItsPendingInquiry) {
    CancelWithdrawsTheInquiry("askp.approve");
}

TEST(WorkflowInquiryIntegrationTest, CancelOfAnActionChainWithdrawsItsPendingInquiry) {
    CancelWithdrawsTheInquiry("askp.approve_chain");
}

/// An inquiry inside a subworkflow pauses the root too (StackStorm's examples.orquesta-ask-nested,
/// chain-test-inquiry-parent); the answer resumes the subworkflow, which resumes its parent, and both finish.
void NestedAskAndAnswer(const std::string& action, const std::string& expected_file) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "nested.txt";
    const std::string id = StartAsync(server, {action, "file=" + file.string()});
    ASSERT_FALSE(id.empty());
    Json root = WaitStatus(server, id, "paused");
    EXPECT_EQ(ReadFile(file.string()), "before\n");
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    auto list = c.Get("/api/v1/inquiries", auth);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->status, 200) << list->body;
    Json inquiries = Json::parse(list->body);
    ASSERT_EQ(inquiries.size(), 1u) << inquiries.dump(2);
    const std::string inquiry = inquiries[0]["id"];
    // The question belongs to the subworkflow, which is paused too.
    const std::string sub = inquiries[0]["parent"];
    ASSERT_NE(sub, id);
    EXPECT_EQ(WaitStatus(server, sub, "paused")["parent"], id);
    // The root stays paused while nobody answers.
    EXPECT_FALSE(WaitFor([&] { return GetExecution(server, id).value("status", "") != "paused"; }, 1s));
    auto ok = c.Put(
        "/api/v1/inquiries/" + inquiry, auth, R"({"response": {"approve": true, "reason": "go"}})", "application/json"
    );
    ASSERT_TRUE(ok);
    ASSERT_EQ(ok->status, 200) << ok->body;
    root = WaitStatus(server, id, "succeeded");
    EXPECT_EQ(
        Statuses(root),
        (std::vector<std::string>{
            "requested", "scheduled", "running", "pausing", "paused", "resuming", "running", "succeeded"})
    ) << root.dump(2);
    EXPECT_EQ(GetExecution(server, sub)["status"], "succeeded");
    EXPECT_EQ(ReadFile(file.string()), expected_file);
}

TEST(WorkflowInquiryIntegrationTest, AnInquiryInAnOrquestaSubworkflowPausesTheRootUntilAnswered) {
    NestedAskAndAnswer("askp.outer", "before\nafter True go\nouter done\n");
}

TEST(WorkflowInquiryIntegrationTest, AnInquiryInAChainSubworkflowPausesTheParentChainUntilAnswered) {
    NestedAskAndAnswer("askp.outer_chain", "before\nafter True\nouter done\n");
}

}  // namespace
}  // namespace squall::test
