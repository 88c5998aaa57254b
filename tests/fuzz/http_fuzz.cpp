// The HTTP request path, end to end (docs/fuzzing.md): a real `squall server` (roles api and rules, its embedded
// Redis, the bundled packs) runs inside this process, so that libFuzzer sees the coverage of request parsing,
// routing, authentication, body parsing, the handlers and the rules engine behind the webhooks. Each input is
// sent as raw bytes on a fresh loopback connection (`$KEY` in it is replaced by the server's admin API key, so the
// corpus reaches authenticated routes), the write side is shut so that the server sees the end of the request,
// and the answer is read. A crash or sanitizer report anywhere in the server is a finding, and so is
//   - an answer with status 500 (no input may cause one: SPEC, issue "no input ever gives a 500"), or
//   - the server no longer accepting connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define SQUALL_HTTP_FUZZ_ASAN 1
#endif
#endif

#include "../../api/app/app.hpp"

namespace {

std::string g_data_dir;
int g_port = 0;
std::string g_key;

/// The last inputs sent, oldest first from g_recent_next. A report from a server thread (the work a request left
/// behind: the rules engine, a stream) often comes while libFuzzer runs another input or none: the unit it writes
/// ("crash-<sha1>", empty between inputs) is then not the one that did it, so these are written beside it.
std::array<std::string, 8> g_recent;
size_t g_recent_next = 0;
std::mutex g_recent_mu;
std::string g_artifact_prefix = "./";

#if SQUALL_HTTP_FUZZ_ASAN
void WriteRecentInputs(const char*) {
    std::unique_lock lock(g_recent_mu, std::try_to_lock);  // never wait inside a report
    for (size_t i = 0; i < g_recent.size(); ++i) {
        const std::string& input = g_recent[(g_recent_next + i) % g_recent.size()];
        if (input.empty()) continue;
        const std::string path = g_artifact_prefix + "recent-" + std::to_string(i);
        if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
            std::fwrite(input.data(), 1, input.size(), f);
            std::fclose(f);
            std::fprintf(stderr, "http_fuzz: an input sent before the report: %s\n", path.c_str());
        }
    }
}
#endif

int FreePort() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        std::perror("http_fuzz: free port");
        std::abort();
    }
    ::close(s);
    return ntohs(a.sin_port);
}

/// errno of the last connect that failed.
int g_connect_errno = 0;

int Connect() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(g_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        g_connect_errno = errno;
        ::close(s);
        return -1;
    }
    int yes = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    return s;
}

/// Sends `request`, shuts the write side and reads until the server closes or `timeout` passes.
std::string Exchange(const std::string& request, std::chrono::milliseconds timeout) {
    const int s = Connect();
    if (s < 0) return "<no connection>";
    size_t sent = 0;
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string answer;
    char buf[16384];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{s, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, 50) < 0) break;
        if ((p.revents & POLLOUT) != 0 && sent < request.size()) {
            const ssize_t n = ::send(s, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                sent = request.size();  // the server closed its side: read what it said
            } else {
                sent += static_cast<size_t>(n);
            }
            if (sent == request.size()) ::shutdown(s, SHUT_WR);
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t n = ::recv(s, buf, sizeof(buf), 0);
            if (n <= 0) break;
            if (answer.size() < (1u << 20)) answer.append(buf, static_cast<size_t>(n));
        }
    }
    ::close(s);
    return answer;
}

void RemoveDataDir() {
    std::error_code ec;
    std::filesystem::remove_all(g_data_dir, ec);
}

/// The server runs in a detached thread that never stops. When libFuzzer ends the run with exit(), static
/// destructors (spdlog's registry among them) would run while that thread still logs, and it crashed there
/// ("Done N runs", then a SEGV in spdlog::details::registry::initialize_logger). Registered once the server is
/// up, after those statics exist, this runs before they are destroyed: it ends the process at once. libFuzzer
/// reports a crash, a timeout or a leak with _Exit and its own code, never through here.
/// A static first constructed after that registration (a store's Lua script, built at its first use) is destroyed
/// before it runs, though: in CI the rules engine, still creating the executions of the last webhooks, read a
/// destroyed script ("heap-use-after-free" in memcpy, an empty unit written since no input ran). So the last input
/// ends the process itself (EndAfterLastInput) and exit() is only the fallback.
void EndBeforeStaticsDie() {
    std::fflush(stdout);
    std::fflush(stderr);
    RemoveDataDir();
#if SQUALL_HTTP_FUZZ_ASAN
    // _Exit skips LeakSanitizer's check at exit: done here instead (it ends the process itself on a leak).
    __lsan_do_leak_check();
#endif
    std::_Exit(0);
}

