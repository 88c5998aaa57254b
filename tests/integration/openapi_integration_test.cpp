// The catalog as a typed API (issue 15 item 5), against the real binary: GET /api/v1/openapi.json validates as
// OpenAPI 3.0 (the JSON schema of Debian's openapi-specification package), names every registered route once with
// its path parameters, and has one typed operation per action; POST /api/v1/ops/{pack}/{action} runs it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <sstream>

#include "git_repo.hpp"
#include "squall/core/model/model.hpp"
#include "squall/packs/json_schema.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"

namespace squall::test {
namespace {

using core::Json;

constexpr const char* kOpenApi30Schema = "/usr/share/openapi-specification/schemas/v3.0/schema.json";

struct Answer {
    int status = 0;
    Json body;
};

Answer Call(
    const SquallProcess& server, const std::string& method, const std::string& path, const std::string& body = ""
) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(60, 0);
    const httplib::Headers h = {{"St2-Api-Key", server.api_key()}};
    httplib::Result r = method == "GET" ? c.Get(path.c_str(), h) : c.Post(path.c_str(), h, body, "application/json");
    if (!r) return {};
    return {r->status, Json::parse(r->body, nullptr, false)};
}

TEST(OpenApiIntegrationTest, TheCatalogIsATypedApiThatValidatesAsOpenApi3) {
    TempDir dir;
    SquallProcess server({(dir.path() / "d").string()});

    Answer doc = Call(server, "GET", "/api/v1/openapi.json");
    ASSERT_EQ(doc.status, 200) << doc.body.dump();
    std::ifstream in(kOpenApi30Schema);
    ASSERT_TRUE(in) << kOpenApi30Schema << " is missing: deploy/deps.sh installs openapi-specification";
    std::stringstream text;
    text << in.rdbuf();
    Result<packs::JsonSchema> schema = packs::JsonSchema::Compile(Json::parse(text.str()));
    ASSERT_TRUE(schema) << schema.error().What();
    Status valid = schema->Validate(doc.body, "openapi.json");
    EXPECT_TRUE(valid) << valid.error().What();

    ASSERT_TRUE(doc.body.contains("paths"));
    const Json& paths = doc.body["paths"];
    // Every route once, under /api/v1, with its parameters named and declared.
    EXPECT_TRUE(paths.contains("/api/v1/executions"));
    EXPECT_FALSE(paths.contains("/v1/executions"));
    ASSERT_TRUE(paths.contains("/api/v1/executions/{execution}")) << paths.dump().substr(0, 2000);
    EXPECT_EQ(paths["/api/v1/executions/{execution}"]["get"]["parameters"][0]["name"], "execution");
    EXPECT_EQ(paths["/api/v1/health"]["get"]["security"], Json::array());  // public

    // core.local as a typed operation: the runner's parameters with the action's, secrets write-only.
    ASSERT_TRUE(paths.contains("/api/v1/ops/core/local"));
    const Json& op = paths["/api/v1/ops/core/local"]["post"];
    EXPECT_EQ(op["operationId"], "core.local");
    const Json& body = op["requestBody"]["content"]["application/json"]["schema"];
    EXPECT_EQ(body["properties"]["cmd"]["type"], "string");
    EXPECT_EQ(body["required"], Json::array({"cmd"}));
    EXPECT_EQ(body["properties"]["timeout"]["type"], "integer");
    EXPECT_EQ(body["properties"]["timeout"]["default"], 60);
    EXPECT_FALSE(body["properties"].contains("sudo"));  // immutable in core.local
    EXPECT_EQ(body["properties"]["sudo_password"]["writeOnly"], true);
    EXPECT_EQ(body["additionalProperties"], false);

    // Running it: ?wait answers with the finished execution; without, 201 at once.
    Answer done = Call(server, "POST", "/api/v1/ops/core/local?wait=60", R"({"cmd": "echo typed api"})");
    ASSERT_EQ(done.status, 200) << done.body.dump();
    EXPECT_EQ(done.body["status"], "succeeded");
    EXPECT_EQ(done.body["result"]["stdout"], "typed api");
    Answer started = Call(server, "POST", "/api/v1/ops/core/local", R"({"cmd": "true"})");
    EXPECT_EQ(started.status, 201) << started.body.dump();
    EXPECT_TRUE(started.body.contains("id"));
    Answer missing = Call(server, "POST", "/api/v1/ops/core/local", "{}");
    EXPECT_EQ(missing.status, 400) << missing.body.dump();
    EXPECT_NE(missing.body.value("faultstring", "").find("cmd"), std::string::npos) << missing.body.dump();
    Answer typo = Call(server, "POST", "/api/v1/ops/core/local", R"({"cmd": "true", "cdm": 1})");
    EXPECT_EQ(typo.status, 400) << typo.body.dump();
    EXPECT_NE(typo.body.value("faultstring", "").find("did you mean \"cmd\"?"), std::string::npos) << typo.body.dump();
    EXPECT_EQ(Call(server, "POST", "/api/v1/ops/core/nope", "{}").status, 404);

    // The document follows the content: a pack installed adds its actions.
    TempDir repo;
    WriteFile(repo.path() / "pack.yaml", "---\nref: typed\nname: typed\nversion: 1.0.0\nauthor: t\n");
    WriteFile(
        repo.path() / "actions" / "deploy.yaml",
        "---\nname: deploy\nrunner_type: local-shell-cmd\ndescription: Deploy a service\nparameters:\n"
        "  cmd:\n    default: echo deploy\n    immutable: true\n"
        "  env_name:\n    type: string\n    enum: [dev, prod]\n    required: true\n"
        "  replicas:\n    type: integer\n    default: 2\n"
    );
    Git(repo.path(), {"init", "-q"});
    Git(repo.path(), {"add", "-A"});
    Git(repo.path(), {"commit", "-q", "-m", "typed"});
    CliResult install = server.Cli({"pack", "install", repo.path().string()});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
    Answer after = Call(server, "GET", "/api/v1/openapi.json");
    ASSERT_TRUE(after.body["paths"].contains("/api/v1/ops/typed/deploy"));
    const Json& typed = after.body["paths"]["/api/v1/ops/typed/deploy"]["post"];
    EXPECT_EQ(typed["summary"], "Deploy a service");
    const Json& tb = typed["requestBody"]["content"]["application/json"]["schema"];
    EXPECT_EQ(tb["properties"]["env_name"]["enum"], Json::array({"dev", "prod"}));
    EXPECT_EQ(tb["properties"]["replicas"]["default"], 2);
    EXPECT_FALSE(tb["properties"].contains("cmd"));  // immutable: not the caller's to set
    EXPECT_EQ(tb["required"], Json::array({"env_name"}));
    EXPECT_EQ(typed["requestBody"]["required"], true);
}

}  // namespace
}  // namespace squall::test
