// The datastore end to end (issue 4, item 5): the real binary with embedded Redis, the `squall key` CLI, the
// /api/v1/keys API, secrets at rest, TTLs, the key_value_pair triggers, and st2kv in rules and action defaults.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

constexpr const char* kSecret = "Zq9-very-secret-Xy7";

class Http {
public:
    explicit Http(const SquallProcess& p) : http_(p.host(), p.port()), key_(p.api_key()) {
        http_.set_read_timeout(30, 0);
    }
    httplib::Result Get(const std::string& path) { return http_.Get(("/api/v1" + path).c_str(), Headers()); }
    httplib::Result Put(const std::string& path, const Json& body) {
        return http_.Put(("/api/v1" + path).c_str(), Headers(), body.dump(), "application/json");
    }
    httplib::Result Post(const std::string& path, const Json& body) {
        return http_.Post(("/api/v1" + path).c_str(), Headers(), body.dump(), "application/json");
    }
    httplib::Result Delete(const std::string& path) { return http_.Delete(("/api/v1" + path).c_str(), Headers()); }
    Json GetJson(const std::string& path) {
        auto r = Get(path);
        if (!r || r->status != 200) return nullptr;
        return Json::parse(r->body, nullptr, false);
    }

private:
    httplib::Headers Headers() { return {{"St2-Api-Key", key_}}; }
    httplib::Client http_;
    std::string key_;
};

/// Every file under `dir` concatenated (binary), for greps.
std::string ReadTree(const fs::path& dir) {
    std::string all;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
}

class DatastoreTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    SquallProcess::Options Opts() {
        SquallProcess::Options o;
        o.data_dir = (data_.path() / "d").string();
        o.extra_args = {"--log-level", "debug"};
        return o;
    }
    TempDir data_;
};

