// A task's `delay` survives a crash of the workflow role: its due time is stored with the workflow, so a role that
// takes over launches the task when it is due — not at once, and not a whole delay after it started.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "dl";
    Write(pack / "pack.yaml", "name: dl\ndescription: delay\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n");
    Write(
        pack / "actions" / "later.yaml",
        "name: later\nrunner_type: orquesta\nentry_point: workflows/later.yaml\nparameters:\n  file:\n    type: "
        "string\n    required: true\n  wait:\n    type: integer\n    default: 8\n"
    );
    Write(pack / "actions" / "workflows" / "later.yaml", R"(version: 1.0
input:
  - file
  - wait
tasks:
  first:
    action: core.local cmd="echo first >> {{ ctx('file') }}"
    next:
      - do: later
  later:
    delay: "{{ ctx('wait') }}"
    action: core.local cmd="echo later >> {{ ctx('file') }}"
)");
}

size_t CountLines(const fs::path& path) {
    std::ifstream in(path);
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    return n;
}

TEST(WorkflowDelayIntegrationTest, ADelayedTaskIsLaunchedWhenDueByTheRoleThatTakesOver) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    const fs::path d = data.path() / "api";
    WritePack(d);
    SquallProcess::Options o;
    o.data_dir = d.string();
    o.redis_url = "unix://" + redis.socket_path();
    o.extra_args = {"--roles", "api,rules,notifier,runner", "--workers", "4"};
    SquallProcess api(o);
    SquallProcess::Options w;
    w.redis_url = o.redis_url;
    w.extra_args = {"--roles", "workflow", "--listen", "127.0.0.1:0"};
    w.data_dir = (data.path() / "wf1").string();
    auto driver = std::make_unique<SquallProcess>(w);

    const fs::path file = data.path() / "out.txt";
    CliResult run = api.Cli({"run", "dl.later", "file=" + file.string(), "wait=8", "-a", "-j"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    const std::string id = Json::parse(run.out)["id"];
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 1; }, 30s)) << driver->Output();
    const auto scheduled = std::chrono::steady_clock::now();  // `later` is due about 8 s from here
    // Let the role read first's end and schedule `later`, then kill it and start another.
    std::this_thread::sleep_for(1500ms);
    driver->Kill();
    driver.reset();
    w.data_dir = (data.path() / "wf2").string();
    SquallProcess successor(w);
    const auto restarted = std::chrono::steady_clock::now();
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 40s)) << successor.Output();
    const auto ran = std::chrono::steady_clock::now();
    const double after_scheduling = std::chrono::duration<double>(ran - scheduled).count();
    const double after_restart = std::chrono::duration<double>(ran - restarted).count();
    // Not at once (the successor started well before it was due), and when due, not a full delay after the restart.
    EXPECT_GE(after_scheduling, 7.0) << "launched at once by the successor";
    EXPECT_LT(after_restart, 7.5) << "the delay started over in the successor (" << after_scheduling << " s)";
    Json wf;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult got = api.Cli({"execution", "get", id, "-j"});
            wf = Json::parse(got.out, nullptr, false);
            return wf.is_object() && wf.value("status", "") == "succeeded";
        },
        30s
    )) << wf.dump(2);
    EXPECT_EQ(ReadFile(file.string()), "first\nlater\n");
}

}  // namespace
}  // namespace squall::test
