#include "workflow_cli.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "wait.hpp"

namespace squall::test {

using core::Json;

size_t CountLines(const std::string& path) {
    std::ifstream in(path);
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    return n;
}

Json GetExecution(const SquallProcess& server, const std::string& id) {
    CliResult got = server.Cli({"execution", "get", id, "-j"});
    Json e = Json::parse(got.out, nullptr, false);
    return e.is_object() ? e : Json::object();
}

Json RunSync(const SquallProcess& server, const std::vector<std::string>& args) {
    std::vector<std::string> cli = {"run"};
    cli.insert(cli.end(), args.begin(), args.end());
    cli.push_back("-j");
    CliResult run = server.Cli(cli);
    Json j = Json::parse(run.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << run.out << run.err << server.Output();
    return j.is_object() ? j : Json::object();
}

std::string StartAsync(const SquallProcess& server, const std::vector<std::string>& args) {
    std::vector<std::string> cli = {"run"};
    cli.insert(cli.end(), args.begin(), args.end());
    cli.push_back("-a");
    cli.push_back("-j");
    CliResult run = server.Cli(cli);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    Json j = Json::parse(run.out, nullptr, false);
    return j.is_object() ? j.value("id", "") : "";
}

Json WaitStatus(
    const SquallProcess& server,
    const std::string& id,
    const std::vector<std::string>& statuses,
    std::chrono::seconds deadline
) {
    Json e;
    const bool ok = WaitFor(
        [&] {
            e = GetExecution(server, id);
            const std::string s = e.value("status", "");
            return std::find(statuses.begin(), statuses.end(), s) != statuses.end();
        },
        deadline
    );
    EXPECT_TRUE(ok) << "waiting for " << Json(statuses).dump() << ": " << e.dump(2);
    return e;
}

int KillRuns(int default_runs) {
    const char* env = std::getenv("SQUALL_KILL_RUNS");  // NOLINT(concurrency-mt-unsafe): read before threads start
    if (env == nullptr) return default_runs;
    const int n = std::atoi(env);
    return n > 0 ? n : default_runs;
}

}  // namespace squall::test
