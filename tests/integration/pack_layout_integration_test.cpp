// End to end (issue 4): a full StackStorm-format pack registered by the real server — trigger types, sensor
// types, aliases, policies and its config through the API, config PUT/GET, and config_context reaching a rule's
// execution and an action's defaults.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

const std::string kFull = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/packs/full";

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::trunc) << text;
}

class Http {
public:
    explicit Http(const SquallProcess& p) : http_(p.host(), p.port()), headers_{{"St2-Api-Key", p.api_key()}} {
        http_.set_read_timeout(30, 0);
    }
    httplib::Result Get(const std::string& path) { return http_.Get(("/api/v1" + path).c_str(), headers_); }
    httplib::Result Put(const std::string& path, const Json& body) {
        return http_.Put(("/api/v1" + path).c_str(), headers_, body.dump(), "application/json");
    }
    httplib::Result Post(const std::string& path, const Json& body) {
        return http_.Post(("/api/v1" + path).c_str(), headers_, body.dump(), "application/json");
    }
    Json GetJson(const std::string& path, int want = 200) {
        auto r = Get(path);
        if (!r) {
            ADD_FAILURE() << "GET " << path << ": no answer";
            return nullptr;
        }
        EXPECT_EQ(r->status, want) << path << ": " << r->body;
        return Json::parse(r->body, nullptr, false);
    }
    std::string TotalCount(const std::string& path) {
        auto r = Get(path);
        return r ? r->get_header_value("X-Total-Count") : "";
    }
    Json WaitCompleted(const std::string& id) {
        Json e;
        WaitFor(
            [&] {
                e = GetJson("/executions/" + id);
                return e.is_object() && core::status::IsCompleted(e.value("status", ""));
            },
            60s
        );
        return e;
    }

private:
    httplib::Client http_;
    httplib::Headers headers_;
};

class PackLayoutIntegrationTest : public ::testing::Test {
protected:
    void SetUp() override {
        fs::create_directories(data_.path() / "packs");
        fs::copy(kFull, data_.path() / "packs" / "full", fs::copy_options::recursive);
        Write(data_.path() / "configs" / "full.yaml", "---\napi_token: s3cret\nregion: eu\n");
        // A pack whose config file does not fit its schema: registered, with the error, without a config.
        Write(data_.path() / "packs" / "badconf" / "pack.yaml", "---\nname: badconf\nversion: 0.1.0\n");
        Write(data_.path() / "packs" / "badconf" / "config.schema.yaml", "---\nport:\n  type: integer\n");
        Write(data_.path() / "configs" / "badconf.yaml", "---\nport: lots\n");
        server_ = std::make_unique<SquallProcess>(SquallProcess::Options{data_.path().string()});
        http_ = std::make_unique<Http>(*server_);
    }
    void TearDown() override {
        http_.reset();
        if (server_) EXPECT_EQ(server_->Stop(), 0) << server_->Output();
    }

    TempDir data_;
    std::unique_ptr<SquallProcess> server_;
    std::unique_ptr<Http> http_;
};

