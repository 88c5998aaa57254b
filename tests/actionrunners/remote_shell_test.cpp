#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runner_harness.hpp"
#include "temp_dir.hpp"

namespace squall::actionrunners {
namespace {

namespace fs = std::filesystem;
using test::ActionRequest;
using test::RunnerHarness;

constexpr const char* kSshd = "/usr/sbin/sshd";

int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool Accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

int Shell(const std::string& cmd) {
    return std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe, cert-env33-c): test setup only
}

std::string ReadFile(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A real sshd on 127.0.0.1 with its own config, host key and authorized key, running as the current user.
class SshServer {
public:
    SshServer() {
        const fs::path d = dir_.path();
        if (Shell("ssh-keygen -q -t ed25519 -N '' -f " + (d / "host_key").string() + " >/dev/null") != 0 ||
            Shell("ssh-keygen -q -t ed25519 -N '' -f " + (d / "user_key").string() + " >/dev/null") != 0) {
            error_ = "ssh-keygen failed";
            return;
        }
        fs::copy_file(d / "user_key.pub", d / "authorized_keys");
        if (::geteuid() == 0) fs::create_directories("/run/sshd");  // sshd's privilege separation directory
        port_ = FreePort();
        std::ofstream(d / "sshd_config") << "Port " << port_ << "\n"
                                         << "ListenAddress 127.0.0.1\n"
                                         << "HostKey " << (d / "host_key").string() << "\n"
                                         << "PidFile " << (d / "sshd.pid").string() << "\n"
                                         << "AuthorizedKeysFile " << (d / "authorized_keys").string() << "\n"
                                         << "StrictModes no\n"
                                         << "UsePAM no\n"
                                         << "PermitRootLogin yes\n"
                                         << "PasswordAuthentication yes\n"
                                         << "KbdInteractiveAuthentication no\n"
                                         << "LogLevel ERROR\n";
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string config = (d / "sshd_config").string();
            const std::string log = (d / "sshd.log").string();
            ::execl(kSshd, kSshd, "-D", "-f", config.c_str(), "-E", log.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (!squall::test::WaitFor([&] { return Accepts(port_); }, std::chrono::seconds(20))) {
            error_ = "sshd did not start: " + ReadFile(d / "sshd.log");
        }
    }
    ~SshServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    const std::string& error() const { return error_; }
    int port() const { return port_; }
    std::string KeyPath() const { return (dir_.path() / "user_key").string(); }
    std::string KeyMaterial() const { return ReadFile(dir_.path() / "user_key"); }
    fs::path dir() const { return dir_.path(); }

private:
    squall::test::TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    std::string error_;
};

class RemoteShellTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Not a skip: CI must run these (deploy/deps.sh installs openssh-server).
        ASSERT_EQ(::access(kSshd, X_OK), 0) << kSshd << " is not installed: install openssh-server (deploy/deps.sh)";
        server_ = std::make_unique<SshServer>();
        ASSERT_EQ(server_->error(), "");
    }

    RunRequest Cmd(const std::string& cmd, Json extra = Json::object()) {
        Json p = {
            {"hosts", "127.0.0.1, localhost"},
            {"port", server_->port()},
            {"private_key", server_->KeyPath()},
            {"cmd", cmd},
            {"timeout", 30}};
        p.update(extra);
        RunRequest r = ActionRequest("remote", "remote-shell-cmd", "", {}, p);
        return r;
    }

    std::unique_ptr<SshServer> server_;
};

TEST_F(RemoteShellTest, CommandRunsOnEveryHostWithCwdAndEnv) {
    RunnerHarness h;
    test::RunReport r = h.Run(
        "remote-shell-cmd",
        Cmd("echo \"hello $GREETING from $(pwd)\"; echo warn >&2",
            {{"cwd", "/tmp"}, {"env", {{"GREETING", "hi there"}}}})
    );
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    for (const char* host : {"127.0.0.1", "localhost"}) {
        const Json& h_result = r.result.result[host];
        EXPECT_EQ(h_result["stdout"], "hello hi there from /tmp") << host;
        EXPECT_EQ(h_result["stderr"], "warn") << host;
        EXPECT_EQ(h_result["return_code"], 0);
        EXPECT_EQ(h_result["succeeded"], true);
        EXPECT_EQ(h_result["failed"], false);
    }
}

TEST_F(RemoteShellTest, OneFailingHostFailsTheRun) {
    RunnerHarness h;
    // One after the other: the first host takes the lock and succeeds, the second finds it taken and fails.
    const std::string lock = (server_->dir() / "lock").string();
    test::RunReport r = h.Run(
        "remote-shell-cmd",
        Cmd("mkdir '" + lock + "' 2>/dev/null || { echo taken >&2; exit 3; }", {{"parallel", false}})
    );
    ASSERT_EQ(r.result.status, core::status::kFailed) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["127.0.0.1"]["return_code"], 0);
    EXPECT_EQ(r.result.result["127.0.0.1"]["succeeded"], true);
    EXPECT_EQ(r.result.result["localhost"]["return_code"], 3);
    EXPECT_EQ(r.result.result["localhost"]["failed"], true);
    const std::string error = r.result.result["localhost"]["error"];
    EXPECT_NE(error.find("exited with code 3"), std::string::npos) << error;
    EXPECT_NE(error.find("taken"), std::string::npos) << error;
}

