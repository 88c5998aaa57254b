#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "squall/core/config.hpp"
#include "temp_dir.hpp"

namespace squall::core {
namespace {

struct FakeEnv {
    std::map<std::string, std::string> vars;
    std::function<const char*(const char*)> Fn() {
        return [this](const char* n) -> const char* {
            auto it = vars.find(n);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

TEST(ConfigTest, DefaultsFollowTheSpec) {
    FakeEnv env;
    env.vars["HOME"] = "/home/u";
    Result<ServerConfig> c = LoadServerConfig({}, env.Fn());
    ASSERT_TRUE(c) << c.error().What();
    EXPECT_EQ(c->listen, "127.0.0.1:9101");
    EXPECT_EQ(c->data_dir, "/home/u/.squall");
    EXPECT_EQ(c->roles, kAllRoles);
    EXPECT_EQ(c->pool, "default");
    EXPECT_TRUE(c->redis.empty());
}

TEST(ConfigTest, SquallHomeSetsDataDir) {
    FakeEnv env;
    env.vars["HOME"] = "/home/u";
    env.vars["SQUALL_HOME"] = "/srv/squall";
    EXPECT_EQ(LoadServerConfig({}, env.Fn())->data_dir, "/srv/squall");
}

TEST(ConfigTest, FlagsWinOverEnvWhichWinsOverFile) {
    test::TempDir dir;
    const std::string file = (dir.path() / "squall.yaml").string();
    std::ofstream(file) << "listen: 127.0.0.1:1000\nworkers: 4\nroles: [api, rules]\npool: fromfile\n";
    FakeEnv env;
    env.vars["SQUALL_LISTEN"] = "127.0.0.1:2000";
    env.vars["SQUALL_WORKERS"] = "8";
    Result<ServerConfig> c = LoadServerConfig({"--config", file, "--workers=16"}, env.Fn());
    ASSERT_TRUE(c) << c.error().What();
    EXPECT_EQ(c->listen, "127.0.0.1:2000");
    EXPECT_EQ(c->workers, 16);
    EXPECT_EQ(c->pool, "fromfile");
    EXPECT_EQ(c->roles, (std::vector<std::string>{"api", "rules"}));
    EXPECT_TRUE(c->HasRole("api"));
    EXPECT_FALSE(c->HasRole("runner"));
}

TEST(ConfigTest, UnknownFileKeyNamesFileLineAndSuggests) {
    test::TempDir dir;
    const std::string file = (dir.path() / "squall.yaml").string();
    std::ofstream(file) << "# comment\nworkers: 2\nlistn: 127.0.0.1:1\n";
    FakeEnv env;
    Result<ServerConfig> c = LoadServerConfig({"--config", file}, env.Fn());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().What(), file + ":3:1: key 'listn': unknown option (did you mean 'listen'?)");
}

TEST(ConfigTest, BadValuesNameTheOption) {
    FakeEnv env;
    Result<ServerConfig> c = LoadServerConfig({"--workers", "lots"}, env.Fn());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("option 'workers'"), std::string::npos);
    c = LoadServerConfig({"--roles", "api,rulez"}, env.Fn());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("did you mean \"rules\""), std::string::npos);
    c = LoadServerConfig({"--lisen", "x:1"}, env.Fn());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("did you mean --listen"), std::string::npos);
    env.vars["SQUALL_LOG_FORMAT"] = "xml";
    c = LoadServerConfig({}, env.Fn());
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("SQUALL_LOG_FORMAT"), std::string::npos);
}

TEST(ConfigTest, SampleConfigParses) {
    FakeEnv env;
    Result<ServerConfig> c =
        LoadServerConfig({"--config", std::string(SQUALL_SOURCE_DIR) + "/deploy/squall.sample.yaml"}, env.Fn());
    ASSERT_TRUE(c) << c.error().What();
    EXPECT_EQ(c->listen, "127.0.0.1:9101");
}

}  // namespace
}  // namespace squall::core
