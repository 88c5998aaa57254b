// ChatOps end to end (issue 17, SPEC §9): the real binary and redis-server; action aliases through the API and the
// CLI; the Slack adapter driven with signed fixture requests while a local HTTP server stands in for Slack's Web
// API and the slash commands' response_url, recording what is posted.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "chatops_support.hpp"
#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

using namespace chatops;  // NOLINT: the shared stand-in and signing helpers

class ChatOpsTest : public ::testing::Test {
protected:
    SquallProcess::Options Options() {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        std::filesystem::create_directories(o.data_dir + "/configs");
        std::ofstream(o.data_dir + "/configs/chatops.yaml")
            << "---\nslack_signing_secret: \"" << kSigningSecret << "\"\nslack_bot_token: \"" << kBotToken
            << "\"\nslack_api_url: \"" << slack_.url() << "/api\"\nslack_bot_user_id: UBOT\n"
            << "generic_api_key: \"" << kGenericKey << "\"\ngeneric_callback_url: \"" << slack_.url() << "/generic\"\n"
            << "mattermost_token: zmigewsanbbsdf59xnmduzypjc\nmattermost_url: \"" << slack_.url() << "/mm\"\n";
        return o;
    }

    /// Writes an alias file and creates it with `squall alias create`.
    void CreateAlias(const SquallProcess& server, const std::string& name, const std::string& yaml) {
        const std::string file = (dir_.path() / (name + ".yaml")).string();
        std::ofstream(file) << yaml;
        CliResult r = server.Cli({"alias", "create", file});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        EXPECT_NE(r.out.find("Created action alias examples." + name), std::string::npos) << r.out;
    }

    void CreateAliases(const SquallProcess& server) {
        CreateAlias(
            server,
            "greet",
            "name: greet\npack: examples\naction_ref: examples.greet\ndescription: Greets someone\n"
            "formats:\n  - \"greet {{name}} {{times=1}} times\"\n  - display: \"hello <name>\"\n"
            "    representation: [\"hello {{name=world}}\"]\n"
            "ack:\n  format: \"On it: greeting {{ execution.parameters.name }}\"\n"
            "result:\n  format: \"{{ execution.status }}: {{ execution.result.stdout | trim }}\"\n"
        );
        CreateAlias(
            server,
            "deploy_to",
            "name: deploy_to\npack: examples\naction_ref: core.noop\nformats: [\"deploy {{app}} to {{env}}\"]\n"
        );
        CreateAlias(
            server, "deploy", "name: deploy\npack: examples\naction_ref: core.echo\nformats: [\"deploy {{message}}\"]\n"
        );
    }

    httplib::Result Api(const SquallProcess& s, const std::string& method, const std::string& path, const Json& body) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        httplib::Headers h = {{"St2-Api-Key", s.api_key()}};
        if (method == "GET") return c.Get(("/api/v1" + path).c_str(), h);
        if (method == "PUT") return c.Put(("/api/v1" + path).c_str(), h, body.dump(), "application/json");
        if (method == "DELETE") return c.Delete(("/api/v1" + path).c_str(), h);
        return c.Post(("/api/v1" + path).c_str(), h, body.dump(), "application/json");
    }

    size_t ExecutionCount(const SquallProcess& s) {
        auto r = Api(s, "GET", "/executions?limit=1", nullptr);
        if (!r || r->status != 200) return SIZE_MAX;
        return std::stoul(r->get_header_value("X-Total-Count"));
    }

    httplib::Result Slack(
        const SquallProcess& s,
        const std::string& body,
        const std::string& content_type,
        const std::string& ts = Now(),
        const std::string& secret = kSigningSecret,
        httplib::Headers extra = {}
    ) {
        return PostSlack(s.host(), s.port(), body, content_type, ts, secret, std::move(extra));
    }

    /// The fixture slash command with another text and a response_url on the stand-in.
    std::string SlashCommand(const std::string& text, const std::string& response_path) {
        return WithSlashText(ReadFixture("slack/slash-command-chatops.txt"), text, slack_.url() + response_path);
    }

    TempDir dir_;
    SlackStandIn slack_;
};