TEST_F(DatastoreTest, CliAndApiManageKeysAndSecretsNeverLeak) {
    SquallProcess server(Opts());
    Http api(server);

    // set / get / list / delete through the CLI.
    CliResult set = server.Cli({"key", "set", "app.region", "eu-west", "--description", "where we run"});
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
    CliResult got = server.Cli({"key", "get", "app.region", "-j"});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    Json pair = Json::parse(got.out);
    EXPECT_EQ(pair["name"], "app.region");
    EXPECT_EQ(pair["value"], "eu-west");
    EXPECT_EQ(pair["scope"], "st2kv.system");
    EXPECT_EQ(pair["secret"], false);
    EXPECT_EQ(pair["description"], "where we run");
    ASSERT_EQ(server.Cli({"key", "set", "app.tier", "gold"}).exit_code, 0);
    ASSERT_EQ(server.Cli({"key", "set", "other", "x"}).exit_code, 0);
    ASSERT_EQ(server.Cli({"key", "set", "app.mine", "u1", "--scope", "user"}).exit_code, 0);
    CliResult listed = server.Cli({"key", "list", "--prefix", "app.", "--scope", "system", "-j"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    Json list = Json::parse(listed.out);
    ASSERT_EQ(list.size(), 2u) << listed.out;
    EXPECT_EQ(list[0]["name"], "app.region");
    EXPECT_EQ(list[1]["name"], "app.tier");
    Json mine = api.GetJson("/keys?scope=st2kv.user");
    ASSERT_EQ(mine.size(), 1u) << mine.dump();
    EXPECT_EQ(mine[0]["user"], "admin");
    EXPECT_EQ(mine[0]["value"], "u1");
    // Paging: X-Total-Count with limit/offset.
    auto page = api.Get("/keys?scope=system&limit=1&offset=1");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->get_header_value("X-Total-Count"), "3");
    EXPECT_EQ(Json::parse(page->body)[0]["name"], "app.tier");
    // Without a scope the API lists the system scope, as StackStorm's (`st2 key delete_by_prefix` deletes what that
    // lists in the system scope); `user=` alone means the user scope; `squall key list` asks for all, as `st2 key
    // list`.
    EXPECT_EQ(api.GetJson("/keys?prefix=app.").size(), 2u);
    Json by_user = api.GetJson("/keys?user=admin");
    ASSERT_EQ(by_user.size(), 1u) << by_user.dump();
    EXPECT_EQ(by_user[0]["name"], "app.mine");
    CliResult all = server.Cli({"key", "list", "--prefix", "app.", "-j"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(Json::parse(all.out).size(), 3u) << all.out;
    ASSERT_EQ(server.Cli({"key", "delete", "other"}).exit_code, 0);
    CliResult gone = server.Cli({"key", "get", "other"});
    EXPECT_NE(gone.exit_code, 0);
    EXPECT_NE(gone.err.find("\"other\""), std::string::npos) << gone.err;
    auto missing = api.Get("/keys/other");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_NE(missing->body.find("other"), std::string::npos);

    // Bad input names the field.
    auto bad_ttl = api.Put("/keys/x", {{"value", "1"}, {"ttl", "soon"}});
    ASSERT_TRUE(bad_ttl);
    EXPECT_EQ(bad_ttl->status, 400);
    EXPECT_NE(bad_ttl->body.find("ttl"), std::string::npos) << bad_ttl->body;
    auto bad_scope = api.Get("/keys?scope=galaxy");
    ASSERT_TRUE(bad_scope);
    EXPECT_EQ(bad_scope->status, 400);
    EXPECT_NE(bad_scope->body.find("scope"), std::string::npos) << bad_scope->body;
    auto no_value = api.Put("/keys/x", {{"name", "x"}});
    ASSERT_TRUE(no_value);
    EXPECT_EQ(no_value->status, 400);
    EXPECT_NE(no_value->body.find("value"), std::string::npos);

    // A secret: masked when listed, clear with decrypt, sealed with a private key file.
    CliResult secret = server.Cli({"key", "set", "db.password", kSecret, "--secret"});
    ASSERT_EQ(secret.exit_code, 0) << secret.err;
    EXPECT_EQ(secret.out.find(kSecret), std::string::npos);
    const fs::path key_file = data_.path() / "d" / "keys" / "datastore.key";
    ASSERT_TRUE(fs::exists(key_file));
    EXPECT_EQ(fs::status(key_file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(key_file.parent_path()).permissions() & fs::perms::all, fs::perms::owner_all);
    CliResult masked = server.Cli({"key", "list", "--prefix", "db.", "-j"});
    ASSERT_EQ(masked.exit_code, 0);
    Json masked_list = Json::parse(masked.out);
    ASSERT_EQ(masked_list.size(), 1u);
    EXPECT_EQ(masked_list[0]["value"], "********");
    EXPECT_EQ(masked_list[0]["secret"], true);
    EXPECT_EQ(masked_list[0]["encrypted"], true);
    EXPECT_EQ(server.Cli({"key", "get", "db.password"}).out.find(kSecret), std::string::npos);
    CliResult clear = server.Cli({"key", "get", "db.password", "--decrypt", "-j"});
    ASSERT_EQ(clear.exit_code, 0);
    EXPECT_EQ(Json::parse(clear.out)["value"], kSecret);
    EXPECT_EQ(api.GetJson("/keys?prefix=db.&decrypt=true")[0]["value"], kSecret);

    // key_value_pair triggers were emitted (secrets masked there too).
    ASSERT_EQ(server.Cli({"key", "set", "app.tier", "platinum"}).exit_code, 0);
    Json tis = api.GetJson("/triggerinstances?limit=100");
    ASSERT_TRUE(tis.is_array());
    std::map<std::string, int> kinds;
    for (const auto& ti : tis) {
        kinds[ti["trigger"]]++;
        EXPECT_EQ(ti.dump().find(kSecret), std::string::npos) << ti.dump();
        if (ti["trigger"] == "core.st2.key_value_pair.value_change") {
            EXPECT_EQ(ti["payload"]["old_object"]["value"], "gold");
            EXPECT_EQ(ti["payload"]["new_object"]["value"], "platinum");
        }
    }
    EXPECT_EQ(kinds["core.st2.key_value_pair.create"], 5);
    EXPECT_EQ(kinds["core.st2.key_value_pair.update"], 1);
    EXPECT_EQ(kinds["core.st2.key_value_pair.value_change"], 1);
    EXPECT_EQ(kinds["core.st2.key_value_pair.delete"], 1);

    // `key load` of a YAML list.
    const std::string file = (data_.path() / "keys.yaml").string();
    std::ofstream(file) << "- name: loaded.a\n  value: one\n- name: loaded.b\n  value: two\n  secret: true\n";
    CliResult loaded = server.Cli({"key", "load", file});
    ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
    Json both = api.GetJson("/keys?prefix=loaded.&decrypt=true");
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[1]["value"], "two");
    EXPECT_EQ(both[1]["secret"], true);
    std::ofstream(file, std::ios::trunc) << "- name: bad\n  value: [1, 2]\n";
    CliResult bad_load = server.Cli({"key", "load", file});
    EXPECT_NE(bad_load.exit_code, 0);
    EXPECT_NE(bad_load.err.find("value"), std::string::npos) << bad_load.err;
    EXPECT_NE(bad_load.err.find("item 1 (\"bad\")"), std::string::npos) << bad_load.err;  // counted from 1
    // A key the server refuses (after the first loaded): the file, the item and what was loaded are named.
    std::ofstream(
        file, std::ios::trunc
    ) << "- name: first.ok\n  value: v\n- name: second\n  value: v\n  scope: weird\n";
    CliResult refused = server.Cli({"key", "load", file});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find(file + ": item 2 (\"second\")"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("1 of 2 keys were loaded"), std::string::npos) << refused.err;

    // TTL: reported, then the key disappears.
    auto ttl = api.Put("/keys/session", {{"value", "s1"}, {"ttl", 1}});
    ASSERT_TRUE(ttl);
    ASSERT_EQ(ttl->status, 200) << ttl->body;
    Json with_ttl = Json::parse(ttl->body);
    EXPECT_EQ(with_ttl["ttl"], 1);
    EXPECT_TRUE(with_ttl.contains("expire_timestamp"));
    EXPECT_TRUE(WaitFor(
        [&] {
            auto r = api.Get("/keys/session");
            return r && r->status == 404;
        },
        15s
    ));
    EXPECT_TRUE(api.GetJson("/keys?prefix=session").empty());

    // The secret is nowhere in clear: not in the server's log, not in Redis's files (which do hold the name).
    EXPECT_NE(server.Output().find("API:"), std::string::npos);  // the output is the real one (banner)
    EXPECT_EQ(server.Output().find(kSecret), std::string::npos);
    const std::string redis_files = ReadTree(data_.path() / "d" / "redis");
    EXPECT_NE(redis_files.find("db.password"), std::string::npos);
    EXPECT_EQ(redis_files.find(kSecret), std::string::npos);
    EXPECT_EQ(server.Stop(), 0);
    EXPECT_EQ(server.Output().find(kSecret), std::string::npos);
}

TEST_F(DatastoreTest, RulesAndActionDefaultsReadTheDatastore) {
    // A pack whose action default reads st2kv and decrypts a secret (the StackStorm idiom).
    const fs::path pack = data_.path() / "d" / "packs" / "kvtest";
    fs::create_directories(pack / "actions");
    std::ofstream(pack / "pack.yaml") << "ref: kvtest\nname: kvtest\nversion: 0.1.0\nauthor: t\ndescription: t\n";
    std::ofstream(pack / "actions" / "show.yaml")
        << "name: show\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n"
        << "  token:\n    type: string\n    secret: true\n    default: '{{ st2kv.system.api_token | decrypt_kv }}'\n"
        << "  cmd:\n    type: string\n"
        << "    default: 'echo {{ st2kv.system.greeting }} {{ st2kv.system.api_token | decrypt_kv | length }}'\n";
    // A python action reading a config value that is a datastore template (rendered before self.config).
    std::ofstream(pack / "config.schema.yaml") << "region:\n  type: string\npw:\n  type: string\n  secret: true\n";
    fs::create_directories(data_.path() / "d" / "configs");
    std::ofstream(data_.path() / "d" / "configs" / "kvtest.yaml")
        << "region: '{{ st2kv.system.greeting }}-1'\npw: cfg-secret-77\n";
    // Datastore and config secrets rendered into a plain parameter: masked in the record and the output.
    std::ofstream(pack / "actions" / "leak.yaml")
        << "name: leak\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n"
        << "  cmd:\n    default: 'echo {{ st2kv.system.api_token | decrypt_kv }} {{ config_context.pw }}'\n";
    std::ofstream(pack / "actions" / "region.yaml")
        << "name: region\nrunner_type: python-script\nentry_point: region.py\nenabled: true\n";
    std::ofstream(pack / "actions" / "region.py")
        << "from st2common.runners.base_action import Action\n\n\nclass Region(Action):\n"
        << "    def run(self):\n        return self.config['region']\n";
    // A secret rendered into a command: not in `ps`, masked in the record, right in the output.
    std::ofstream(pack / "actions" / "peek.yaml")
        << "name: peek\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n"
        << "  pw:\n    type: string\n    secret: true\n"
        << "  cmd:\n    default: 'sleep 2; echo {{ pw }} | tr a-z A-Z'\n";
    SquallProcess server(Opts());
    Http api(server);
    ASSERT_EQ(server.Cli({"key", "set", "greeting", "hello"}).exit_code, 0);
    ASSERT_EQ(server.Cli({"key", "set", "api_token", "abcdef", "--secret"}).exit_code, 0);

    // A rule whose action parameter uses st2kv.system.
    Json rule = {
        {"name", "kv_rule"},
        {"pack", "kvtest"},
        {"enabled", true},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "kv"}}}}},
        {"action", {{"ref", "core.local"}, {"parameters", {{"cmd", "echo {{ st2kv.system.greeting }} world"}}}}},
    };
    auto created = api.Post("/rules", rule);
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    // A rule reacting to datastore changes.
    Json watch = {
        {"name", "kv_watch"},
        {"pack", "kvtest"},
        {"enabled", true},
        {"trigger", {{"type", "core.st2.key_value_pair.value_change"}}},
        {"criteria", {{"trigger.new_object.name", {{"type", "equals"}, {"pattern", "greeting"}}}}},
        {"action",
         {{"ref", "core.local"},
          {"parameters", {{"cmd", "echo {{ trigger.old_object.value }} to {{ trigger.new_object.value }}"}}}}},
    };
    auto watched = api.Post("/rules", watch);
    ASSERT_TRUE(watched);
    ASSERT_EQ(watched->status, 201) << watched->body;

    auto fired = api.Post("/webhooks/kv", Json{{"x", 1}});
    ASSERT_TRUE(fired);
    ASSERT_EQ(fired->status, 202) << fired->body;
    Json done;
    ASSERT_TRUE(WaitFor(
        [&] {
            done = api.GetJson("/executions?action=core.local");
            return done.is_array() && done.size() == 1 && core::status::IsCompleted(done[0].value("status", ""));
        },
        30s
    )) << done.dump(2)
       << server.Output();
    EXPECT_EQ(done[0]["status"], "succeeded") << done[0].dump(2);
    EXPECT_EQ(done[0]["parameters"]["cmd"], "echo hello world");
    EXPECT_EQ(done[0]["result"]["stdout"], "hello world");

    // A change is seen by the next trigger, and the change itself fires the watching rule.
    ASSERT_EQ(server.Cli({"key", "set", "greeting", "bonjour"}).exit_code, 0);
    ASSERT_TRUE(api.Post("/webhooks/kv", Json{{"x", 2}}));
    ASSERT_TRUE(WaitFor(
        [&] {
            done = api.GetJson("/executions?action=core.local");
            if (!done.is_array() || done.size() != 3) return false;
            for (const auto& e : done) {
                if (!core::status::IsCompleted(e.value("status", ""))) return false;
            }
            return true;
        },
        30s
    )) << done.dump(2);
    std::set<std::string> outputs;
    for (const auto& e : done) outputs.insert(e["result"].value("stdout", ""));
    EXPECT_EQ(outputs, (std::set<std::string>{"hello world", "bonjour world", "hello to bonjour"}));

    // An API-created execution renders st2kv and decrypt_kv in its defaults; the secret stays masked.
    auto run = api.Post("/executions", Json{{"action", "kvtest.show"}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string id = Json::parse(run->body)["id"];
    Json e;
    ASSERT_TRUE(WaitFor(
        [&] {
            e = api.GetJson("/executions/" + id);
            return e.is_object() && core::status::IsCompleted(e.value("status", ""));
        },
        30s
    ));
    EXPECT_EQ(e["parameters"]["token"], "********") << e.dump(2);
    EXPECT_EQ(e["status"], "succeeded") << e.dump(2);
    EXPECT_EQ(e["result"]["stdout"], "bonjour 6") << e.dump(2);
    EXPECT_EQ(e.dump().find("abcdef"), std::string::npos);

    auto wait_done = [&](const std::string& exec_id) {
        Json out;
        WaitFor(
            [&] {
                out = api.GetJson("/executions/" + exec_id);
                return out.is_object() && core::status::IsCompleted(out.value("status", ""));
            },
            30s
        );
        return out;
    };
    run = api.Post("/executions", Json{{"action", "kvtest.region"}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    Json region = wait_done(Json::parse(run->body)["id"]);
    EXPECT_EQ(region["status"], "succeeded") << region.dump(2);
    EXPECT_EQ(region["result"]["result"], "bonjour-1") << region.dump(2);

    const std::string pw = "qwerty-peek-99";
    run = api.Post("/executions", Json{{"action", "kvtest.peek"}, {"parameters", {{"pw", pw}}}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string peek_id = Json::parse(run->body)["id"];
    bool seen_running = false;
    bool in_ps = false;
    WaitFor(
        [&] {
            for (const auto& proc : fs::directory_iterator("/proc")) {
                std::ifstream in(proc.path() / "cmdline", std::ios::binary);
                std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                if (cmdline.find("ST2_ACTION_CMD") != std::string::npos) seen_running = true;
                if (cmdline.find(pw) != std::string::npos) in_ps = true;
            }
            return seen_running;
        },
        30s
    );
    EXPECT_TRUE(seen_running);
    EXPECT_FALSE(in_ps);
    Json peek = wait_done(peek_id);
    EXPECT_EQ(peek["status"], "succeeded") << peek.dump(2);
    EXPECT_EQ(peek["parameters"]["cmd"], "sleep 2; echo ******** | tr a-z A-Z") << peek.dump(2);
    EXPECT_EQ(peek["result"]["stdout"], "QWERTY-PEEK-99");
    EXPECT_EQ(peek.dump().find(pw), std::string::npos) << peek.dump(2);

    run = api.Post("/executions", Json{{"action", "kvtest.leak"}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    Json leak = wait_done(Json::parse(run->body)["id"]);
    EXPECT_EQ(leak["status"], "succeeded") << leak.dump(2);
    EXPECT_EQ(leak["parameters"]["cmd"], "echo ******** ********") << leak.dump(2);
    EXPECT_EQ(leak["result"]["stdout"], "******** ********") << leak.dump(2);
    EXPECT_EQ(leak.dump().find("abcdef"), std::string::npos);
    EXPECT_EQ(leak.dump().find("cfg-secret-77"), std::string::npos);
    EXPECT_EQ(server.Output().find("cfg-secret-77"), std::string::npos);

    // Found by a tester: a decrypted secret quoted by a refusal (a rule's enforcement's failure_reason, its log
    // line, an API answer) and by a runner's error (`cwd` that does not exist) was shown in clear.
    Json refused_rule = {
        {"name", "kv_refused"},
        {"pack", "kvtest"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "kvrefused"}}}}},
        {"action",
         {{"ref", "core.local"},
          {"parameters", {{"cmd", "echo hi"}, {"timeout", "{{ st2kv.system.api_token | decrypt_kv }}"}}}}},
    };
    ASSERT_EQ(api.Post("/rules", refused_rule)->status, 201);
    ASSERT_EQ(api.Post("/webhooks/kvrefused", Json{{"x", 1}})->status, 202);
    Json enforcements;
    ASSERT_TRUE(WaitFor(
        [&] {
            enforcements = api.GetJson("/ruleenforcements?rule_ref=kvtest.kv_refused");
            return enforcements.is_array() && enforcements.size() == 1;
        },
        30s
    )) << enforcements.dump(2);
    const std::string reason = enforcements[0].value("failure_reason", "");
    EXPECT_NE(reason.find("parameter \"timeout\""), std::string::npos) << reason;
    EXPECT_NE(reason.find("********"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("abcdef"), std::string::npos) << reason;
    auto direct = api.Post(
        "/executions",
        Json{
            {"action", "core.local"},
            {"parameters", {{"cmd", "true"}, {"timeout", "{{ st2kv.system.api_token | decrypt_kv }}"}}}}
    );
    ASSERT_TRUE(direct);
    EXPECT_EQ(direct->status, 400) << direct->body;
    EXPECT_EQ(direct->body.find("abcdef"), std::string::npos) << direct->body;
    run = api.Post(
        "/executions",
        Json{
            {"action", "core.local"},
            {"parameters", {{"cmd", "true"}, {"cwd", "/nonexistent/{{ st2kv.system.api_token | decrypt_kv }}"}}}}
    );
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    Json cwd = wait_done(Json::parse(run->body)["id"]);
    EXPECT_EQ(cwd["status"], "failed") << cwd.dump(2);
    EXPECT_NE(cwd["result"].value("error", "").find("/nonexistent/********"), std::string::npos) << cwd.dump(2);
    EXPECT_EQ(cwd.dump().find("abcdef"), std::string::npos) << cwd.dump(2);
    EXPECT_EQ(server.Output().find("abcdef"), std::string::npos) << "a decrypted secret in the server's log";
}

TEST_F(DatastoreTest, AWorkflowsDecryptedDatastoreValuesAreMaskedInItsTasksAndItsResult) {
    // Found in the sixteenth session's review: `st2kv(..., decrypt => true)` in an Orquesta workflow gave its
    // tasks the secret, and their records, their output and the workflow's output showed it in clear.
    const fs::path pack = data_.path() / "d" / "packs" / "wfkv";
    fs::create_directories(pack / "actions" / "workflows");
    std::ofstream(pack / "pack.yaml") << "ref: wfkv\nname: wfkv\nversion: 0.1.0\nauthor: t\ndescription: t\n";
    std::ofstream(pack / "actions" / "main.yaml")
        << "name: main\nrunner_type: orquesta\nentry_point: workflows/main.yaml\nenabled: true\n";
    std::ofstream(pack / "actions" / "workflows" / "main.yaml") << R"(version: 1.0
vars:
  - pw: <% st2kv('system.db_pw', decrypt => true) %>
tasks:
  show:
    action: core.local
    input:
      cmd: echo token=<% ctx(pw) %>
    next:
      - when: <% succeeded() %>
        publish:
          - seen: <% result().stdout %>
        do: inner
  inner:
    action: wfkv.sub
    input:
      value: <% ctx(pw) %>
output:
  - pw: <% ctx(pw) %>
  - seen: <% ctx(seen) %>
  - sub: <% task(inner).result.output %>
)";
    std::ofstream(pack / "actions" / "sub.yaml")
        << "name: sub\nrunner_type: orquesta\nentry_point: workflows/sub.yaml\nenabled: true\n"
        << "parameters:\n  value:\n    type: string\n";
    std::ofstream(pack / "actions" / "workflows" / "sub.yaml") << R"(version: 1.0
input:
  - value
tasks:
  say:
    action: core.local
    input:
      cmd: echo sub=<% ctx(value) %>
    next:
      - publish:
          - said: <% result().stdout %>
output:
  - said: <% ctx(said) %>
  - value: <% ctx(value) %>
)";
    SquallProcess server(Opts());
    Http api(server);
    const std::string secret = "Pw-4711-rotated";
    ASSERT_EQ(server.Cli({"key", "set", "db_pw", secret, "--secret"}).exit_code, 0);
    auto run = api.Post("/executions", Json{{"action", "wfkv.main"}});
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string id = Json::parse(run->body)["id"];
    Json wf;
    ASSERT_TRUE(WaitFor(
        [&] {
            wf = api.GetJson("/executions/" + id);
            return wf.is_object() && core::status::IsCompleted(wf.value("status", ""));
        },
        60s
    )) << wf.dump(2)
       << server.Output();
    ASSERT_EQ(wf["status"], "succeeded") << wf.dump(2);
    const Json output = wf["result"]["output"];
    EXPECT_EQ(output["pw"], "********") << wf.dump(2);
    EXPECT_EQ(output["seen"], "token=********") << wf.dump(2);
    EXPECT_EQ(output["sub"]["said"], "sub=********") << wf.dump(2);
    EXPECT_EQ(output["sub"]["value"], "********") << wf.dump(2);

    // Every execution of the run: the tasks' parameters and results masked, the secret nowhere.
    Json all = api.GetJson("/executions?limit=100");
    ASSERT_TRUE(all.is_array());
    EXPECT_EQ(all.size(), 4u) << all.dump(2);  // main, show, inner (sub), say
    bool show_seen = false;
    for (const auto& e : all) {
        const std::string ref = e.value("action", Json::object()).value("ref", "");
        if (ref == "core.local" && e["parameters"].value("cmd", "").rfind("echo token=", 0) == 0) {
            show_seen = true;
            EXPECT_EQ(e["parameters"]["cmd"], "echo token=********") << e.dump(2);
            EXPECT_EQ(e["result"]["stdout"], "token=********") << e.dump(2);
        }
        if (ref == "wfkv.sub") {
            EXPECT_EQ(e["parameters"]["value"], "********") << e.dump(2);
        }
    }
    EXPECT_TRUE(show_seen) << all.dump(2);
    EXPECT_EQ(all.dump().find(secret), std::string::npos) << all.dump(2);
    auto output_text = api.Get("/executions/" + id + "/output");
    ASSERT_TRUE(output_text);
    EXPECT_EQ(output_text->body.find(secret), std::string::npos) << output_text->body;
    EXPECT_EQ(server.Output().find(secret), std::string::npos) << "a decrypted secret in the server's log";
}

TEST_F(DatastoreTest, ACriteriaPatternReadsTheDatastoresSystemScope) {
    // Found by a tester: `pattern: "{{ st2kv.system.expected_env }}"` rendered as "" (no datastore in criteria), so
    // the rule matched events whose value was empty and never the ones it was written for. StackStorm renders
    // criteria patterns with the system scope (render_template_with_system_context).
    SquallProcess server(Opts());
    Http api(server);
    ASSERT_EQ(server.Cli({"key", "set", "expected_env", "prod"}).exit_code, 0);
    Json rule = {
        {"name", "kvcrit"},
        {"pack", "kvtest"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "kvcrit"}}}}},
        {"criteria",
         {{"trigger.body.env", {{"type", "equals"}, {"pattern", "{{ st2kv.system.expected_env }}"}}},
          {"trigger.body.region", {{"type", "iequals"}, {"pattern", "{{ system.expected_env | upper }}-1"}}}}},
        {"action", {{"ref", "core.echo"}, {"parameters", {{"message", "{{ trigger.body.n }}"}}}}},
    };
    auto created = api.Post("/rules", rule);
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    const std::vector<Json> events = {
        {{"n", "a"}, {"env", "prod"}, {"region", "prod-1"}},  // matches
        {{"n", "b"}, {"env", ""}, {"region", "-1"}},          // what the empty render matched
        {{"n", "c"}, {"env", "dev"}, {"region", "prod-1"}},
        {{"n", "d"}, {"env", "prod"}, {"region", "dev-1"}},
    };
    for (const auto& body : events) {
        auto sent = api.Post("/webhooks/kvcrit", body);
        ASSERT_TRUE(sent);
        ASSERT_EQ(sent->status, 202) << sent->body;
    }
    Json enforcements;
    ASSERT_TRUE(WaitFor(
        [&] {
            enforcements = api.GetJson("/ruleenforcements?rule_ref=kvtest.kvcrit");
            if (!enforcements.is_array() || enforcements.empty()) return false;
            Json instances = api.GetJson("/triggerinstances?trigger=core.st2.webhook");
            if (!instances.is_array() || instances.size() != events.size()) return false;
            for (const auto& ti : instances) {
                if (ti.value("status", "") != "processed") return false;
            }
            return true;
        },
        30s
    )) << enforcements.dump(2);
    ASSERT_TRUE(enforcements.is_array());
    ASSERT_EQ(enforcements.size(), 1u) << enforcements.dump(2);
    Json done;
    ASSERT_TRUE(WaitFor(
        [&] {
            done = api.GetJson("/executions?action=core.echo");
            return done.is_array() && done.size() == 1 && core::status::IsCompleted(done[0].value("status", ""));
        },
        30s
    )) << done.dump(2);
    EXPECT_EQ(done[0]["parameters"]["message"], "a") << done.dump(2);

    // The rule tester and a trace's "why not" read the datastore as the engine does (found by a tester: they said
    // `equals ""` for the rules the engine had matched).
    const Json tested_instance = {
        {"trigger", "core.st2.webhook"},
        {"trigger_parameters", {{"url", "kvcrit"}}},
        {"payload", {{"body", {{"env", "prod"}, {"region", "prod-1"}}}}}};
    auto tested = api.Post("/rules/test", Json{{"rule", "kvtest.kvcrit"}, {"trigger_instance", tested_instance}});
    ASSERT_TRUE(tested);
    ASSERT_EQ(tested->status, 200) << tested->body;
    EXPECT_EQ(Json::parse(tested->body)["matched"], true) << tested->body;
    Json instances = api.GetJson("/triggerinstances?trigger=core.st2.webhook");
    std::string missed;
    for (const auto& ti : instances) {
        if (ti["payload"]["body"].value("n", "") == "c") missed = ti["id"];
    }
    ASSERT_FALSE(missed.empty()) << instances.dump(2);
    Json trace = api.GetJson("/traces/" + missed);
    ASSERT_TRUE(trace.is_object()) << trace.dump(2);
    ASSERT_TRUE(trace["rule_decisions"].is_array() && trace["rule_decisions"].size() == 1) << trace.dump(2);
    EXPECT_EQ(trace["rule_decisions"][0].value("reason", ""), "trigger.body.env equals \"prod\" failed (value \"dev\")")
        << trace.dump(2);

    // A secret read by a pattern (decrypt_kv) is masked in what the tester shows.
    ASSERT_EQ(server.Cli({"key", "set", "crit_pw", "Crit-Secret-99", "--secret"}).exit_code, 0);
    Json secret_rule = {
        {"name", "kvsecret"},
        {"pack", "kvtest"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "kvcrit"}}}}},
        {"criteria",
         {{"trigger.body.env", {{"type", "equals"}, {"pattern", "{{ st2kv.system.crit_pw | decrypt_kv }}"}}}}},
        {"action", {{"ref", "core.noop"}}},
    };
    tested = api.Post("/rules/test", Json{{"rule", secret_rule}, {"trigger_instance", tested_instance}});
    ASSERT_TRUE(tested);
    ASSERT_EQ(tested->status, 200) << tested->body;
    EXPECT_EQ(Json::parse(tested->body)["matched"], false) << tested->body;
    EXPECT_EQ(tested->body.find("Crit-Secret-99"), std::string::npos) << tested->body;
    EXPECT_NE(tested->body.find("********"), std::string::npos) << tested->body;

    // A change of the key is seen by the next event.
    ASSERT_EQ(server.Cli({"key", "set", "expected_env", "dev"}).exit_code, 0);
    ASSERT_EQ(api.Post("/webhooks/kvcrit", Json{{"n", "e"}, {"env", "dev"}, {"region", "DEV-1"}})->status, 202);
    ASSERT_TRUE(WaitFor(
        [&] {
            done = api.GetJson("/executions?action=core.echo");
            return done.is_array() && done.size() == 2;
        },
        30s
    )) << done.dump(2);
}

