// Auth end to end (issue 15 item 3): users added with the CLI, tokens from POST /auth/v1/tokens (HTTP Basic),
// X-Auth-Token / ?x-auth-token=, revocation, API keys CRUD, admin-only operations (403), executions owned by their
// user, and the action tokens actions get (ST2_ACTION_AUTH_TOKEN) — refused once their execution ended. The real
// binary with its embedded Redis; credentials are looked for at rest and in the log.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "files.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

constexpr const char* kAlicePassword = "alice-Pw-4242-secret";
constexpr const char* kBobPassword = "bob-Pw-9191-secret";

/// `squall user add NAME [--admin]` with the password written to its stdin; the exit code.
int AddUser(const std::string& data_dir, const std::string& name, const std::string& password, bool admin) {
    const std::string cmd = SquallProcess::Binary() + " user add " + name + (admin ? " --admin" : "") + " --data-dir " +
                            data_dir + " >/dev/null 2>&1";
    FILE* p = popen(cmd.c_str(), "w");
    if (p == nullptr) return -1;
    std::fputs((password + "\n").c_str(), p);
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void WriteFile(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::string ReadTree(const fs::path& dir) {
    std::string all;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
}

/// HTTP against one server, with explicit credentials per call.
class Http {
public:
    explicit Http(const SquallProcess& p) : http_(p.host(), p.port()) { http_.set_read_timeout(30, 0); }
    httplib::Result Get(const std::string& path, const httplib::Headers& h) { return http_.Get(path.c_str(), h); }
    httplib::Result Post(const std::string& path, const httplib::Headers& h, const Json& body) {
        return http_.Post(path.c_str(), h, body.dump(), "application/json");
    }
    httplib::Result Put(const std::string& path, const httplib::Headers& h, const Json& body) {
        return http_.Put(path.c_str(), h, body.dump(), "application/json");
    }
    httplib::Result Delete(const std::string& path, const httplib::Headers& h) { return http_.Delete(path.c_str(), h); }
    /// POST /auth/v1/tokens with HTTP Basic.
    httplib::Result Login(const std::string& user, const std::string& password, const Json& body = Json::object()) {
        return Post("/auth/v1/tokens", {{"Authorization", "Basic " + core::Base64Encode(user + ":" + password)}}, body);
    }

private:
    httplib::Client http_;
};

httplib::Headers Token(const std::string& t) {
    return {{"X-Auth-Token", t}};
}
httplib::Headers Key(const std::string& k) {
    return {{"St2-Api-Key", k}};
}
Json Body(const httplib::Result& r) {
    return r ? Json::parse(r->body, nullptr, false) : Json();
}

class AuthTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        fs::create_directories(DataDir());
    }
    std::string DataDir() const { return (dir_.path() / "d").string(); }
    SquallProcess::Options Opts() const {
        SquallProcess::Options o;
        o.data_dir = DataDir();
        return o;
    }
    TempDir dir_;
};

TEST_F(AuthTest, UsersAreAddedWithTheCliAndStoredHashed) {
    ASSERT_EQ(AddUser(DataDir(), "alice", kAlicePassword, false), 0);
    ASSERT_EQ(AddUser(DataDir(), "bob", kBobPassword, true), 0);
    EXPECT_NE(AddUser(DataDir(), "alice", "other", false), 0) << "adding an existing user must fail";
    EXPECT_NE(AddUser(DataDir(), "bad name", "x", false), 0);
    const fs::path file = fs::path(DataDir()) / "users.json";
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    const std::string text = ReadFile(file.string());
    EXPECT_EQ(text.find(kAlicePassword), std::string::npos);
    EXPECT_EQ(text.find(kBobPassword), std::string::npos);
    EXPECT_NE(text.find("pbkdf2-sha256$"), std::string::npos) << text;

    CliResult list = SquallProcess::RunBinary({"user", "list", "-j", "--data-dir", DataDir()}, {}, 30s);
    ASSERT_EQ(list.exit_code, 0) << list.err;
    Json users = Json::parse(list.out);
    ASSERT_EQ(users.size(), 2u) << list.out;
    EXPECT_EQ(users[0]["name"], "alice");
    EXPECT_EQ(users[0]["admin"], false);
    EXPECT_EQ(users[1]["name"], "bob");
    EXPECT_EQ(users[1]["admin"], true);
    EXPECT_EQ(list.out.find("pbkdf2"), std::string::npos);

    CliResult del = SquallProcess::RunBinary({"user", "delete", "alice", "--data-dir", DataDir()}, {}, 30s);
    ASSERT_EQ(del.exit_code, 0) << del.err;
    CliResult again = SquallProcess::RunBinary({"user", "delete", "alice", "--data-dir", DataDir()}, {}, 30s);
    EXPECT_NE(again.exit_code, 0);
    EXPECT_NE(again.err.find("not found"), std::string::npos) << again.err;
}