TEST_F(RemoteShellTest, KeyMaterialInsteadOfAPath) {
    RunnerHarness h;
    const std::string key = server_->KeyMaterial();
    RunRequest req = Cmd("echo ok", {{"hosts", "127.0.0.1"}, {"private_key", key}});
    req.secret_values = {key};
    test::RunReport r = h.Run("remote-shell-cmd", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["127.0.0.1"]["stdout"], "ok");
}

TEST_F(RemoteShellTest, ScriptIsShippedRunWithArgumentsAndRemoved) {
    RunnerHarness h;
    const fs::path remote_dir = server_->dir() / "remote";
    fs::create_directories(remote_dir);
    Json p = {
        {"hosts", "127.0.0.1:" + std::to_string(server_->port())},
        {"private_key", server_->KeyPath()},
        {"dir", remote_dir.string()},
        {"cwd", "/"},
        {"env", {{"MY_VAR", "remote env"}}},
        {"name", "it's me"},
        {"first", "pos one"},
        {"timeout", 30}};
    RunRequest req = ActionRequest(
        "echo_args",
        "remote-shell-script",
        "echo_args.sh",
        {{"name", {{"type", "string"}}}, {"first", {{"type", "string"}, {"position", 0}}}},
        p
    );
    test::RunReport r = h.Run("remote-shell-script", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    const std::string host = "127.0.0.1:" + std::to_string(server_->port());
    EXPECT_EQ(
        r.result.result[host]["stdout"], "arg:--name=it's me\narg:pos one\ncwd:/\nenv:remote env\npack:squall_test"
    );
    EXPECT_TRUE(fs::is_empty(remote_dir)) << "the shipped script was not removed";
}

TEST_F(RemoteShellTest, AuthenticationAndConnectionFailuresAreClear) {
    RunnerHarness h;
    // A password nobody has: sshpass (SSHPASS in the environment, never argv) fails to log in.
    RunRequest req = Cmd("echo never", {{"hosts", "127.0.0.1"}, {"password", "wrong-password"}});
    req.parameters.erase("private_key");
    req.secret_values = {"wrong-password"};
    test::RunReport r = h.Run("remote-shell-cmd", req);
    ASSERT_EQ(r.result.status, core::status::kFailed) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["127.0.0.1"]["failed"], true);
    EXPECT_EQ(r.result.result.dump().find("wrong-password"), std::string::npos);

    // Nothing listens there.
    r = h.Run("remote-shell-cmd", Cmd("echo never", {{"hosts", "127.0.0.1"}, {"port", FreePort()}}));
    ASSERT_EQ(r.result.status, core::status::kFailed);
    EXPECT_EQ(r.result.result["127.0.0.1"]["return_code"], 255);
    EXPECT_NE(
        r.result.result["127.0.0.1"]["error"].get<std::string>().find("ssh to 127.0.0.1 failed"), std::string::npos
    );

    r = h.Run("remote-shell-cmd", Cmd("echo never", {{"hosts", " , "}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("hosts"), std::string::npos);
}

TEST_F(RemoteShellTest, TimeoutKillsTheSshProcess) {
    RunnerHarness h;
    test::RunReport r = h.Run("remote-shell-cmd", Cmd("sleep 30", {{"hosts", "127.0.0.1"}, {"timeout", 2}}));
    EXPECT_EQ(r.result.status, core::status::kTimeout) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["127.0.0.1"]["return_code"], -9);
}

}  // namespace
}  // namespace squall::actionrunners
