// ChatOps beyond commands (issue 17 item 7, docs/chatops.md): the `announcement` runner (core.announcement,
// chatops.post_message, chatops.post_result) and its st2.announcement__<route> events on the API's event stream;
// the web UI link in acks (ack.append_url); and results of chat commands that survive a kill -9 of the API process.
// The real binary and redis-server; a local HTTP server stands in for Slack, Mattermost and the generic callback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "chatops_support.hpp"
#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
using namespace chatops;  // NOLINT: the shared stand-in and signing helpers

const std::string kWebUi = "https://squall.example.test/ui";

class ChatOpsAnnounceTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }

    SquallProcess::Options Options(const std::string& redis_url = "", std::vector<std::string> extra = {}) {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        o.redis_url = redis_url;
        o.extra_args = {"--stream-heartbeat", "1"};
        o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
        std::filesystem::create_directories(o.data_dir + "/configs");
        std::ofstream(o.data_dir + "/configs/chatops.yaml")
            << "---\nslack_signing_secret: \"" << kSigningSecret << "\"\nslack_bot_token: \"" << kBotToken
            << "\"\nslack_api_url: \"" << slack_.url() << "/api\"\nslack_bot_user_id: UBOT\n"
            << "generic_api_key: \"" << kGenericKey << "\"\ngeneric_callback_url: \"" << slack_.url() << "/generic\"\n"
            << "mattermost_token: zmigewsanbbsdf59xnmduzypjc\nmattermost_url: \"" << slack_.url() << "/mm\"\n"
            << "webui_base_url: \"" << kWebUi << "/\"\n";
        return o;
    }

    httplib::Result Api(const SquallProcess& s, const std::string& method, const std::string& path, const Json& body) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        httplib::Headers h = {{"St2-Api-Key", s.api_key()}};
        if (method == "GET") return c.Get(("/api/v1" + path).c_str(), h);
        return c.Post(("/api/v1" + path).c_str(), h, body.dump(), "application/json");
    }

    /// Runs `action` with `parameters` and waits for it to end; the execution record.
    Json Run(const SquallProcess& s, const std::string& action, const Json& parameters) {
        auto r = Api(s, "POST", "/executions", {{"action", action}, {"parameters", parameters}});
        if (!r || r->status != 201) {
            ADD_FAILURE() << action << ": " << (r ? r->body : "no answer");
            return Json();
        }
        const std::string id = Json::parse(r->body)["id"];
        Json e;
        WaitFor(
            [&] {
                auto g = Api(s, "GET", "/executions/" + id, nullptr);
                if (!g || g->status != 200) return false;
                e = Json::parse(g->body);
                return core::status::IsCompleted(e.value("status", ""));
            },
            60s
        );
        return e;
    }

    void CreateAlias(const SquallProcess& server, const std::string& name, const std::string& yaml) {
        const std::string file = (dir_.path() / (name + ".yaml")).string();
        std::ofstream(file) << yaml;
        CliResult r = server.Cli({"alias", "create", file});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    }

    httplib::Result Slack(const SquallProcess& s, const std::string& body, const std::string& content_type) {
        return PostSlack(s.host(), s.port(), body, content_type);
    }

    /// The fixture slash command with another text and a response_url on the stand-in.
    std::string SlashCommand(const std::string& text, const std::string& response_path) {
        return WithSlashText(ReadFixture("slack/slash-command-chatops.txt"), text, slack_.url() + response_path);
    }

    TempDir dir_;
    SlackStandIn slack_;
};