/// libFuzzer's own end of a run, read from its flags: after `-runs` inputs or past `-max_total_time` seconds of the
/// process (it checks after each input). `-runs=0` replays a corpus (each file once, then exit()): left to libFuzzer.
long g_runs = -1;
long g_max_total_time = 0;
long g_inputs = 0;
const auto g_process_start = std::chrono::steady_clock::now();

/// Called after each input: when libFuzzer would end the run now, ends it first (see EndBeforeStaticsDie).
void EndAfterLastInput() {
    ++g_inputs;
    const auto elapsed = std::chrono::steady_clock::now() - g_process_start;
    if ((g_runs > 0 && g_inputs >= g_runs) ||
        (g_max_total_time > 0 && elapsed >= std::chrono::seconds(g_max_total_time))) {
        std::fprintf(
            stderr,
            "Done %ld runs in %ld second(s) (http_fuzz ends the run itself)\n",
            g_inputs,
            static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count())
        );
        EndBeforeStaticsDie();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    for (int i = 1; i < *argc; ++i) {
        const std::string arg = (*argv)[i];
        if (arg.rfind("-artifact_prefix=", 0) == 0) g_artifact_prefix = arg.substr(17);
        if (arg.rfind("-runs=", 0) == 0) g_runs = std::atol(arg.c_str() + 6);
        if (arg.rfind("-max_total_time=", 0) == 0) g_max_total_time = std::atol(arg.c_str() + 16);
    }
#if SQUALL_HTTP_FUZZ_ASAN
    __asan_set_error_report_callback(WriteRecentInputs);
#endif
    char tmpl[] = "/tmp/squall-http-fuzz.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        std::perror("http_fuzz: mkdtemp");
        std::abort();
    }
    g_data_dir = tmpl;
    std::atexit(RemoveDataDir);
    g_port = FreePort();
    std::thread([] {
        const int rc = squall::app::ServerMain(
            {"--data-dir",
             g_data_dir,
             "--listen",
             "127.0.0.1:" + std::to_string(g_port),
             "--roles",
             "api,rules",
             "--log-level",
             "critical"}
        );
        std::fprintf(stderr, "http_fuzz: the server exited with %d\n", rc);
        std::abort();
    }).detach();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < until) {
        std::ifstream in(g_data_dir + "/admin-api-key");
        if (in && std::getline(in, g_key) && !g_key.empty() &&
            Exchange("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(2)).rfind("HTTP/1.1 ", 0) ==
                0) {
            std::atexit(EndBeforeStaticsDie);
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "http_fuzz: the server did not come up in 60 s\n");
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string request(reinterpret_cast<const char*>(data), size);
    for (size_t at = request.find("$KEY"); at != std::string::npos; at = request.find("$KEY", at + g_key.size())) {
        request.replace(at, 4, g_key);
    }
    {
        std::lock_guard lock(g_recent_mu);
        g_recent[g_recent_next] = request;
        g_recent_next = (g_recent_next + 1) % g_recent.size();
    }
    // A connect can fail without the server at fault: libFuzzer's -timeout alarm (SIGALRM, once a second)
    // interrupts it (EINTR; seen in CI). The server is wedged only if it accepts no connection for two seconds.
    std::string answer = Exchange(request, std::chrono::seconds(5));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (answer == "<no connection>" && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        answer = Exchange(request, std::chrono::seconds(5));
    }
    if (answer.rfind("HTTP/1.1 500", 0) == 0) {
        std::fprintf(stderr, "http_fuzz: a 500 answer:\n%.2000s\n", answer.c_str());
        __builtin_trap();
    }
    if (answer == "<no connection>") {
        std::fprintf(
            stderr, "http_fuzz: the server accepts no connection for 2 s (%s)\n", std::strerror(g_connect_errno)
        );
        __builtin_trap();
    }
    EndAfterLastInput();
    return 0;
}