TEST_F(ChatOpsTest, AliasesThroughTheApiAndTheCli) {
    SquallProcess server(Options());
    CreateAliases(server);

    CliResult list = server.Cli({"alias", "list"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("examples.deploy_to"), std::string::npos) << list.out;
    CliResult dup = server.Cli({"alias", "create", (dir_.path() / "greet.yaml").string()});
    EXPECT_NE(dup.exit_code, 0);
    EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;

    // match: {actionalias, display, representation}; the second format's display.
    auto m = Api(server, "POST", "/actionalias/match", {{"command", "hello bob"}});
    ASSERT_TRUE(m);
    ASSERT_EQ(m->status, 200) << m->body;
    Json mj = Json::parse(m->body);
    EXPECT_EQ(mj["actionalias"]["ref"], "examples.greet");
    EXPECT_EQ(mj["display"], "hello <name>");
    EXPECT_EQ(mj["representation"], "hello {{name=world}}");
    auto amb = Api(server, "POST", "/actionalias/match", {{"command", "deploy web to prod"}});
    ASSERT_EQ(amb->status, 400);
    EXPECT_NE(amb->body.find("examples.deploy (\\\"deploy {{message}}\\\")"), std::string::npos) << amb->body;
    EXPECT_NE(amb->body.find("examples.deploy_to"), std::string::npos) << amb->body;
    EXPECT_EQ(Api(server, "POST", "/actionalias/match", {{"command", "frobnicate"}})->status, 400);
    EXPECT_EQ(Api(server, "POST", "/actionalias/match", Json::object())->status, 400);

    auto help = Api(server, "GET", "/actionalias/help?filter=greet&pack=examples", nullptr);
    ASSERT_EQ(help->status, 200);
    Json hj = Json::parse(help->body);
    EXPECT_EQ(hj["available"], 1);
    EXPECT_EQ(hj["helpstrings"][0]["display"], "greet {{name}} {{times=1}} times");

    // match_and_execute: 201 {results: [{execution, actionalias, message}]}; context as StackStorm's.
    const size_t before = ExecutionCount(server);
    auto run =
        Api(server,
            "POST",
            "/aliasexecution/match_and_execute",
            {{"command", "greet ann 2 times"}, {"user", "ann"}, {"source_channel", "C42"}});
    ASSERT_EQ(run->status, 201) << run->body;
    Json rj = Json::parse(run->body)["results"][0];
    EXPECT_EQ(rj["message"], "On it: greeting ann");
    EXPECT_EQ(rj["actionalias"]["ref"], "examples.greet");
    EXPECT_EQ(rj["execution"]["parameters"]["times"], 2);  // cast by the action's schema
    EXPECT_EQ(rj["execution"]["context"]["api_user"], "ann");
    EXPECT_EQ(rj["execution"]["context"]["user"], "admin");
    EXPECT_EQ(rj["execution"]["context"]["source_channel"], "C42");
    EXPECT_EQ(rj["execution"]["context"]["action_alias_ref"], "examples.greet");
    EXPECT_EQ(ExecutionCount(server), before + 1);
    // An ambiguous or unknown command runs nothing.
    EXPECT_EQ(Api(server, "POST", "/aliasexecution/match_and_execute", {{"command", "deploy a to b"}})->status, 400);
    EXPECT_EQ(Api(server, "POST", "/aliasexecution/match_and_execute", {{"command", "nope"}})->status, 400);
    EXPECT_EQ(ExecutionCount(server), before + 1);

    // aliasexecution by name and format; a format the alias lacks names it.
    auto by_name =
        Api(server,
            "POST",
            "/aliasexecution",
            {{"name", "greet"}, {"format", "hello {{name=world}}"}, {"command", "hello"}, {"user", "u"}});
    ASSERT_EQ(by_name->status, 201) << by_name->body;
    EXPECT_EQ(Json::parse(by_name->body)["execution"]["parameters"]["name"], "world");
    auto bad_format =
        Api(server, "POST", "/aliasexecution", {{"name", "greet"}, {"format", "x {{y}}"}, {"command", "x"}});
    EXPECT_EQ(bad_format->status, 400);
    EXPECT_NE(bad_format->body.find("is not available on the alias"), std::string::npos);
    EXPECT_EQ(Api(server, "POST", "/aliasexecution", {{"name", "nosuch"}, {"command", "x"}})->status, 404);

    // CLI match and execute.
    CliResult cm = server.Cli({"alias", "match", "greet zed 1 times"});
    EXPECT_EQ(cm.exit_code, 0) << cm.err;
    EXPECT_NE(cm.out.find("examples.greet: greet {{name}}"), std::string::npos) << cm.out;
    CliResult ce = server.Cli({"alias", "execute", "greet zed 1 times", "--user", "zed"});
    EXPECT_EQ(ce.exit_code, 0) << ce.err;
    EXPECT_NE(ce.out.find("On it: greeting zed"), std::string::npos) << ce.out;
    CliResult cn = server.Cli({"alias", "execute", "deploy x to y"});
    EXPECT_NE(cn.exit_code, 0);
    EXPECT_NE(cn.err.find("matched more than 1 pattern"), std::string::npos) << cn.err;

    // PUT replaces, DELETE removes; a bad body names the field.
    Json alias = Json::parse(Api(server, "GET", "/actionalias/examples.deploy", nullptr)->body);
    alias["enabled"] = false;
    ASSERT_EQ(Api(server, "PUT", "/actionalias/examples.deploy", alias)->status, 200);
    EXPECT_EQ(Api(server, "POST", "/actionalias/match", {{"command", "deploy web to prod"}})->status, 200);
    EXPECT_EQ(Api(server, "DELETE", "/actionalias/examples.deploy", nullptr)->status, 204);
    EXPECT_EQ(Api(server, "GET", "/actionalias/examples.deploy", nullptr)->status, 404);
    auto bad = Api(server, "POST", "/actionalias", {{"name", "x"}, {"action_ref", "core.noop"}});
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("formats"), std::string::npos) << bad->body;
}

