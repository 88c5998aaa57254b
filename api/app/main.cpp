// squall: one binary, server roles and CLI client (SPEC §1, §10).
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "app.hpp"
#include "squall/core/error.hpp"

#ifdef SQUALL_WITH_JEMALLOC
// jemalloc's settings (api/CMakeLists.txt links it), chosen for memory as much as for speed (docs/decisions.md,
// "Throughput settings"): a background thread returns freed pages to the system after a second, so an idle server
// goes back to its idle RSS (purging is otherwise driven by allocations, which an idle server does not make); one
// arena and thread caches for small objects only, since dozens of HTTP threads each caching freed memory doubled
// the peak RSS of a shell-action load against glibc (102 MB against 43 MB; 52 MB with these settings).
// MALLOC_CONF in the environment overrides them.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the name and type jemalloc reads
const char* malloc_conf = "background_thread:true,narenas:1,tcache_max:4096,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

int main(int argc, char** argv) {
    // hiredis and the HTTP server write to sockets whose peer may be gone: take EPIPE, not a fatal signal.
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        const bool help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h");
        if (!args.empty() && args[0] == "server" && !help) {
            return squall::app::ServerMain(std::vector<std::string>(args.begin() + 1, args.end()));
        }
        // `--debug` anywhere (as st2's): every API request is also printed as the equivalent curl command.
        if (auto it = std::find(args.begin(), args.end(), "--debug"); it != args.end()) {
            args.erase(it);
            ::setenv("SQUALL_DEBUG", "1", 1);  // NOLINT(concurrency-mt-unsafe): before any thread starts
        }
        return squall::app::CliMain(args);
    } catch (const squall::Exception& e) {
        std::cerr << "error: " << e.error().What() << "\n";
        return squall::ExitCode(e.error().code);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 10;
    }
}
