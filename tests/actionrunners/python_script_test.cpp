#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runner_harness.hpp"

namespace squall::actionrunners {
namespace {

using test::ActionRequest;
using test::RunnerHarness;

constexpr std::string_view kDelimiter = "%%%%%~=~=~=************=~=~=~%%%%";

RunRequest Python(const std::string& name, const std::string& file, Json schema, Json params) {
    return ActionRequest(name, "python-script", file, std::move(schema), std::move(params));
}

TEST(PythonScriptTest, RunsAnUnmodifiedStackStormAction) {
    RunnerHarness h;
    RunRequest req = Python("hello", "hello.py", {{"name", {{"type", "string"}}}}, {{"name", "bob"}, {"timeout", 60}});
    req.config = {{"x", 42}};
    test::RunReport r = h.Run("python-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["result"], Json({{"greeting", "Hello, bob!"}, {"config_x", 42}}));
    EXPECT_EQ(r.result.result["stdout"], "printing to stdout\n");
    EXPECT_EQ(r.result.result["exit_code"], 0);
    const std::string err = r.result.result["stderr"];
    EXPECT_NE(err.find("INFO hello [-] logging for bob"), std::string::npos) << err;
    // The result line is not part of the streamed output.
    EXPECT_EQ(r.Lines("stdout"), std::vector<std::string>{"printing to stdout"});
    for (const auto& [stream, line] : r.lines) EXPECT_EQ(line.find(kDelimiter), std::string::npos);
}

TEST(PythonScriptTest, EveryDeclaredParameterIsPassedNoneWhenItHasNoValue) {
    RunnerHarness h;
    const Json schema = {
        {"given", {{"type", "string"}}}, {"missing", {{"type", "string"}}}, {"defaulted", {{"type", "string"}}}};
    test::RunReport r = h.Run("python-script", Python("declared", "declared.py", schema, {{"given", "g"}}));
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(
        r.result.result["result"],
        Json({{"given", "g"}, {"missing", nullptr}, {"defaulted", nullptr}, {"datastore_service", true}})
    );
}

TEST(PythonScriptTest, StatusTupleDecidesSucceededOrFailed) {
    RunnerHarness h;
    const Json schema = {{"ok", {{"type", "boolean"}}}};
    test::RunReport good = h.Run("python-script", Python("status_tuple", "status_tuple.py", schema, {{"ok", true}}));
    EXPECT_EQ(good.result.status, core::status::kSucceeded);
    EXPECT_EQ(good.result.result["result"], Json({{"fine", true}}));
    test::RunReport bad = h.Run("python-script", Python("status_tuple", "status_tuple.py", schema, {{"ok", false}}));
    EXPECT_EQ(bad.result.status, core::status::kFailed);
    EXPECT_EQ(bad.result.result["result"], "it did not work");
    EXPECT_EQ(bad.result.result["exit_code"], 0);
}

TEST(PythonScriptTest, ExceptionFailsWithTracebackAndClearError) {
    RunnerHarness h;
    test::RunReport r = h.Run("python-script", Python("raises", "raises.py", {}, {}));
    ASSERT_EQ(r.result.status, core::status::kFailed);
    EXPECT_EQ(r.result.result["exit_code"], 1);
    EXPECT_TRUE(r.result.result["result"].is_null());
    EXPECT_EQ(r.result.result["stdout"], "before the error\n");
    const std::string err = r.result.result["stderr"];
    EXPECT_NE(err.find("Traceback (most recent call last)"), std::string::npos) << err;
    const std::string error = r.result.result["error"];
    EXPECT_NE(error.find("raises.py"), std::string::npos) << error;
    EXPECT_NE(error.find("ValueError: bad value for the test"), std::string::npos) << error;
}

TEST(PythonScriptTest, MissingModuleNamesItAndThePackRequirements) {
    RunnerHarness h;
    test::RunReport r = h.Run("python-script", Python("missing_module", "missing_module.py", {}, {}));
    ASSERT_EQ(r.result.status, core::status::kFailed);
    const std::string error = r.result.result["error"];
    EXPECT_NE(error.find("'squall_no_such_module'"), std::string::npos) << error;
    EXPECT_NE(error.find("requirements.txt"), std::string::npos) << error;
}

TEST(PythonScriptTest, SecretsAndTheAuthTokenAreMaskedButReachTheAction) {
    RunnerHarness h;
    RunRequest req = Python(
        "show_secrets", "show_secrets.py", {{"token", {{"type", "string"}, {"secret", true}}}}, {{"token", "tok-123"}}
    );
    req.secret_values = {"tok-123", "config-pw"};
    req.config = {{"password", "config-pw"}};
    req.auth_token = "api-key-xyz";
    test::RunReport r = h.Run("python-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["stdout"], "token is ********\napi token is ********\n");
    EXPECT_EQ(r.result.result["stderr"], "config password is ********\n");
    EXPECT_EQ(r.result.result["result"], Json({{"token", "********"}}));
    const std::string all = r.result.result.dump();
    for (const char* s : {"tok-123", "config-pw", "api-key-xyz"}) EXPECT_EQ(all.find(s), std::string::npos) << s;
}

TEST(PythonScriptTest, SecretsThatJsonEscapesAreMaskedInTheResult) {
    // The result travels as JSON text: `"`, `\` and non-ASCII secrets read differently there than in the value.
    for (const std::string secret : {"Q\"LEAKME", "back\\slashLEAK", "p\u00e4ssLEAK"}) {
        RunnerHarness h;
        RunRequest req = Python(
            "show_secrets", "show_secrets.py", {{"token", {{"type", "string"}, {"secret", true}}}}, {{"token", secret}}
        );
        req.secret_values = {secret};
        test::RunReport r = h.Run("python-script", req);
        ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
        EXPECT_EQ(r.result.result["result"], Json({{"token", "********"}}));
        EXPECT_EQ(r.result.result["stdout"].get<std::string>().rfind("token is ********\n", 0), 0u);
        const std::string all = r.result.result.dump();
        EXPECT_EQ(all.find("LEAK"), std::string::npos) << all;
        const std::string ascii = r.result.result.dump(-1, ' ', true);
        EXPECT_EQ(ascii.find("LEAK"), std::string::npos) << ascii;
    }
}

TEST(PythonScriptTest, AShortSecretNeitherBreaksTheResultNorTheStatus) {
    // "true" is the text of JSON's true, "e" is in every word: masking them inside the result text used to
    // corrupt the JSON the wrapper printed (status failed) and the output around it.
    for (const std::string secret : {"true", "e"}) {
        RunnerHarness h;
        RunRequest req = Python(
            "show_secrets", "show_secrets.py", {{"token", {{"type", "string"}, {"secret", true}}}}, {{"token", secret}}
        );
        req.secret_values = {secret};
        test::RunReport r = h.Run("python-script", req);
        ASSERT_EQ(r.result.status, core::status::kSucceeded) << secret << ": " << r.result.result.dump(2);
        EXPECT_EQ(r.result.result["result"], Json({{"token", "********"}})) << secret;
        const std::string out = r.result.result["stdout"];
        EXPECT_EQ(out.rfind(secret.size() >= 4 ? "token is ********\n" : "token is e\n", 0), 0u) << out;
    }
}

TEST(PythonScriptTest, TimeoutKillsTheAction) {
    RunnerHarness h;
    test::RunReport r = h.Run("python-script", Python("sleepy", "sleepy.py", {}, {{"timeout", 1}}));
    EXPECT_EQ(r.result.status, core::status::kTimeout);
    EXPECT_NE(
        r.result.result["error"].get<std::string>().find("Action failed to complete in 1 seconds"), std::string::npos
    );
}

/// A minimal datastore API (the contract of api/src/routes/keys.cpp) that records what the wrapper sent.
class FakeKeysApi {
public:
    FakeKeysApi() {
        auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu_);
            log_.push_back(req.method + " " + req.path + (req.params.empty() ? "" : "?" + Query(req)));
            if (req.get_header_value("X-Auth-Token") != "the-api-key") {
                res.status = 401;
                res.set_content(R"({"faultstring":"bad key"})", "application/json");
                return false;
            }
            return true;
        };
        server_.Get(R"(/api/v1/keys/(.+))", [this, authorized](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req, res)) return;
            std::lock_guard lock(mu_);
            auto it = items_.find(Member(req.get_param_value("scope"), req.matches[1]));
            if (it == items_.end()) {
                res.status = 404;
                res.set_content(R"({"faultstring":"not found"})", "application/json");
                return;
            }
            Json item = it->second;
            if (item["secret"].get<bool>() && req.get_param_value("decrypt") != "true") item["value"] = "ENCRYPTED";
            res.set_content(item.dump(), "application/json");
        });
        server_.Put(R"(/api/v1/keys/(.+))", [this, authorized](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req, res)) return;
            Json body = Json::parse(req.body);
            std::lock_guard lock(mu_);
            puts_.push_back(body);
            items_[Member(body["scope"], req.matches[1])] = body;
            res.set_content(body.dump(), "application/json");
        });
        server_.Delete(R"(/api/v1/keys/(.+))", [this, authorized](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req, res)) return;
            std::lock_guard lock(mu_);
            res.status = items_.erase(Member(req.get_param_value("scope"), req.matches[1])) ? 204 : 404;
        });
        server_.Get("/api/v1/keys", [this, authorized](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req, res)) return;
            std::lock_guard lock(mu_);
            Json list = Json::array();
            const std::string prefix = req.get_param_value("prefix");
            for (const auto& [member, item] : items_) {
                if (item["name"].get<std::string>().rfind(prefix, 0) == 0) list.push_back(item);
            }
            res.set_content(list.dump(), "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() is a no-op before listening starts: wait for it, so that the destructor cannot hang.
        squall::test::WaitFor([this] { return server_.is_running(); }, std::chrono::seconds(10));
    }
    ~FakeKeysApi() {
        server_.stop();
        thread_.join();
    }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }
    std::vector<std::string> Log() {
        std::lock_guard lock(mu_);
        return log_;
    }
    std::vector<Json> Puts() {
        std::lock_guard lock(mu_);
        return puts_;
    }