TEST_F(ChatOpsTest, SlackSlashCommandsAndEventsAckAndPostResults) {
    SquallProcess server(Options());
    CreateAliases(server);

    // A slash command: the ack is the answer; the result goes to response_url when the execution ends.
    auto ack = Slack(server, SlashCommand("greet bob 2 times", "/resp/1"), "application/x-www-form-urlencoded");
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->status, 200) << ack->body;
    Json aj = Json::parse(ack->body);
    EXPECT_EQ(aj["response_type"], "in_channel");
    EXPECT_EQ(aj["text"], "On it: greeting bob");
    auto result = slack_.WaitForPost("/resp/1", "succeeded");
    ASSERT_TRUE(result) << server.Output();
    EXPECT_EQ(result->body["text"], "succeeded: Hello, bob!\nHello, bob!");
    EXPECT_EQ(result->body["response_type"], "in_channel");
    Json last = Json::parse(Api(server, "GET", "/executions?limit=1", nullptr)->body)[0];
    EXPECT_EQ(last["context"]["api_user"], "Steve");
    EXPECT_EQ(last["context"]["source_channel"], "C2147483705");

    // An app_mention: ack and result through chat.postMessage with the bot token, in the event's channel.
    Json mention = Json::parse(ReadFixture("slack/events-app_mention.json"));
    mention["event"]["text"] = "<@UBOT> greet carol 1 times";
    mention["event_id"] = "EvMention1";
    auto ev = Slack(server, mention.dump(), "application/json");
    ASSERT_EQ(ev->status, 200) << ev->body;
    auto ev_ack = slack_.WaitForPost("/api/chat.postMessage", "On it: greeting carol");
    ASSERT_TRUE(ev_ack) << server.Output();
    EXPECT_EQ(ev_ack->authorization, "Bearer " + kBotToken);
    EXPECT_EQ(ev_ack->body["channel"], "C123ABC456");
    auto ev_result = slack_.WaitForPost("/api/chat.postMessage", "succeeded: Hello, carol!");
    ASSERT_TRUE(ev_result);
    EXPECT_EQ(ev_result->body["channel"], "C123ABC456");
    // Slack's retry of the same delivery runs nothing again.
    const size_t after_mention = ExecutionCount(server);
    auto retry = Slack(server, mention.dump(), "application/json", Now(), kSigningSecret, {{"X-Slack-Retry-Num", "1"}});
    ASSERT_EQ(retry->status, 200);
    EXPECT_NE(retry->body.find("handled already"), std::string::npos) << retry->body;
    // The bot's own message and a channel message not addressed to it are ignored.
    Json own = mention;
    own["event_id"] = "EvOwn";
    own["event"]["user"] = "UBOT";
    EXPECT_NE(Slack(server, own.dump(), "application/json")->body.find("ignored"), std::string::npos);
    auto plain = Slack(server, ReadFixture("slack/events-message.json"), "application/json");
    EXPECT_NE(plain->body.find("not addressed"), std::string::npos) << plain->body;
    EXPECT_EQ(ExecutionCount(server), after_mention);

    // url_verification answers the challenge.
    auto verify = Slack(server, ReadFixture("slack/events-url_verification.json"), "application/json");
    ASSERT_EQ(verify->status, 200);
    EXPECT_EQ(Json::parse(verify->body)["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    // A bad signature, a stale timestamp, an unknown and an ambiguous command: a clear answer, nothing run.
    const size_t before = ExecutionCount(server);
    auto forged = Slack(
        server,
        SlashCommand("greet eve 1 times", "/resp/2"),
        "application/x-www-form-urlencoded",
        Now(),
        "not-the-secret"
    );
    EXPECT_EQ(forged->status, 401);
    EXPECT_NE(forged->body.find("does not match"), std::string::npos) << forged->body;
    const std::string stale_ts = std::to_string(std::stoll(Now()) - 301);
    auto stale =
        Slack(server, SlashCommand("greet eve 1 times", "/resp/2"), "application/x-www-form-urlencoded", stale_ts);
    EXPECT_EQ(stale->status, 401);
    EXPECT_NE(stale->body.find("more than 5 minutes"), std::string::npos) << stale->body;
    auto unknown =
        Slack(server, SlashCommand("frobnicate the servers", "/resp/2"), "application/x-www-form-urlencoded");
    ASSERT_EQ(unknown->status, 200);
    EXPECT_EQ(Json::parse(unknown->body)["response_type"], "ephemeral");
    EXPECT_NE(unknown->body.find("matched no patterns"), std::string::npos) << unknown->body;
    auto ambiguous = Slack(server, SlashCommand("deploy web to prod", "/resp/2"), "application/x-www-form-urlencoded");
    ASSERT_EQ(ambiguous->status, 200);
    EXPECT_NE(ambiguous->body.find("matched more than 1 pattern"), std::string::npos) << ambiguous->body;
    EXPECT_NE(ambiguous->body.find("examples.deploy_to"), std::string::npos) << ambiguous->body;
    EXPECT_EQ(ExecutionCount(server), before);

    // The bot token never reaches the channel, even when a command carries it.
    Json leak = mention;
    leak["event_id"] = "EvLeak";
    leak["event"]["text"] = "<@UBOT> greet " + kBotToken + " 1 times";
    ASSERT_EQ(Slack(server, leak.dump(), "application/json")->status, 200);
    auto masked = slack_.WaitForPost("/api/chat.postMessage", "succeeded: Hello, ********!");
    ASSERT_TRUE(masked);
    for (const auto& p : slack_.posts()) EXPECT_EQ(p.body.dump().find(kBotToken), std::string::npos) << p.body;
}

TEST_F(ChatOpsTest, GenericAdapterWaitsOrCallsBack) {
    SquallProcess server(Options());
    CreateAliases(server);
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(60, 0);
    const Json cmd = {{"command", "greet gina 1 times"}, {"user", "gina"}, {"channel", "ops"}, {"source", "mybot"}};
    // No credentials: refused, nothing run.
    const size_t before = ExecutionCount(server);
    auto anon = c.Post("/api/v1/chatops/generic", cmd.dump(), "application/json");
    ASSERT_TRUE(anon);
    EXPECT_EQ(anon->status, 401);
    EXPECT_EQ(ExecutionCount(server), before);
    // ?wait: the result comes back in the answer.
    auto waited =
        c.Post("/api/v1/chatops/generic?wait=60", {{"St2-Api-Key", server.api_key()}}, cmd.dump(), "application/json");
    ASSERT_TRUE(waited);
    ASSERT_EQ(waited->status, 200) << waited->body;
    Json wj = Json::parse(waited->body);
    EXPECT_EQ(wj["text"], "On it: greeting gina");
    EXPECT_EQ(wj["result"], "succeeded: Hello, gina!");
    EXPECT_EQ(wj["status"], "succeeded");
    Json e = Json::parse(Api(server, "GET", "/executions/" + wj["execution"].get<std::string>(), nullptr)->body);
    EXPECT_EQ(e["context"]["api_user"], "gina");
    EXPECT_EQ(e["context"]["source_channel"], "ops");
    // The adapter's own key, no wait: the result is posted to the callback URL.
    Json hal = cmd;
    hal["command"] = "greet hal 1 times";
    auto called = c.Post("/api/v1/chatops/generic", {{"X-Chatops-Key", kGenericKey}}, hal.dump(), "application/json");
    ASSERT_EQ(called->status, 201) << called->body;
    auto posted = slack_.WaitForPost("/generic", "succeeded: Hello, hal!");
    ASSERT_TRUE(posted) << server.Output();
    EXPECT_EQ(posted->body["channel"], "ops");
    EXPECT_EQ(posted->body["user"], "gina");
    // Unknown and ambiguous commands: 400 with the reason.
    hal["command"] = "deploy a to b";
    auto amb = c.Post("/api/v1/chatops/generic", {{"X-Chatops-Key", kGenericKey}}, hal.dump(), "application/json");
    EXPECT_EQ(amb->status, 400);
    EXPECT_NE(amb->body.find("matched more than 1 pattern"), std::string::npos) << amb->body;
    auto wrong_key = c.Post("/api/v1/chatops/generic", {{"X-Chatops-Key", "nope"}}, hal.dump(), "application/json");
    EXPECT_EQ(wrong_key->status, 401);

    // What a chat runs, runs as `chatops`, an admin as hubot's API user is: an action writing a system-scoped key
    // with its own token works from a chat as from `st2 run`.
    CreateAlias(server, "shell", "name: shell\npack: examples\naction_ref: core.local\nformats: [\"shell {{cmd}}\"]\n");
    const std::string body_file = (dir_.path() / "key.json").string();
    std::ofstream(body_file) << R"({"name": "from_chat", "value": "set by gina"})";
    Json put = cmd;
    put["command"] =
        "shell curl -fsS -X PUT -H X-Auth-Token:$ST2_ACTION_AUTH_TOKEN -H Content-Type:application/json "
        "$ST2_ACTION_API_URL/keys/from_chat -d @" +
        body_file;
    auto wrote =
        c.Post("/api/v1/chatops/generic?wait=60", {{"X-Chatops-Key", kGenericKey}}, put.dump(), "application/json");
    ASSERT_TRUE(wrote);
    ASSERT_EQ(wrote->status, 200) << wrote->body;
    Json w = Json::parse(wrote->body);
    EXPECT_EQ(w["status"], "succeeded") << wrote->body;
    Json run = Json::parse(Api(server, "GET", "/executions/" + w["execution"].get<std::string>(), nullptr)->body);
    EXPECT_EQ(run["context"]["user"], "chatops");
    auto key = Api(server, "GET", "/keys/from_chat", nullptr);
    ASSERT_EQ(key->status, 200) << key->body << run.dump();
    EXPECT_EQ(Json::parse(key->body)["value"], "set by gina");
}

TEST_F(ChatOpsTest, MattermostOutgoingWebhooksFormAndJson) {
    SquallProcess server(Options());
    CreateAliases(server);
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    const size_t before = ExecutionCount(server);
    // The documentation's delivery: "some text here" with trigger word "some" is not a command.
    auto doc = c.Post(
        "/api/v1/chatops/mattermost", ReadFixture("chatops/mattermost-outgoing-webhook.json"), "application/json"
    );
    ASSERT_TRUE(doc);
    ASSERT_EQ(doc->status, 200) << doc->body;
    EXPECT_EQ(Json::parse(doc->body)["response_type"], "comment");
    EXPECT_NE(doc->body.find("Command \\\"text here\\\" matched no patterns"), std::string::npos) << doc->body;
    // A form delivery with a command after the trigger word: ack answered, result posted to the incoming webhook.
    std::string form = ReadFixture("chatops/mattermost-outgoing-webhook.form.txt");
    form.replace(form.find("text=some+text+here"), 19, "text=some+greet+mo+1+times");
    auto ran = c.Post("/api/v1/chatops/mattermost", form, "application/x-www-form-urlencoded");
    ASSERT_EQ(ran->status, 200) << ran->body;
    EXPECT_EQ(Json::parse(ran->body)["text"], "On it: greeting mo");
    auto result = slack_.WaitForPost("/mm", "succeeded: Hello, mo!");
    ASSERT_TRUE(result) << server.Output();
    EXPECT_EQ(result->body["channel"], "town-square");
    EXPECT_EQ(ExecutionCount(server), before + 1);
    // Another token: refused, nothing run.
    std::string forged = form;
    forged.replace(forged.find("token=zmigewsanbbsdf59xnmduzypjc"), 32, "token=zmigewsanbbsdf59xnmduzypjX");
    auto refused = c.Post("/api/v1/chatops/mattermost", forged, "application/x-www-form-urlencoded");
    EXPECT_EQ(refused->status, 401);
    EXPECT_EQ(ExecutionCount(server), before + 1);
}

TEST_F(ChatOpsTest, AllowListRefusesOtherChatUsersInTheChannel) {
    SquallProcess::Options o = Options();
    std::ofstream(o.data_dir + "/configs/chatops.yaml", std::ios::app) << "allow:\n  examples.greet: [Steve]\n";
    SquallProcess server(o);
    CreateAliases(server);
    const size_t before = ExecutionCount(server);
    // The fixture's slash command comes from Steve: allowed.
    auto ok = Slack(server, SlashCommand("greet bob 1 times", "/resp/allow"), "application/x-www-form-urlencoded");
    ASSERT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(Json::parse(ok->body)["text"], "On it: greeting bob");
    // The app_mention comes from U061F7AUR: refused, with the reason posted to the channel, nothing run.
    Json mention = Json::parse(ReadFixture("slack/events-app_mention.json"));
    mention["event"]["text"] = "<@UBOT> greet carol 1 times";
    ASSERT_EQ(Slack(server, mention.dump(), "application/json")->status, 200);
    auto refused = slack_.WaitForPost("/api/chat.postMessage", "U061F7AUR may not run examples.greet");
    ASSERT_TRUE(refused) << server.Output();
    EXPECT_EQ(refused->body["channel"], "C123ABC456");
    // Aliases without an entry stay open to everyone.
    mention["event_id"] = "EvOpen";
    mention["event"]["text"] = "<@UBOT> deploy web";
    ASSERT_EQ(Slack(server, mention.dump(), "application/json")->status, 200);
    EXPECT_EQ(ExecutionCount(server), before + 2);
}

}  // namespace
}  // namespace squall::test
