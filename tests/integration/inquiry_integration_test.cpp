// core.ask end to end (issue 4 item 4, inquirer): the execution waits in `pending`; `squall inquiry respond`
// with a response that breaks the schema is refused naming the field; a valid one completes the execution.
#include <gtest/gtest.h>

#include <csignal>

#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

TEST(InquiryIntegrationTest, AskWaitsPendingAndAValidResponseCompletesIt) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server({(data.path() / "d").string(), "", {}});

    const std::string schema = R"({"type": "object", "properties": {"approve": {"type": "boolean", "required": true},)"
                               R"( "reason": {"type": "string", "minLength": 3}}})";
    CliResult run = server.Cli({"run", "core.ask", "schema=" + schema, "route=ops", "-a", "-j"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    const std::string id = Json::parse(run.out)["id"];

    Json e;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult got = server.Cli({"execution", "get", id, "-j"});
            e = Json::parse(got.out, nullptr, false);
            return e.is_object() && e.value("status", "") == core::status::kPending;
        },
        30s
    )) << e.dump();
    EXPECT_EQ(e["result"]["route"], "ops");
    // core.st2.generic.inquiry {id, route} was emitted, so a rule can tell whoever must answer.
    Json inquiry_ti;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult tis = server.Cli({"trigger-instance", "list", "-j"});
            Json all = Json::parse(tis.out, nullptr, false);
            if (!all.is_array()) return false;
            for (const auto& ti : all) {
                if (ti.value("trigger", "") == "core.st2.generic.inquiry") inquiry_ti = ti;
            }
            return inquiry_ti.is_object();
        },
        30s
    ));
    EXPECT_EQ(inquiry_ti["payload"]["id"], id);
    EXPECT_EQ(inquiry_ti["payload"]["route"], "ops");
    EXPECT_FALSE(e.contains("end_timestamp") && !e["end_timestamp"].get<std::string>().empty()) << e.dump();

    CliResult list = server.Cli({"inquiry", "list", "-j"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    Json inquiries = Json::parse(list.out);
    ASSERT_EQ(inquiries.size(), 1u) << list.out;
    EXPECT_EQ(inquiries[0]["id"], id);
    EXPECT_EQ(inquiries[0]["schema"]["properties"]["approve"]["type"], "boolean");
    // The table: a header, then the inquiry's id, action and route in columns that line up with it.
    CliResult table = server.Cli({"inquiry", "list"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    const size_t eol = table.out.find('\n');
    ASSERT_NE(eol, std::string::npos) << table.out;
    const std::string header = table.out.substr(0, eol);
    const std::string row = table.out.substr(eol + 1);
    EXPECT_EQ(row.find(id), 0u) << table.out;
    EXPECT_EQ(row.find("ops"), header.find("route")) << table.out;

    // Missing the required field, then a wrong type: refused, and the execution stays pending.
    CliResult missing = server.Cli({"inquiry", "respond", id, "-r", R"({"reason": "looks good"})"});
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("approve"), std::string::npos) << missing.err;
    CliResult wrong = server.Cli({"inquiry", "respond", id, "-r", R"({"approve": "yes"})"});
    EXPECT_NE(wrong.exit_code, 0);
    EXPECT_NE(wrong.err.find("approve"), std::string::npos) << wrong.err;
    EXPECT_EQ(Json::parse(server.Cli({"execution", "get", id, "-j"}).out)["status"], core::status::kPending);

    CliResult ok = server.Cli({"inquiry", "respond", id, "-r", R"({"approve": true, "reason": "ship it"})"});
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    e = Json::parse(server.Cli({"execution", "get", id, "-j"}).out);
    EXPECT_EQ(e["status"], core::status::kSucceeded) << e.dump();
    EXPECT_EQ(e["result"]["response"]["approve"], true);
    EXPECT_EQ(e["result"]["response"]["reason"], "ship it");

    // Answered: no longer listed, and a second answer is refused.
    EXPECT_EQ(Json::parse(server.Cli({"inquiry", "list", "-j"}).out).size(), 0u);
    CliResult again = server.Cli({"inquiry", "respond", id, "-r", R"({"approve": false})"});
    EXPECT_NE(again.exit_code, 0);
    EXPECT_NE(again.err.find("not pending"), std::string::npos) << again.err;

    // `squall run` without -a stops waiting at pending (as st2 run) instead of waiting for an answer forever.
    CliResult waited = server.Cli({"run", "core.ask", "schema=" + schema, "-j"});
    ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
    EXPECT_EQ(Json::parse(waited.out)["status"], core::status::kPending) << waited.out;
}

// StackStorm's check_permission: an inquiry that names `users` (or `roles`) is answered only by one of them; the
// refusal says who may, and the inquiry stays pending. The admin key's user holds the `admin` role.
TEST(InquiryIntegrationTest, OnlyTheUsersAndRolesAnInquiryNamesMayAnswerIt) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server({(data.path() / "d").string(), "", {}});
    const auto ask = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args = {"run", "core.ask", "-a", "-j"};
        args.insert(args.end(), extra.begin(), extra.end());
        CliResult run = server.Cli(args);
        EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
        const std::string id = Json::parse(run.out, nullptr, false).value("id", "");
        EXPECT_TRUE(WaitFor(
            [&] {
                Json e = Json::parse(server.Cli({"execution", "get", id, "-j"}).out, nullptr, false);
                return e.is_object() && e.value("status", "") == core::status::kPending;
            },
            30s
        ));
        return id;
    };
    const std::string for_bob = ask({R"(users=["bob"])"});
    CliResult refused = server.Cli({"inquiry", "respond", for_bob, "-r", R"({"continue": true})"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("may not respond"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("bob"), std::string::npos) << refused.err;
    EXPECT_EQ(Json::parse(server.Cli({"execution", "get", for_bob, "-j"}).out)["status"], core::status::kPending);

    const std::string for_observers = ask({R"(roles=["observer"])"});
    refused = server.Cli({"inquiry", "respond", for_observers, "-r", R"({"continue": true})"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("observer"), std::string::npos) << refused.err;

    const std::string for_admins = ask({R"(roles=["admin"])"});
    CliResult ok = server.Cli({"inquiry", "respond", for_admins, "-r", R"({"continue": true})"});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(Json::parse(server.Cli({"execution", "get", for_admins, "-j"}).out)["status"], core::status::kSucceeded);
}

}  // namespace
}  // namespace squall::test