private:
    static std::string Member(const std::string& scope, const std::string& name) { return scope + "/" + name; }
    static std::string Query(const httplib::Request& req) {
        std::string q;
        for (const auto& [k, v] : req.params) q += (q.empty() ? "" : "&") + k + "=" + v;
        return q;
    }

    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::map<std::string, Json> items_;
    std::vector<std::string> log_;
    std::vector<Json> puts_;
};

TEST(PythonScriptTest, ActionServiceUsesTheDatastoreApi) {
    FakeKeysApi api;
    RunnerHarness h;
    RunRequest req = Python("kv", "kv.py", {}, {});
    req.api_url = api.Url();
    req.auth_token = "the-api-key";
    test::RunReport r = h.Run("python-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(
        r.result.result["result"],
        Json({
            {"local", "1"},
            {"global", "g"},
            {"decrypted", "t0k"},
            {"missing", nullptr},
            {"names", {"squall_test.KvAction:counter", "squall_test.KvAction:token"}},
            {"deleted", true},
            {"deleted_again", false},
        })
    );
    std::vector<Json> puts = api.Puts();
    ASSERT_EQ(puts.size(), 3u);
    EXPECT_EQ(
        puts[0],
        Json({{"name", "squall_test.KvAction:counter"}, {"value", "1"}, {"scope", "st2kv.system"}, {"secret", false}})
    );
    EXPECT_EQ(
        puts[1],
        Json({{"name", "global_key"}, {"value", "g"}, {"scope", "st2kv.system"}, {"secret", false}, {"ttl", 30}})
    );
    EXPECT_EQ(puts[2]["secret"], true);
    std::vector<std::string> log = api.Log();
    EXPECT_NE(
        std::find(
            log.begin(), log.end(), "GET /api/v1/keys/squall_test.KvAction:token?decrypt=true&scope=st2kv.system"
        ),
        log.end()
    ) << Json(log).dump(2);
    EXPECT_NE(
        std::find(log.begin(), log.end(), "GET /api/v1/keys?prefix=squall_test.KvAction:&scope=st2kv.system"), log.end()
    ) << Json(log).dump(2);
    EXPECT_EQ(r.result.result.dump().find("the-api-key"), std::string::npos);
}

/// Start-up overhead of a hello-world python action (runner → wrapper → run() → result), printed for
/// docs/benchmarks.md. Asserts only that every run succeeded.
TEST(PythonScriptTest, HelloWorldStartupOverhead) {
    RunnerHarness h;
    std::vector<double> ms;
    for (int i = 0; i < 11; ++i) {
        RunRequest req = Python("noop", "noop.py", {}, {});
        req.execution_id += std::to_string(i);
        const auto start = std::chrono::steady_clock::now();
        test::RunReport r = h.Run("python-script", req);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
        ASSERT_EQ(r.result.result["result"], "hello world");
    }
    std::sort(ms.begin(), ms.end());
    const char* py = std::getenv("SQUALL_PYTHON");  // NOLINT(concurrency-mt-unsafe)
    std::cout << "python-script hello world (" << (py ? py : "python3 on PATH") << "): median " << ms[ms.size() / 2]
              << " ms, min " << ms.front() << " ms, max " << ms.back() << " ms over " << ms.size() << " runs\n";
}

}  // namespace
}  // namespace squall::actionrunners