TEST_F(PackLayoutIntegrationTest, EveryContentKindIsServedInStackStormShape) {
    Json pack = http_->GetJson("/packs/full");
    // Only runners that are not built yet may be missing (orquesta comes with the workflow engine).
    for (const auto& e : pack["load_errors"])
        EXPECT_NE(e.get<std::string>().find("unknown runner"), std::string::npos) << e;
    EXPECT_EQ(pack["version"], "1.2.3");
    EXPECT_EQ(pack["dependencies"], Json::array({"core"}));

    Json types = http_->GetJson("/triggertypes?pack=full");
    ASSERT_TRUE(types.is_array());
    EXPECT_EQ(types.size(), 3u);
    EXPECT_EQ(http_->TotalCount("/triggertypes?pack=full&limit=1"), "3");
    Json deployed = http_->GetJson("/triggertypes/full.deployed");
    EXPECT_EQ(deployed["ref"], "full.deployed");
    EXPECT_EQ(deployed["uid"], "trigger_type:full:deployed");
    EXPECT_EQ(deployed["payload_schema"]["properties"]["environment"]["enum"][1], "production");
    http_->GetJson("/triggertypes/full.nope", 404);

    Json sensors = http_->GetJson("/sensortypes?pack=full&limit=1&offset=1");
    ASSERT_EQ(sensors.size(), 1u);
    EXPECT_EQ(http_->TotalCount("/sensortypes?pack=full&limit=1"), "2");
    Json watcher = http_->GetJson("/sensortypes/full.WatcherSensor");
    EXPECT_EQ(watcher["class_name"], "WatcherSensor");
    EXPECT_EQ(watcher["poll_interval"], 30);
    EXPECT_EQ(watcher["enabled"], false);
    EXPECT_EQ(watcher["trigger_types"], Json::array({"full.changed", "full.deployed"}));
    EXPECT_EQ(http_->GetJson("/sensortypes?trigger=full.tick").size(), 1u);

    Json alias = http_->GetJson("/actionalias/full.hello");
    EXPECT_EQ(alias["action_ref"], "full.hello");
    EXPECT_EQ(alias["formats"][1]["representation"][0], "hello {{ who=world }}");
    EXPECT_EQ(http_->GetJson("/actionalias?pack=full").size(), 1u);

    Json policies = http_->GetJson("/policies?pack=full");
    EXPECT_EQ(policies.size(), 3u);
    Json retry = http_->GetJson("/policies/full.deploy.retry");
    EXPECT_EQ(retry["policy_type"], "action.retry");
    EXPECT_EQ(retry["resource_ref"], "full.deploy");
    EXPECT_EQ(retry["parameters"]["max_retry_count"], 3);
    EXPECT_EQ(http_->GetJson("/policies?policy_type=action.concurrency").size(), 1u);
    EXPECT_EQ(http_->GetJson("/policytypes").size(), 3u);

    Json schema = http_->GetJson("/config_schemas/full");
    EXPECT_EQ(schema["attributes"]["api_token"]["secret"], true);

    // The pack with a bad config: registered, its error names the file, line and column; no config stored.
    Json bad = http_->GetJson("/packs/badconf");
    ASSERT_EQ(bad["load_errors"].size(), 1u) << bad.dump(2);
    const std::string err = bad["load_errors"][0];
    EXPECT_NE(err.find("configs/badconf.yaml:2:1: port: \"lots\" is not of type integer"), std::string::npos) << err;
    http_->GetJson("/configs/badconf", 404);
}

// StackStorm's PUT /policies/{ref} (`st2 policy update`): an operator switches a policy off during an incident, and it
// stays off across a restart while its file is unchanged; what else a policy is comes from its file (405, as POST and
// DELETE), and a run no longer carries a disabled policy.
TEST_F(PackLayoutIntegrationTest, APolicyIsSwitchedOffThroughTheApiAndStaysOff) {
    Json retry = http_->GetJson("/policies/full.deploy.retry");
    ASSERT_EQ(retry["enabled"], true) << retry.dump();
    retry["enabled"] = false;
    auto put = http_->Put("/policies/full.deploy.retry", retry);
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
    EXPECT_EQ(Json::parse(put->body)["enabled"], false);
    EXPECT_EQ(http_->GetJson("/policies/full.deploy.retry")["enabled"], false);

    Json changed = retry;
    changed["parameters"]["max_retry_count"] = 5;
    auto refused = http_->Put("/policies/full.deploy.retry", changed);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 405) << refused->body;
    EXPECT_NE(refused->body.find("parameters"), std::string::npos) << refused->body;
    EXPECT_NE(refused->body.find("pack register"), std::string::npos) << refused->body;
    auto created = http_->Post("/policies", retry);
    ASSERT_TRUE(created);
    EXPECT_EQ(created->status, 405) << created->body;
    auto missing = http_->Put("/policies/full.nope", {{"enabled", false}});
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404) << missing->body;

    ASSERT_EQ(server_->Stop(), 0) << server_->Output();
    server_ = std::make_unique<SquallProcess>(SquallProcess::Options{data_.path().string()});
    http_ = std::make_unique<Http>(*server_);
    EXPECT_EQ(http_->GetJson("/policies/full.deploy.retry")["enabled"], false);
    EXPECT_EQ(http_->GetJson("/policies/full.deploy.retry")["parameters"]["max_retry_count"], 3);
}

