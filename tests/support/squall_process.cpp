#include "squall_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "files.hpp"
#include "wait.hpp"

extern char** environ;  // NOLINT: POSIX

namespace squall::test {
namespace {

std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        const std::string kv = *e;
        const auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

pid_t Spawn(
    const std::vector<std::string>& args,
    const std::vector<std::string>& env,
    const std::string& out_path,
    const std::string& err_path
) {
    std::vector<char*> argv;
    std::vector<std::string> a = args;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> e = env;
    std::vector<char*> envp;
    for (auto& s : e) envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot spawn " + args[0] + ": " + std::strerror(rc));
    return pid;
}

int WaitExit(pid_t pid, std::chrono::milliseconds deadline) {
    int status = 0;
    const bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, deadline);
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

}  // namespace

std::string SquallProcess::Binary() {
    return SQUALL_BINARY;
}

SquallProcess::SquallProcess(Options options) : options_(std::move(options)) {
    std::vector<std::string> args = {
        Binary(), "server", "--listen", "127.0.0.1:0", "--data-dir", options_.data_dir, "--shutdown-grace", "5"};
    if (!options_.redis_url.empty()) {
        args.push_back("--redis");
        args.push_back(options_.redis_url);
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    pid_ = Spawn(args, Environment({}), (logs_.path() / "out").string(), (logs_.path() / "err").string());
    static const std::regex kApi("API: +http://([0-9.]+):([0-9]+)/api/v1");
    std::smatch m;
    std::string out;  // outlives the match, which points into it
    const bool up = WaitFor(
        [&] {
            out = ReadFile((logs_.path() / "out").string());
            if (std::regex_search(out, m, kApi)) return true;
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("squall server exited during start:\n" + Output());
            }
            return false;
        },
        std::chrono::seconds(30)
    );
    if (!up) {
        const std::string all = Output();
        Kill();
        throw std::runtime_error("squall server did not start within 30 s:\n" + all);
    }
    host_ = m[1];
    port_ = std::stoi(m[2]);
    api_url_ = "http://" + host_ + ":" + std::to_string(port_) + "/api/v1";
}

SquallProcess::~SquallProcess() {
    if (pid_ > 0) Stop(std::chrono::seconds(15));
}

int SquallProcess::Stop(std::chrono::seconds deadline) {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    const int rc = WaitExit(pid_, deadline);
    pid_ = -1;
    return rc;
}

void SquallProcess::Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string SquallProcess::api_key() const {
    std::string key = ReadFile(options_.data_dir + "/admin-api-key");
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    return key;
}

std::string SquallProcess::Output() const {
    return ReadFile((logs_.path() / "out").string()) + ReadFile((logs_.path() / "err").string());
}

CliResult SquallProcess::Cli(const std::vector<std::string>& args, std::chrono::seconds deadline) const {
    return RunBinary(args, {{"SQUALL_API_URL", api_url_}, {"SQUALL_API_KEY", api_key()}}, deadline);
}

CliResult SquallProcess::RunBinary(
    const std::vector<std::string>& args, const std::map<std::string, std::string>& env, std::chrono::seconds deadline
) {
    TempDir dir;
    std::vector<std::string> full = {Binary()};
    full.insert(full.end(), args.begin(), args.end());
    const pid_t pid = Spawn(full, Environment(env), (dir.path() / "out").string(), (dir.path() / "err").string());
    CliResult r;
    r.exit_code = WaitExit(pid, deadline);
    r.out = ReadFile((dir.path() / "out").string());
    r.err = ReadFile((dir.path() / "err").string());
    return r;
}

}  // namespace squall::test
