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
