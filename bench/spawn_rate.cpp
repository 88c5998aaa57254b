// The raw rate of one process per event on this machine: posix_spawn + waitpid of the same command, with up to
// CONCURRENCY children at once, for SECONDS. Issue 16 item 9 compares Squall's shell-action rate with it ("≥ 0.8×
// the raw posix_spawn+wait rate of the same command measured in the same run").
//
//   c++ -O2 -std=c++20 -o spawn_rate bench/spawn_rate.cpp
//   ./spawn_rate SECONDS CONCURRENCY COMMAND [ARGS...]      e.g. ./spawn_rate 10 64 /bin/true
//
// Prints processes/s and the p50/p99 of spawn-to-exit. No shell: the command is run as given (environment
// inherited), as Squall runs `core.local` commands without one when it can.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s SECONDS CONCURRENCY COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    using Clock = std::chrono::steady_clock;
    const double seconds = std::atof(argv[1]);
    const int concurrency = std::max(1, std::atoi(argv[2]));
    char** command = argv + 3;
    std::unordered_map<pid_t, Clock::time_point> started;
    std::vector<double> latencies_ms;
    const auto begin = Clock::now();
    const auto end = begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    long failed = 0;
    while (true) {
        const bool more = Clock::now() < end;
        while (more && static_cast<int>(started.size()) < concurrency) {
            pid_t pid = 0;
            if (posix_spawn(&pid, command[0], nullptr, nullptr, command, environ) != 0) {
                ++failed;
                break;
            }
            started[pid] = Clock::now();
        }
        if (started.empty()) break;
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid <= 0) break;
        auto it = started.find(pid);
        if (it == started.end()) continue;
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
        started.erase(it);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    std::sort(latencies_ms.begin(), latencies_ms.end());
    const auto pct = [&](double p) {
        return latencies_ms.empty() ? 0.0 : latencies_ms[static_cast<size_t>(p * (latencies_ms.size() - 1))];
    };
    std::printf(
        "%zu processes in %.1f s = %.0f/s (concurrency %d, failed %ld), spawn-to-exit p50 %.2f ms, p99 %.2f ms\n",
        latencies_ms.size(),
        elapsed,
        latencies_ms.size() / elapsed,
        concurrency,
        failed,
        pct(0.5),
        pct(0.99)
    );
    return failed == 0 ? 0 : 1;
}
