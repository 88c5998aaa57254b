// Pack configs against config.schema.yaml: defaults, required, casts, secrets, templates, the file round trip.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "squall/packs/config.hpp"
#include "squall/packs/loader.hpp"
#include "temp_dir.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;

const std::string kFull = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/packs/full";

ConfigSchema FullSchema() {
    Result<core::YamlDocument> doc = core::LoadYamlFile(kFull + "/config.schema.yaml");
    EXPECT_TRUE(doc);
    Result<ConfigSchema> schema = ConfigSchema::FromDocument(*doc);
    EXPECT_TRUE(schema) << schema.error().What();
    return *schema;
}

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::trunc) << text;
}

TEST(ConfigTest, DefaultsAreAppliedAndStringsCast) {
    ConfigSchema schema = FullSchema();
    Result<Json> v = schema.Validate(Json::parse(R"({"api_token": "t0k", "port": "9000", "extra": 1})"));
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ((*v)["greeting"], "hello");
    EXPECT_EQ((*v)["port"], 9000);             // cast from the string
    EXPECT_EQ((*v)["auth"]["user"], "admin");  // nested default
    EXPECT_EQ((*v)["hosts"], Json::array());
    EXPECT_EQ((*v)["extra"], 1);  // undeclared keys are kept, as StackStorm does
    EXPECT_FALSE(v->contains("region"));
}

TEST(ConfigTest, RequiredTypesAndRulesNameTheProperty) {
    ConfigSchema schema = FullSchema();
    Result<Json> v = schema.Validate(Json::object());
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().message, "config property \"api_token\": is required");
    v = schema.Validate(Json::parse(R"({"api_token": "t", "port": 70000})"));
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().message, "config property \"port\": 70000 is greater than the maximum 65535");
    v = schema.Validate(Json::parse(R"({"api_token": "t", "region": "mars"})"));
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("config property \"region\": \"mars\" is not one of"), std::string::npos)
        << v.error().message;
    v = schema.Validate(Json::parse(R"({"api_token": 5})"));
    ASSERT_FALSE(v);
    // A secret value is never shown.
    EXPECT_NE(v.error().message.find("config property \"api_token\": ******** is not of type"), std::string::npos)
        << v.error().message;
    v = schema.Validate(Json::parse(R"({"api_token": "t", "auth": {"user": 7}})"));
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("config property \"auth.user\": 7 is not of type"), std::string::npos)
        << v.error().message;
}

TEST(ConfigTest, TemplatesAreKeptAndRenderedAtUseTime) {
    ConfigSchema schema = FullSchema();
    Result<Json> v =
        schema.Validate(Json::parse(R"({"api_token": "{{ st2kv.system.token }}", "port": "{{ st2kv.system.port }}"})"));
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ((*v)["api_token"], "{{ st2kv.system.token }}");
    Result<Json> rendered = RenderConfig(*v, {{"st2kv", {{"system", {{"token", "abc"}, {"port", 99}}}}}});
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_EQ((*rendered)["api_token"], "abc");
    EXPECT_EQ((*rendered)["port"], 99);
}

TEST(ConfigTest, SecretsAreMasked) {
    ConfigSchema schema = FullSchema();
    EXPECT_EQ(schema.secret_keys(), (std::vector<std::string>{"api_token", "auth.password"}));
    Json masked = MaskConfig(
        Json::parse(R"({"api_token": "t", "auth": {"user": "u", "password": "p"}, "port": 1})"), schema.secret_keys()
    );
    EXPECT_EQ(masked["api_token"], "********");
    EXPECT_EQ(masked["auth"]["password"], "********");
    EXPECT_EQ(masked["auth"]["user"], "u");
    EXPECT_EQ(masked["port"], 1);
}

TEST(ConfigTest, FileErrorsNameFileLineColumn) {
    test::TempDir dir;
    const std::string file = (dir.path() / "full.yaml").string();
    Write(file, "---\napi_token: abc\nport: many\n");
    Result<PackConfig> c = LoadPackConfigBlocking(file, FullSchema());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().What(), file + ":3:1: port: \"many\" is not of type integer (got string)");
    Write(file, "---\nport: 1\n");
    c = LoadPackConfigBlocking(file, FullSchema());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().What(), file + ":2:1: api_token: is required");  // at the mapping
}

TEST(ConfigTest, MissingFileGivesTheDefaults) {
    test::TempDir dir;
    Result<PackConfig> c = LoadPackConfigBlocking((dir.path() / "none.yaml").string(), FullSchema());
    ASSERT_TRUE(c) << c.error().What();
    EXPECT_EQ(c->values["greeting"], "hello");
    EXPECT_EQ(c->values["port"], 8443);
    EXPECT_EQ(c->secret_keys.size(), 2u);
}

TEST(ConfigTest, WrittenFileReadsBackTheSameValues) {
    test::TempDir dir;
    const std::string file = (dir.path() / "configs" / "full.yaml").string();
    Json values = Json::parse(R"({"api_token": "yes", "port": 8443, "ratio": 0.1, "hosts": ["a", "123"],
                                  "auth": {"user": "null", "password": "p: w"}, "empty": null, "on": true})");
    ASSERT_TRUE(WriteConfigFileBlocking(file, values));
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    Result<core::YamlDocument> doc = core::LoadYamlFile(file);
    ASSERT_TRUE(doc) << doc.error().What();
    EXPECT_EQ(doc->value, values);
    // No temp file is left behind.
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir.path() / "configs")) n += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(n, 1u);
}

TEST(ConfigTest, LoaderValidatesThePackConfigFile) {
    test::TempDir dir;
    const fs::path configs = dir.path() / "configs";
    Write(configs / "full.yaml", "---\napi_token: s3cret\nregion: eu\n");
    PackLoader loader(PackLoaderOptions{configs.string()});
    Result<LoadedPack> p = loader.LoadPackBlocking(kFull);
    ASSERT_TRUE(p) << p.error().What();
    ASSERT_TRUE(p->errors.empty()) << p->errors[0].What();
    ASSERT_TRUE(p->config);
    EXPECT_EQ(p->config->values["api_token"], "s3cret");
    EXPECT_EQ(p->config->values["greeting"], "hello");

    Write(configs / "full.yaml", "---\napi_token: s3cret\nregion: mars\n");
    p = loader.LoadPackBlocking(kFull);
    ASSERT_TRUE(p) << p.error().What();
    EXPECT_FALSE(p->config);
    // Rejected: the stored config stays (StackStorm keeps the last valid one), or the schema's defaults go in.
    EXPECT_FALSE(p->drop_config);
    ASSERT_TRUE(p->config_fallback);
    EXPECT_EQ(p->config_fallback->values["greeting"], "hello");
    EXPECT_FALSE(p->config_fallback->values.contains("region"));
    ASSERT_EQ(p->errors.size(), 1u);
    EXPECT_EQ(
        p->errors[0].What().rfind((configs / "full.yaml").string() + ":3:1: region: \"mars\" is not one of", 0), 0u
    ) << p->errors[0].What();
    EXPECT_EQ(p->actions.size(), 4u);  // the pack itself still loads
}

}  // namespace
}  // namespace squall::packs