TEST_F(PackLayoutIntegrationTest, ConfigPutGetAndConfigContextInRulesAndDefaults) {
    Json config = http_->GetJson("/configs/full");
    EXPECT_EQ(config["pack"], "full");
    EXPECT_EQ(config["values"]["api_token"], "********");
    EXPECT_EQ(config["values"]["greeting"], "hello");  // the schema's default
    EXPECT_EQ(config["values"]["port"], 8443);
    EXPECT_EQ(http_->GetJson("/configs/full?show_secrets=true")["values"]["api_token"], "s3cret");
    Json list = http_->GetJson("/configs");
    bool listed = false;
    for (const auto& c : list) {
        if (c["pack"] != "full") continue;
        listed = true;
        EXPECT_EQ(c["values"]["api_token"], "********");
    }
    EXPECT_TRUE(listed) << list.dump(2);

    // Invalid configs are refused naming the property and the rule.
    auto r = http_->Put("/configs/full", {{"api_token", "x"}, {"port", 70000}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(Json::parse(r->body)["faultstring"], "config property \"port\": 70000 is greater than the maximum 65535");
    r = http_->Put("/configs/full", {{"greeting", "hi"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(Json::parse(r->body)["faultstring"], "config property \"api_token\": is required");

    r = http_->Put("/configs/full", {{"api_token", "n3w"}, {"greeting", "howdy"}, {"port", "9000"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    Json put = Json::parse(r->body);
    EXPECT_EQ(put["values"]["api_token"], "********");
    EXPECT_EQ(put["values"]["port"], 9000);
    Json clear = http_->GetJson("/configs/full?show_secrets=true");
    EXPECT_EQ(clear["values"]["api_token"], "n3w");
    EXPECT_EQ(clear["values"]["greeting"], "howdy");
    EXPECT_EQ(http_->GetJson("/configs/full")["values"]["api_token"], "********");
    // Written to DATA/configs/full.yaml (read again at the next start).
    Result<core::YamlDocument> file = core::LoadYamlFile((data_.path() / "configs" / "full.yaml").string());
    ASSERT_TRUE(file) << file.error().What();
    EXPECT_EQ(file->value["api_token"], "n3w");
    EXPECT_EQ(file->value["port"], 9000);

    // A rule whose action parameters use {{ config_context.x }}.
    r = http_->Post("/webhooks/full_hook", {{"who", "ann"}});
    ASSERT_TRUE(r);
    ASSERT_LT(r->status, 300) << r->body;
    Json rule_exec;
    WaitFor(
        [&] {
            Json execs = http_->GetJson("/executions?action=full.hello&limit=10");
            for (const auto& e : execs) {
                if (e.contains("rule") && e["rule"].is_object() && e["rule"].value("ref", "") == "full.on_hook")
                    rule_exec = e;
            }
            return rule_exec.is_object();
        },
        60s
    );
    ASSERT_TRUE(rule_exec.is_object()) << server_->Output();
    EXPECT_EQ(rule_exec["parameters"]["who"], "ann port 9000");
    EXPECT_EQ(rule_exec["parameters"]["cmd"], "echo howdy ann port 9000");
    Json done = http_->WaitCompleted(rule_exec["id"]);
    EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
    EXPECT_EQ(done["result"]["stdout"], "howdy ann port 9000");

    // An action whose parameter default uses {{ config_context.x }}.
    r = http_->Post("/executions", {{"action", "full.hello"}, {"parameters", {{"who", "bob"}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    Json exec = Json::parse(r->body);
    EXPECT_EQ(exec["parameters"]["cmd"], "echo howdy bob");
    Json finished = http_->WaitCompleted(exec["id"]);
    EXPECT_EQ(finished["result"]["stdout"], "howdy bob") << finished.dump(2);
}

TEST_F(PackLayoutIntegrationTest, ConfigWrittenThroughTheApiSurvivesARestart) {
    auto r = http_->Put("/configs/full", {{"api_token", "kept"}, {"region", "us"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    http_.reset();
    ASSERT_EQ(server_->Stop(), 0) << server_->Output();
    server_ = std::make_unique<SquallProcess>(SquallProcess::Options{data_.path().string()});
    http_ = std::make_unique<Http>(*server_);
    Json clear = http_->GetJson("/configs/full?show_secrets=true");
    EXPECT_EQ(clear["values"]["api_token"], "kept");
    EXPECT_EQ(clear["values"]["region"], "us");
    EXPECT_EQ(clear["values"]["greeting"], "hello");
}

TEST_F(PackLayoutIntegrationTest, WhatStackStormUsersRelyOn) {
    // Writing back the masked config (a read-modify-write, as the CLI and UIs do) keeps the secret.
    Json values = http_->GetJson("/configs/full")["values"];
    ASSERT_EQ(values["api_token"], "********");
    values["greeting"] = "hey";
    auto r = http_->Put("/configs/full", values);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    Json clear = http_->GetJson("/configs/full?show_secrets=true")["values"];
    EXPECT_EQ(clear["api_token"], "s3cret");
    EXPECT_EQ(clear["greeting"], "hey");

    // `squall pack config`: text for string properties, `a.b=` inside objects, a warning for unknown keys.
    CliResult set = server_->Cli({"pack", "config", "full", "greeting=123", "auth.user=bob", "regoin=us"});
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
    EXPECT_NE(
        set.err.find("\"regoin\" is not in full's config.schema.yaml (did you mean \"region\"?)"), std::string::npos
    ) << set.err;
    clear = http_->GetJson("/configs/full?show_secrets=true")["values"];
    EXPECT_EQ(clear["greeting"], "123");
    EXPECT_EQ(clear["auth"]["user"], "bob");
    EXPECT_EQ(clear["api_token"], "s3cret");

    // Live parameters are templates too, like st2 run's.
    r = http_->Post("/executions", {{"action", "full.hello"}, {"parameters", {{"who", "{{ 1 + 1 }}x"}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    EXPECT_EQ(Json::parse(r->body)["parameters"]["who"], "2x");
    r = http_->Post("/executions", {{"action", "full.hello"}, {"parameters", {{"who", "{{ x | uper }}"}}}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("parameter \\\"who\\\": template error"), std::string::npos) << r->body;

    // An Orquesta workflow action loads with its pack and runs (docs/workflows.md): its task is a child execution.
    Json pack = http_->GetJson("/packs/full");
    EXPECT_TRUE(pack["load_errors"].empty()) << pack["load_errors"].dump(2);
    EXPECT_EQ(http_->GetJson("/actions/full.deploy")["runner_type"], "orquesta");
    r = http_->Post("/executions", {{"action", "full.deploy"}, {"parameters", {{"version", "1.0"}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    Json wf = http_->WaitCompleted(Json::parse(r->body)["id"]);
    EXPECT_EQ(wf["status"], "succeeded") << wf.dump(2);
    EXPECT_EQ(wf["result"]["output"]["version"], "1.0") << wf.dump(2);
    EXPECT_EQ(wf["children"].size(), 1u) << wf.dump(2);

    // A second server on the same port fails instead of sharing it.
    TempDir other;
    CliResult second = SquallProcess::RunBinary(
        {"server", "--listen", "127.0.0.1:" + std::to_string(server_->port()), "--data-dir", other.path().string()},
        {},
        60s
    );
    EXPECT_NE(second.exit_code, 0);
    EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
        << second.out << second.err;
}

}  // namespace
}  // namespace squall::test