TEST_F(AuthTest, TokensFromBasicAuthWorkUntilRevokedAndAreStoredHashed) {
    ASSERT_EQ(AddUser(DataDir(), "alice", kAlicePassword, false), 0);
    SquallProcess server(Opts());
    Http http(server);

    // Wrong password, unknown user, no header: 401 with a faultstring.
    for (const auto& r :
         {http.Login("alice", "wrong"),
          http.Login("nobody", kAlicePassword),
          http.Post("/auth/v1/tokens", {}, Json::object())}) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 401) << r->body;
        EXPECT_TRUE(Body(r).contains("faultstring")) << r->body;
    }

    auto created = http.Login("alice", kAlicePassword);
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    Json t = Body(created);
    for (const char* f : {"user", "token", "expiry", "id", "metadata"}) EXPECT_TRUE(t.contains(f)) << f;
    EXPECT_EQ(t["user"], "alice");
    const std::string token = t["token"];
    EXPECT_EQ(token.size(), 64u);
    std::chrono::system_clock::time_point expiry;
    ASSERT_TRUE(core::ParseIsoTimestamp(t["expiry"], &expiry));
    const auto lives = std::chrono::duration_cast<std::chrono::seconds>(expiry - std::chrono::system_clock::now());
    EXPECT_GT(lives.count(), 86000);  // the default token_ttl, a day
    EXPECT_LE(lives.count(), 86400);

    // A ttl within the maximum is honoured; above it, or not a number, is a 400 naming it.
    auto short_lived = http.Login("alice", kAlicePassword, {{"ttl", 60}});
    ASSERT_EQ(short_lived->status, 201) << short_lived->body;
    ASSERT_TRUE(core::ParseIsoTimestamp(Body(short_lived)["expiry"], &expiry));
    EXPECT_LE(expiry - std::chrono::system_clock::now(), 61s);
    auto too_long = http.Login("alice", kAlicePassword, {{"ttl", 999999999}});
    EXPECT_EQ(too_long->status, 400);
    EXPECT_NE(too_long->body.find("greater than max allowed 86400"), std::string::npos) << too_long->body;
    EXPECT_EQ(http.Login("alice", kAlicePassword, {{"ttl", "long"}})->status, 400);
    // /auth/tokens (the path without the version) answers too.
    auto unversioned = http.Post(
        "/auth/tokens",
        {{"Authorization", "Basic " + core::Base64Encode(std::string("alice:") + kAlicePassword)}},
        Json::object()
    );
    EXPECT_EQ(unversioned->status, 201);

    // The token works as a header and as ?x-auth-token=, on /api/v1 and /v1.
    auto me = http.Get("/api/v1/user", Token(token));
    ASSERT_EQ(me->status, 200) << me->body;
    Json user = Body(me);
    EXPECT_EQ(user["username"], "alice");
    EXPECT_EQ(user["authentication"]["method"], "authentication token");
    EXPECT_EQ(user["authentication"]["location"], "header");
    EXPECT_EQ(user["rbac"]["is_admin"], false);
    auto by_query = http.Get("/v1/user?x-auth-token=" + token, {});
    ASSERT_EQ(by_query->status, 200);
    EXPECT_EQ(Body(by_query)["authentication"]["location"], "query");
    EXPECT_EQ(http.Get("/api/v1/actions?limit=1", Token(token))->status, 200);
    EXPECT_EQ(http.Get("/api/v1/actions?limit=1", Token("not-a-token"))->status, 401);

    // Validate, revoke, validate again.
    auto valid = http.Post("/auth/v1/tokens/validate", Token(token), {{"token", token}});
    ASSERT_EQ(valid->status, 200) << valid->body;
    EXPECT_EQ(Body(valid)["valid"], true);
    EXPECT_EQ(Body(http.Post("/auth/v1/tokens/validate", Token(token), {{"token", "x"}}))["valid"], false);
    EXPECT_EQ(http.Post("/auth/v1/tokens/validate", {}, {{"token", token}})->status, 401);
    // Alice may not revoke by id (admins only) but revokes her own token by itself.
    EXPECT_EQ(http.Delete("/auth/v1/tokens/" + Body(short_lived)["id"].get<std::string>(), Token(token))->status, 403);
    auto revoked = http.Delete("/auth/v1/tokens/" + token, Token(token));
    ASSERT_EQ(revoked->status, 204) << revoked->body;
    auto after = http.Get("/api/v1/user", Token(token));
    EXPECT_EQ(after->status, 401);
    EXPECT_NE(after->body.find("Token is not valid"), std::string::npos) << after->body;
    // An admin revokes a token by its id.
    const std::string admin_key = server.api_key();
    EXPECT_EQ(
        http.Delete("/auth/v1/tokens/" + Body(short_lived)["id"].get<std::string>(), Key(admin_key))->status, 204
    );
    EXPECT_EQ(http.Get("/api/v1/user", Token(Body(short_lived)["token"]))->status, 401);

    // At rest: the hash of the token is there (the AOF is flushed every second), the token and password are not;
    // nor are they in the server's log.
    const std::string hash = core::Sha256Hex(token);
    ASSERT_TRUE(WaitFor([&] { return ReadTree(DataDir()).find(hash) != std::string::npos; }, 10s));
    const std::string at_rest = ReadTree(DataDir());
    EXPECT_EQ(at_rest.find(token), std::string::npos);
    EXPECT_EQ(at_rest.find(kAlicePassword), std::string::npos);
    EXPECT_EQ(server.Output().find(token), std::string::npos);
    EXPECT_EQ(server.Output().find(kAlicePassword), std::string::npos);
}