TEST_F(DatastoreTest, ARulesValuesForSecretParametersAreMaskedInTheRulesApi) {
    // Found by a tester: a rule giving an action's `secret: true` parameter a value showed it in clear through
    // GET /rules (st2 rule get, squall rule get); StackStorm masks it since 3.2.
    const fs::path pack = data_.path() / "d" / "packs" / "rsec";
    fs::create_directories(pack / "actions");
    std::ofstream(pack / "pack.yaml") << "ref: rsec\nname: rsec\nversion: 0.1.0\nauthor: t\ndescription: t\n";
    std::ofstream(pack / "actions" / "login.yaml")
        << "name: login\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n"
        << "  pw:\n    type: string\n    secret: true\n  who:\n    type: string\n"
        << "  cmd:\n    default: 'test \"{{ pw | length }}\" = 14 && echo same {{ who }}'\n";
    SquallProcess server(Opts());
    Http api(server);
    const std::string secret = "RULE-SECRET-42";
    Json rule = {
        {"name", "sec"},
        {"pack", "rsec"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "rsec"}}}}},
        {"action", {{"ref", "rsec.login"}, {"parameters", {{"pw", secret}, {"who", "ann"}}}}},
    };
    auto created = api.Post("/rules", rule);
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    EXPECT_EQ(created->body.find(secret), std::string::npos) << created->body;
    Json shown = api.GetJson("/rules/rsec.sec");
    ASSERT_TRUE(shown.is_object());
    EXPECT_EQ(shown["action"]["parameters"]["pw"], "********") << shown.dump(2);
    EXPECT_EQ(shown["action"]["parameters"]["who"], "ann") << shown.dump(2);
    auto list = api.Get("/rules?pack=rsec");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->body.find(secret), std::string::npos) << list->body;
    EXPECT_NE(list->body.find("********"), std::string::npos) << list->body;
    EXPECT_EQ(api.GetJson("/rules/rsec.sec?show_secrets=true")["action"]["parameters"]["pw"], secret);

    // Sent back as shown (an edit of another field), the rule keeps its secret.
    shown["action"]["parameters"]["who"] = "bob";
    auto put = api.Put("/rules/rsec.sec", shown);
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
    EXPECT_EQ(put->body.find(secret), std::string::npos) << put->body;
    Json clear = api.GetJson("/rules/rsec.sec?show_secrets=true");
    EXPECT_EQ(clear["action"]["parameters"]["pw"], secret) << clear.dump(2);
    EXPECT_EQ(clear["action"]["parameters"]["who"], "bob") << clear.dump(2);
    ASSERT_EQ(api.Post("/webhooks/rsec", Json{{"x", 1}})->status, 202);
    Json done;
    ASSERT_TRUE(WaitFor(
        [&] {
            done = api.GetJson("/executions?action=rsec.login");
            return done.is_array() && done.size() == 1 && core::status::IsCompleted(done[0].value("status", ""));
        },
        30s
    )) << done.dump(2);
    EXPECT_EQ(done[0]["status"], "succeeded") << done.dump(2);
    EXPECT_EQ(done[0]["result"]["stdout"], "same bob") << done.dump(2);
    EXPECT_EQ(done.dump().find(secret), std::string::npos) << done.dump(2);
}

}  // namespace
}  // namespace squall::test