TEST_F(ChatOpsAnnounceTest, AnnouncementsReachTheEventStream) {
    SquallProcess server(Options());
    StreamReader all(server.host(), server.port(), "/stream/v1/stream?st2-api-key=" + server.api_key());
    StreamReader general(
        server.host(),
        server.port(),
        "/stream/v1/stream?st2-api-key=" + server.api_key() + "&events=st2.announcement__general"
    );
    ASSERT_TRUE(all.WaitForText(": connected", 10s)) << all.Text();
    ASSERT_TRUE(general.WaitForText(": connected", 10s)) << general.Text();

    // core.announcement: StackStorm's runner (route "general"); the result is the payload, also under "output".
    Json e = Run(server, "core.announcement", {{"message", {{"release", "1.2.3"}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    EXPECT_EQ(e["result"]["message"]["release"], "1.2.3");
    EXPECT_EQ(e["result"]["output"]["message"]["release"], "1.2.3");
    EXPECT_EQ(e["result"].count("experimental"), 0u) << "runner parameters are not part of the payload";
    const std::string event =
        "event: st2.announcement__general\ndata: {\"payload\":{\"message\":{\"release\":\"1.2.3\"}},\"trace_context\":";
    ASSERT_TRUE(general.WaitForText(event, 30s)) << general.Text();
    // The filtered stream has no execution events; the unfiltered one has both.
    EXPECT_EQ(general.Text().find("st2.execution__"), std::string::npos) << general.Text();
    ASSERT_TRUE(all.WaitForText(event, 30s)) << all.Text();
    // Announcements and execution events are two streams: no order between them is promised (a client that
    // subscribed while the hub waited on announcements alone gets the execution events in the next read).
    EXPECT_TRUE(all.WaitForText("event: st2.execution__update", 30s)) << all.Text();

    // An action of the announcement runner that does not set `experimental` is refused, as StackStorm's.
    const std::string pack_dir = (dir_.path() / "d" / "packs" / "demo").string();
    std::filesystem::create_directories(pack_dir + "/actions");
    std::ofstream(pack_dir + "/pack.yaml") << "---\nref: demo\nname: demo\nversion: 0.1.0\nauthor: t\n";
    std::ofstream(
        pack_dir + "/actions/shout.yaml"
    ) << "---\nname: shout\nrunner_type: announcement\nentry_point: \"\"\nparameters:\n  message:\n    type: string\n";
    auto registered = Api(server, "POST", "/packs/register", {{"packs", {"demo"}}});
    ASSERT_TRUE(registered);
    ASSERT_EQ(registered->status, 200) << registered->body;
    Json refused = Run(server, "demo.shout", {{"message", "hi"}});
    EXPECT_EQ(refused.value("status", ""), "failed") << refused.dump(2);
    EXPECT_NE(refused["result"].dump().find("Experimental flag is missing for action demo.shout"), std::string::npos)
        << refused.dump(2);
}

TEST_F(ChatOpsAnnounceTest, PostMessageGoesThroughTheConfiguredAdapters) {
    SquallProcess server(Options());
    StreamReader chatops(
        server.host(),
        server.port(),
        "/stream/v1/stream?st2-api-key=" + server.api_key() + "&events=st2.announcement__chatops"
    );
    ASSERT_TRUE(chatops.WaitForText(": connected", 10s));

    // To one adapter (the context names it): Slack's chat.postMessage with the bot token.
    Json e =
        Run(server,
            "chatops.post_message",
            {{"message", "deploy of web finished"}, {"channel", "C0DEPLOY"}, {"context", {{"adapter", "slack"}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    auto slack = slack_.WaitForPost("/api/chat.postMessage", "deploy of web finished");
    ASSERT_TRUE(slack) << server.Output();
    EXPECT_EQ(slack->authorization, "Bearer " + kBotToken);
    EXPECT_EQ(slack->body["channel"], "C0DEPLOY");
    EXPECT_EQ(slack->body["text"], "deploy of web finished");
    ASSERT_TRUE(chatops.WaitForText("\"message\":\"deploy of web finished\"", 30s)) << chatops.Text();
    EXPECT_EQ(slack_.Count("/mm", "deploy of web finished"), 0u);
    EXPECT_EQ(slack_.Count("/generic", "deploy of web finished"), 0u);

    // No adapter named: every configured one; a user is addressed ("@user: ") and extra.slack reaches Slack.
    e =
        Run(server,
            "chatops.post_message",
            {{"message", "backup done"},
             {"channel", "ops"},
             {"user", "ann"},
             {"extra", {{"slack", {{"icon_emoji", ":floppy_disk:"}}}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    auto to_slack = slack_.WaitForPost("/api/chat.postMessage", "@ann: backup done");
    ASSERT_TRUE(to_slack) << server.Output();
    EXPECT_EQ(to_slack->body["icon_emoji"], ":floppy_disk:");
    auto to_mm = slack_.WaitForPost("/mm", "@ann: backup done");
    ASSERT_TRUE(to_mm);
    EXPECT_EQ(to_mm->body["channel"], "ops");
    auto to_generic = slack_.WaitForPost("/generic", "@ann: backup done");
    ASSERT_TRUE(to_generic);
    EXPECT_EQ(to_generic->body["channel"], "ops");
    EXPECT_EQ(to_generic->body["user"], "ann");

    // A whisper goes to the user directly; a secret of the chatops config never reaches a chat.
    e =
        Run(server,
            "chatops.post_message",
            {{"message", "your token is " + kBotToken},
             {"channel", "ops"},
             {"user", "U0ANN"},
             {"whisper", true},
             {"context", {{"adapter", "slack"}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    auto whisper = slack_.WaitForPost("/api/chat.postMessage", "your token is ********");
    ASSERT_TRUE(whisper) << server.Output();
    EXPECT_EQ(whisper->body["channel"], "U0ANN");
    for (const auto& p : slack_.posts()) EXPECT_EQ(p.body.dump().find(kBotToken), std::string::npos) << p.body;

    // Each announcement is posted once.
    EXPECT_EQ(slack_.Count("/api/chat.postMessage", "deploy of web finished"), 1u);
    EXPECT_EQ(slack_.Count("/api/chat.postMessage", "@ann: backup done"), 1u);
}

TEST_F(ChatOpsAnnounceTest, PostResultFormatsAsTheAliasWould) {
    SquallProcess server(Options());
    CreateAlias(
        server,
        "greet",
        "name: greet\npack: examples\naction_ref: examples.greet\nformats: [\"greet {{name}} {{times=1}} times\"]\n"
        "result:\n  format: \"{{ execution.status }}: {{ execution.result.stdout | trim }}\"\n"
    );
    auto run = Api(server, "POST", "/aliasexecution/match_and_execute", {{"command", "greet pat 1 times"}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string alias_execution = Json::parse(run->body)["results"][0]["execution"]["id"];
    ASSERT_TRUE(WaitFor(
        [&] {
            auto g = Api(server, "GET", "/executions/" + alias_execution, nullptr);
            return g && g->status == 200 && Json::parse(g->body).value("status", "") == "succeeded";
        },
        60s
    ));
    // An ended alias execution: its alias's result.format, in the channel given.
    Json e =
        Run(server,
            "chatops.post_result",
            {{"execution_id", alias_execution}, {"channel", "C0RESULT"}, {"context", {{"adapter", "slack"}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    auto posted = slack_.WaitForPost("/api/chat.postMessage", "succeeded: Hello, pat!");
    ASSERT_TRUE(posted) << server.Output();
    EXPECT_EQ(posted->body["channel"], "C0RESULT");

    // An execution that is no alias's, still running: the default summary, posted when it ends.
    auto slow =
        Api(server, "POST", "/executions", {{"action", "core.local"}, {"parameters", {{"cmd", "sleep 2; echo slept"}}}}
        );
    ASSERT_EQ(slow->status, 201) << slow->body;
    const std::string slow_id = Json::parse(slow->body)["id"];
    e =
        Run(server,
            "chatops.post_result",
            {{"execution_id", slow_id}, {"channel", "town-square"}, {"context", {{"adapter", "mattermost"}}}});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    auto summary = slack_.WaitForPost("/mm", "Execution " + slow_id + " succeeded:\nslept");
    ASSERT_TRUE(summary) << server.Output();
    EXPECT_EQ(summary->body["channel"], "town-square");
    EXPECT_EQ(slack_.Count("/mm", slow_id), 1u);
}

TEST_F(ChatOpsAnnounceTest, AcksLinkTheWebUiUnlessTheAliasSaysNo) {
    SquallProcess server(Options());
    CreateAlias(
        server,
        "linked",
        "name: linked\npack: examples\naction_ref: core.noop\nformats: [\"ping linked\"]\n"
        "ack:\n  format: \"pinging\"\n"
    );
    CreateAlias(
        server,
        "unlinked",
        "name: unlinked\npack: examples\naction_ref: core.noop\nformats: [\"ping plain\"]\n"
        "ack:\n  format: \"pinging plainly\"\n  append_url: false\n"
    );
    auto linked = Slack(server, SlashCommand("ping linked", "/resp/l"), "application/x-www-form-urlencoded");
    ASSERT_TRUE(linked);
    ASSERT_EQ(linked->status, 200) << linked->body;
    const std::string text = Json::parse(linked->body)["text"];
    Json last = Json::parse(Api(server, "GET", "/executions?limit=1", nullptr)->body)[0];
    EXPECT_EQ(
        text, "pinging (details available at " + kWebUi + "/#/history/" + last["id"].get<std::string>() + "/general)"
    );
    auto plain = Slack(server, SlashCommand("ping plain", "/resp/p"), "application/x-www-form-urlencoded");
    ASSERT_EQ(plain->status, 200) << plain->body;
    EXPECT_EQ(Json::parse(plain->body)["text"], "pinging plainly");
    // The generic adapter's ack carries it too.
    httplib::Client c(server.host(), server.port());
    auto generic = c.Post(
        "/api/v1/chatops/generic",
        {{"X-Chatops-Key", kGenericKey}},
        Json{{"command", "ping linked"}, {"user", "u"}, {"channel", "c"}}.dump(),
        "application/json"
    );
    ASSERT_TRUE(generic);
    ASSERT_EQ(generic->status, 201) << generic->body;
    Json gj = Json::parse(generic->body);
    EXPECT_EQ(
        gj["text"],
        "pinging (details available at " + kWebUi + "/#/history/" + gj["execution"].get<std::string>() + "/general)"
    );
}

TEST_F(ChatOpsAnnounceTest, ResultIsPostedOnceAfterTheApiProcessIsKilled) {
    RedisServer redis;  // external: it outlives the API processes
    const std::string url = "unix://" + redis.socket_path();
    // The runner and the rest in one process, the API in another: killing the API leaves the execution running.
    SquallProcess workers(Options(url, {"--roles", "runner,rules,notifier,workflow,gc,timers,sensors"}));
    auto api = std::make_unique<SquallProcess>(Options(url, {"--roles", "api"}));
    CreateAlias(
        *api,
        "nap",
        "name: nap\npack: examples\naction_ref: core.local\nformats: [\"nap\"]\n"
        "immutable_parameters:\n  cmd: \"sleep 4; echo woke up\"\n"
        "result:\n  format: \"{{ execution.status }}: {{ execution.result.stdout | trim }}\"\n"
    );
    auto ack = Slack(*api, SlashCommand("nap", "/resp/nap"), "application/x-www-form-urlencoded");
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->status, 200) << ack->body;
    ASSERT_EQ(Json::parse(ack->body)["response_type"], "in_channel") << ack->body;
    api->Kill();  // kill -9 right after the ack: the watch lived in that process and in Redis
    api.reset();

    // Two API processes come up (a restart, and another one): the result is posted once.
    SquallProcess api2(Options(url, {"--roles", "api"}));
    SquallProcess api3(Options(url, {"--roles", "api"}));
    auto result = slack_.WaitForPost("/resp/nap", "succeeded: woke up");
    ASSERT_TRUE(result) << api2.Output() << api3.Output() << workers.Output();
    EXPECT_EQ(result->body["response_type"], "in_channel");
    // It came from the watch kept in Redis (the process that took the command is gone).
    EXPECT_NE((api2.Output() + api3.Output()).find("watching 1 executions kept in Redis"), std::string::npos)
        << api2.Output() << api3.Output();

    // A later command through api3 and its result: by then a second post of the first would have been made.
    CreateAlias(api3, "hello", "name: hello\npack: examples\naction_ref: core.echo\nformats: [\"say {{message}}\"]\n");
    auto later = Slack(api3, SlashCommand("say later", "/resp/later"), "application/x-www-form-urlencoded");
    ASSERT_EQ(later->status, 200) << later->body;
    ASSERT_TRUE(slack_.WaitForPost("/resp/later", "later")) << api3.Output();
    EXPECT_EQ(slack_.Count("/resp/nap", "woke up"), 1u);
}

}  // namespace
}  // namespace squall::test