TEST_F(AuthTest, ApiKeysCrudAndAdminOnlyOperations) {
    ASSERT_EQ(AddUser(DataDir(), "alice", kAlicePassword, false), 0);
    ASSERT_EQ(AddUser(DataDir(), "bob", kBobPassword, true), 0);
    SquallProcess server(Opts());
    Http http(server);
    const std::string admin = server.api_key();
    const std::string alice = Body(http.Login("alice", kAlicePassword))["token"];
    const std::string bob = Body(http.Login("bob", kBobPassword))["token"];
    ASSERT_FALSE(alice.empty());
    ASSERT_FALSE(bob.empty());

    // Create (the key is shown once), list (never the key; the hash masked), get by id and by the key.
    auto created = http.Post("/api/v1/apikeys", Key(admin), {{"user", "alice"}, {"metadata", {{"used_by", "ci"}}}});
    ASSERT_EQ(created->status, 201) << created->body;
    Json k = Body(created);
    const std::string key = k["key"];
    const std::string id = k["id"];
    EXPECT_EQ(key.size(), 64u);
    EXPECT_EQ(k["user"], "alice");
    EXPECT_EQ(k["enabled"], true);
    auto listed = http.Get("/api/v1/apikeys", Key(admin));
    ASSERT_EQ(listed->status, 200);
    EXPECT_EQ(listed->body.find(key), std::string::npos);
    EXPECT_NE(listed->body.find(id), std::string::npos);
    EXPECT_NE(listed->body.find("\"used_by\":\"ci\""), std::string::npos) << listed->body;
    for (const auto& item : Body(listed)) EXPECT_EQ(item["key_hash"], "********");
    EXPECT_EQ(Body(http.Get("/api/v1/apikeys/" + id, Key(admin)))["user"], "alice");
    EXPECT_EQ(Body(http.Get("/api/v1/apikeys/" + key, Key(admin)))["id"], id);
    EXPECT_EQ(
        Body(http.Get("/api/v1/apikeys/" + id + "?show_secrets=true", Key(admin)))["key_hash"], core::Sha256Hex(key)
    );

    // The key authenticates as alice (header and ?st2-api-key=); disabled it is refused; deleted it is gone.
    EXPECT_EQ(Body(http.Get("/api/v1/user", Key(key)))["username"], "alice");
    EXPECT_EQ(http.Get("/api/v1/actions?limit=1&st2-api-key=" + key, {})->status, 200);
    auto disabled = http.Put("/api/v1/apikeys/" + id, Key(admin), {{"enabled", false}});
    ASSERT_EQ(disabled->status, 200) << disabled->body;
    EXPECT_EQ(Body(disabled)["enabled"], false);
    auto refused = http.Get("/api/v1/user", Key(key));
    EXPECT_EQ(refused->status, 401);
    EXPECT_NE(refused->body.find("disabled"), std::string::npos) << refused->body;
    ASSERT_EQ(http.Put("/api/v1/apikeys/" + id, Key(admin), {{"enabled", true}})->status, 200);
    EXPECT_EQ(http.Get("/api/v1/user", Key(key))->status, 200);
    EXPECT_EQ(http.Delete("/api/v1/apikeys/" + id, Key(admin))->status, 204);
    EXPECT_EQ(http.Get("/api/v1/user", Key(key))->status, 401);
    EXPECT_EQ(http.Get("/api/v1/apikeys/" + id, Key(admin))->status, 404);

    // Admin-only: 403 saying so for alice; bob (admin) may.
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/api/v1/apikeys"},
             {"POST", "/api/v1/apikeys"},
             {"GET", "/api/v1/actions?limit=-1"},
             {"GET", "/api/v1/executions?show_secrets=true"},
             {"POST", "/api/v1/packs/install"},
             {"POST", "/api/v1/packs/uninstall"},
             {"POST", "/api/v1/packs/register"},
             {"PUT", "/api/v1/keys/sys_key"},
             {"GET", "/api/v1/keys?decrypt=true"},
             {"POST", "/api/v1/rules"},
             {"POST", "/api/v1/executions"},
         }) {
        Json body = {{"packs", Json::array({"x"})}, {"name", "sys_key"}, {"value", "v"}};
        if (path == "/api/v1/executions") body = {{"action", "core.noop"}, {"user", "bob"}};
        auto r = method == "GET"    ? http.Get(path, Token(alice))
                 : method == "POST" ? http.Post(path, Token(alice), body)
                                    : http.Put(path, Token(alice), body);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 403) << method << " " << path << ": " << r->body;
        EXPECT_NE(r->body.find("for admins only"), std::string::npos) << method << " " << path << ": " << r->body;
    }
    EXPECT_EQ(http.Get("/api/v1/apikeys", Token(bob))->status, 200);
    EXPECT_EQ(http.Get("/api/v1/actions?limit=-1", Token(bob))->status, 200);
    // Alice's own user-scoped keys are hers to write and decrypt.
    EXPECT_EQ(http.Put("/api/v1/keys/mine", Token(alice), {{"value", "v"}, {"scope", "user"}})->status, 200);
    EXPECT_EQ(http.Get("/api/v1/keys/mine?scope=user&decrypt=true", Token(alice))->status, 200);
    EXPECT_EQ(http.Get("/api/v1/keys/mine?scope=user&user=bob", Token(alice))->status, 403);

    // Executions belong to their user: alice sees and acts on hers only.
    auto hers = http.Post("/api/v1/executions", Token(alice), {{"action", "core.noop"}});
    ASSERT_EQ(hers->status, 201) << hers->body;
    auto his = http.Post("/api/v1/executions", Token(bob), {{"action", "core.noop"}});
    ASSERT_EQ(his->status, 201) << his->body;
    const std::string her_id = Body(hers)["id"];
    const std::string his_id = Body(his)["id"];
    EXPECT_EQ(Body(hers)["context"]["user"], "alice");
    EXPECT_EQ(http.Get("/api/v1/executions/" + her_id, Token(alice))->status, 200);
    auto forbidden = http.Get("/api/v1/executions/" + his_id, Token(alice));
    EXPECT_EQ(forbidden->status, 403);
    EXPECT_NE(forbidden->body.find("is for its owner or an admin"), std::string::npos) << forbidden->body;
    EXPECT_EQ(http.Post("/api/v1/executions/" + his_id + "/re_run", Token(alice), Json::object())->status, 403);
    EXPECT_EQ(http.Delete("/api/v1/executions/" + his_id, Token(alice))->status, 403);
    auto list = http.Get("/api/v1/executions", Token(alice));
    ASSERT_EQ(list->status, 200);
    EXPECT_NE(list->body.find(her_id), std::string::npos);
    EXPECT_EQ(list->body.find(his_id), std::string::npos);
    EXPECT_EQ(list->get_header_value("X-Total-Count"), "1");
    auto all = http.Get("/api/v1/executions", Token(bob));
    EXPECT_NE(all->body.find(her_id), std::string::npos);
    EXPECT_NE(all->body.find(his_id), std::string::npos);

    const std::string log = server.Output();
    EXPECT_EQ(log.find(key), std::string::npos);
    EXPECT_EQ(log.find(alice), std::string::npos);
}

TEST_F(AuthTest, ActionsGetATokenThatDiesWithTheirExecution) {
    // A python action that uses its token (the datastore through action_service, and a raw request), saves it
    // to a file for the test, and reports what it saw in its environment.
    const fs::path pack = fs::path(DataDir()) / "packs" / "authtest";
    fs::create_directories(pack / "actions");
    WriteFile(pack / "pack.yaml", "ref: authtest\nname: authtest\nversion: 1.0.0\nauthor: t\n");
    WriteFile(
        pack / "actions" / "use_token.yaml",
        "name: use_token\nrunner_type: python-script\nentry_point: use_token.py\nparameters:\n"
        "  out:\n    type: string\n    required: true\n"
    );
    WriteFile(
        pack / "actions" / "use_token.py",
        R"PY(import json
import os
import urllib.request

from st2common.runners.base_action import Action


class UseToken(Action):
    def run(self, out):
        token = os.environ.get("ST2_ACTION_AUTH_TOKEN", "")
        with open(out, "w") as f:
            f.write(token)
        self.action_service.set_value("from_action", "written-with-token", local=False)
        got = self.action_service.get_value("from_action", local=False)
        req = urllib.request.Request(os.environ["ST2_ACTION_API_URL"] + "/user")
        req.add_header("X-Auth-Token", token)
        with urllib.request.urlopen(req, timeout=10) as res:
            me = json.loads(res.read())
        return {"got": got, "user": me["username"], "method": me["authentication"]["method"],
                "has_api_key": "ST2_API_KEY" in os.environ, "printed": token}
)PY"
    );
    SquallProcess server(Opts());
    Http http(server);
    const std::string admin = server.api_key();
    const std::string out = (dir_.path() / "token.txt").string();
    auto run =
        http.Post("/api/v1/executions", Key(admin), {{"action", "authtest.use_token"}, {"parameters", {{"out", out}}}});
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string id = Body(run)["id"];
    Json e;
    ASSERT_TRUE(WaitFor(
        [&] {
            e = Body(http.Get("/api/v1/executions/" + id, Key(admin)));
            return e.is_object() && core::status::IsCompleted(e.value("status", ""));
        },
        60s
    ));
    ASSERT_EQ(e["status"], "succeeded") << e.dump(2);
    const Json result = e["result"]["result"];
    EXPECT_EQ(result["got"], "written-with-token");
    EXPECT_EQ(result["user"], "admin");
    EXPECT_EQ(result["method"], "action token");
    EXPECT_EQ(result["has_api_key"], false) << "actions get a token, not the admin key";
    EXPECT_EQ(result["printed"], "********") << "the token is masked in the result";
    Json kv = Body(http.Get("/api/v1/keys/from_action", Key(admin)));
    EXPECT_EQ(kv["value"], "written-with-token");

    // The token the action had: refused now that its execution has ended; a forged one too.
    const std::string token = ReadFile(out);
    ASSERT_EQ(token.rfind("sqx1." + id + ".", 0), 0u) << token;
    auto after = http.Get("/api/v1/keys/from_action", Token(token));
    EXPECT_EQ(after->status, 401);
    EXPECT_NE(after->body.find("its execution ended"), std::string::npos) << after->body;
    std::string forged = token;
    forged.back() = forged.back() == '0' ? '1' : '0';
    EXPECT_EQ(http.Get("/api/v1/user", Token(forged))->status, 401);
    EXPECT_EQ(e.dump().find(token), std::string::npos);
    EXPECT_EQ(server.Output().find(token), std::string::npos);
}

}  // namespace
}  // namespace squall::test
