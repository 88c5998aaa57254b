// Issue 18 reproductions against the real binary: bad input is a 4xx naming what is wrong (never a crash or a
// 500), a second server on the same data dir is refused, secret files are private, and slow clients do not
// starve the HTTP layer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "files.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

extern "C" char** environ;  // NOLINT: the test's environment, passed to redis-server as is

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

/// A connected TCP socket to 127.0.0.1:port (closed by the destructor).
class RawConnection {
public:
    explicit RawConnection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~RawConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    bool ok() const { return fd_ >= 0; }
    bool Send(const std::string& text) {
        return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
    }
    /// Everything until the server closes (or 10 s pass).
    std::string ReadAll() {
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string out;
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
        return out;
    }
    /// What one recv() returns once data is there (waiting up to 10 s for it): "" on EOF or timeout.
    std::string ReadOnce() {
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char buf[65536];
        const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    }
    /// Closes the sending side (a client that half-closes after its requests).
    void ShutWrite() { ::shutdown(fd_, SHUT_WR); }
    /// True while the server has not closed the connection (no EOF waiting to be read).
    bool StillOpen() {
        char c = 0;
        const ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

private:
    int fd_ = -1;
};

/// One inline Redis command over the unix socket `sock`; the first reply line ("" when there is no answer).
std::string RedisInline(const std::string& sock, const std::string& command, int timeout_s = 5) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
    std::string line;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
        timeval tv{timeout_s, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        const std::string text = command + "\r\n";
        if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
            char c = 0;
            while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
        }
    }
    ::close(fd);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

/// A redis-server child on `sock` with its RDB in `dir` (loaded at start when present).
pid_t SpawnRedis(const std::string& dir, const std::string& sock) {
    std::vector<std::string> args = {
        "redis-server",
        "--port",
        "0",
        "--unixsocket",
        sock,
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
        "--logfile",
        dir + "/redis.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (::posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) return -1;
    return pid;
}

class HardeningTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    SquallProcess::Options Opts() {
        SquallProcess::Options o;
        o.data_dir = (data_.path() / "d").string();
        return o;
    }
    static httplib::Headers Auth(const SquallProcess& s) { return {{"St2-Api-Key", s.api_key()}}; }
    static httplib::Result Post(const SquallProcess& s, const std::string& path, const std::string& body) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        return c.Post(("/api/v1" + path).c_str(), Auth(s), body, "application/json");
    }
    static httplib::Result Put(const SquallProcess& s, const std::string& path, const std::string& body) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        return c.Put(("/api/v1" + path).c_str(), Auth(s), body, "application/json");
    }
    static Json Rule(const std::string& name, const std::string& url) {
        return {
            {"name", name},
            {"pack", "default"},
            {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", url}}}}},
            {"action", {{"ref", "core.noop"}}}};
    }
    /// Asserts a 400 whose faultstring contains `what`.
    static void Expect400(const httplib::Result& r, const std::string& what, const std::string& context) {
        ASSERT_TRUE(r) << context;
        EXPECT_EQ(r->status, 400) << context << ": " << r->body;
        const Json body = Json::parse(r->body, nullptr, false);
        ASSERT_TRUE(body.is_object()) << context << ": " << r->body;
        EXPECT_NE(body.value("faultstring", "").find(what), std::string::npos)
            << context << ": " << body.value("faultstring", "");
    }
    TempDir data_;
};

TEST_F(HardeningTest, BadInputIsA400NamingTheProblemAndTheServerStaysUp) {
    SquallProcess server(Opts());
    auto created = Post(server, "/rules", Rule("on_hard", "hard").dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");

    // Deep JSON: refused at parse, never serialized.
    const size_t d = 60000;
    Expect400(
        Post(server, "/webhooks/hard", "{\"name\":1,\"x\":" + std::string(d, '[') + std::string(d, ']') + "}"),
        "nested deeper than the limit of 256 levels",
        "60,000-deep webhook body"
    );
    Expect400(
        Post(server, "/rules", "{\"name\":" + std::string(d, '[') + std::string(d, ']') + "}"),
        "nested deeper than the limit",
        "deep rule"
    );
    // Numbers out of range name their path.
    Expect400(
        Post(server, "/webhooks/hard", R"({"a": {"b": [0, 1e999999]}})"),
        "a.b[1]: number 1e999999 is out of range",
        "1e999999"
    );
    Expect400(Put(server, "/keys/k", R"({"value": "v", "ttl": 1e999999})"), "ttl: number 1e999999", "key ttl");

    // Keys: a name that is not UTF-8, TTLs past any sensible range.
    Expect400(Put(server, "/keys/%ff%fe", R"({"value": "v"})"), "name: the key name is not valid UTF-8", "%ff%fe");
    Expect400(Put(server, "/keys/k", R"({"value": "v", "ttl": 9223372036854775807})"), "ttl: 9223372036854775807", "");
    Expect400(Put(server, "/keys/k", R"({"value": "v", "ttl": 4611686018427387904})"), "ttl: ", "ttl 2^62");
    auto ok_ttl = Put(server, "/keys/k", R"({"value": "v", "ttl": 3600})");
    ASSERT_TRUE(ok_ttl);
    EXPECT_EQ(ok_ttl->status, 200) << ok_ttl->body;

    // Rules: names, packs, trigger types and criteria are checked where the rule is given.
    Expect400(Post(server, "/rules", Rule(std::string(40000, 'r'), "hard").dump()), "names are at most 255", "name");
    for (const char* pack : {"../../etc", "a/b"}) {
        Json r = Rule("p", "hard");
        r["pack"] = pack;
        Expect400(Post(server, "/rules", r.dump()), "is not a valid pack name", pack);
    }
    Json typo = Rule("typo", "hard");
    typo["trigger"]["type"] = "core.st2.webhok";
    Expect400(
        Post(server, "/rules", typo.dump()),
        "trigger.type: unknown trigger type \"core.st2.webhok\" (did you mean \"core.st2.webhook\"?)",
        "trigger type"
    );
    Json bad_regex = Rule("bad_regex", "hard");
    bad_regex["criteria"] = {{"trigger.body.x", {{"type", "regex"}, {"pattern", "("}}}};
    Expect400(
        Post(server, "/rules", bad_regex.dump()), "criteria.trigger.body.x.pattern: invalid regular expression", "("
    );
    Expect400(Post(server, "/rules", Rule("bad_url", "../x").dump()), "trigger.parameters.url", "webhook url");
    // Action aliases' packs as rules' (found by a tester: `../../etc/x` was stored and could not be deleted).
    for (const std::string& pack : std::vector<std::string>{"../../etc/x", "a/b", std::string(5000, 'p')}) {
        Json alias = {{"name", "a1"}, {"pack", pack}, {"action_ref", "core.local"}, {"formats", {"zzq {{cmd}}"}}};
        Expect400(Post(server, "/actionalias", alias.dump()), "body: pack: ", "alias pack " + pack.substr(0, 20));
    }
    // core.ask's ttl (minutes) is bounded: 0 expired at once and 2^63 - 1 wrapped to -1 (found by a tester).
    for (const char* ttl : {"0", "-5", "9223372036854775807"}) {
        Expect400(
            Post(server, "/executions", std::string(R"({"action": "core.ask", "parameters": {"ttl": )") + ttl + "}}"),
            "parameter \"ttl\"",
            std::string("core.ask ttl ") + ttl
        );
    }
    // A pack config's integer past 64 bits was stored as INT64_MIN, under the schema's `minimum: 1`.
    for (const char* step : {"18446744073709551616", "1e20", "9223372036854775808", "18446744073709551615"}) {
        Expect400(
            Put(server, "/configs/examples", std::string(R"({"step": )") + step + "}"),
            "does not fit in a 64-bit integer",
            std::string("config step ") + step
        );
    }

    // A webhook header in Latin-1 (real senders do this) is accepted and stored as UTF-8.
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.ok());
    const std::string body = R"({"n": 1})";
    ASSERT_TRUE(raw.Send(
        "POST /api/v1/webhooks/hard HTTP/1.1\r\nHost: 127.0.0.1\r\nSt2-Api-Key: " + server.api_key() +
        "\r\nContent-Type: application/json\r\nX-Name: caf\xe9\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body
    ));
    const std::string answer = raw.ReadAll();
    ASSERT_NE(answer.find("HTTP/1.1 202"), std::string::npos) << answer;
    const Json ti = Json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
    ASSERT_TRUE(ti.is_object()) << answer;
    httplib::Client c(server.host(), server.port());
    auto stored = c.Get(("/api/v1/triggerinstances/" + ti.value("id", "")).c_str(), Auth(server));
    ASSERT_TRUE(stored && stored->status == 200);
    EXPECT_EQ(Json::parse(stored->body)["payload"]["headers"]["X-Name"], "caf\xc3\xa9") << stored->body;

    // A path far longer than any name never reaches the std::regex routes.
    auto long_path = c.Get(("/api/v1/keys/" + std::string(8000, 'k')).c_str(), Auth(server));
    ASSERT_TRUE(long_path);
    EXPECT_EQ(long_path->status, 414) << long_path->body;

    // Still alive and well.
    auto health = c.Get("/api/v1/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(server.Stop(), 0) << server.Output();
    EXPECT_EQ(server.Output().find("request failed"), std::string::npos) << "a bad input was logged as a 5xx";
}

TEST_F(HardeningTest, SecretFilesAreWrittenPrivate) {
    SquallProcess server(Opts());
    for (const std::string f : {"/admin-api-key", "/keys/datastore.key"}) {
        struct stat st {};
        ASSERT_EQ(::stat((Opts().data_dir + f).c_str(), &st), 0) << f;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
    }
    // No temporary files left behind.
    for (const auto& e : fs::recursive_directory_iterator(Opts().data_dir)) {
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    }
}

TEST_F(HardeningTest, RuleCreateRefusesAYamlAliasBomb) {
    SquallProcess server(Opts());
    std::string y =
        "name: bomb\npack: default\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: b}\n"
        "action:\n  ref: core.noop\n  parameters:\n";
    y += "    a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    for (char ch = 'b'; ch <= 'i'; ++ch) {
        y += std::string("    ") + ch + ": &" + ch + " [";
        for (int k = 0; k < 9; ++k) y += std::string(k ? "," : "") + "*" + static_cast<char>(ch - 1);
        y += "]\n";
    }
    ASSERT_LT(y.size(), 1200u);
    const fs::path file = data_.path() / "bomb.yaml";
    std::ofstream(file) << y;
    CliResult r = server.Cli({"rule", "create", file.string()}, 60s);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("expands to too many values"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.err.find("bomb.yaml:"), std::string::npos) << r.err;
}

// Issue 12 items 13-15 through `squall rule create`: the API names the field, the CLI the file, line and column of
// the offending value, with a did-you-mean.
TEST_F(HardeningTest, RuleCreateLocatesWhatTheApiRefusesInTheFile) {
    SquallProcess server(Opts());
    const std::string head =
        "name: located\npack: default\ntrigger:\n  type: core.st2.webhook\n  parameters:\n"
        "    url: located\ncriteria:\n  trigger.body.x:\n    type: equals\n    pattern: 1\n";
    struct Case {
        std::string yaml;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {head + "action:\n  ref: core.nop\n",
         "located.yaml:12:8: action.ref: action \"core.nop\" does not exist (did you mean \"core.noop\"?)"},
        {"name: located\npack: default\ntrigger:\n  type: core.st2.webhok\naction:\n  ref: core.noop\n",
         "located.yaml:4:9: trigger.type: unknown trigger type \"core.st2.webhok\" (did you mean "
         "\"core.st2.webhook\"?)"},
        {head + "action:\n  ref: core.local\n  parameters:\n    cmd: \"echo {{ trigger.body | tojsn }}\"\n",
         "located.yaml:14:10: action.parameters.cmd: template error at column 22: unknown filter \"tojsn\" (did you "
         "mean \"tojson\"?)"},
        {"name: located\npack: default\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: located\n"
         "criteria:\n  trigger.body.x:\n    type: equals\n    pattern: \"{{ 1 + }}\"\naction:\n  ref: core.noop\n",
         "located.yaml:10:14: criteria.trigger.body.x.pattern: template error at column 8"},
    };
    const fs::path file = data_.path() / "located.yaml";
    for (const auto& c : cases) {
        std::ofstream(file, std::ios::trunc) << c.yaml;
        CliResult r = server.Cli({"rule", "create", file.string()}, 60s);
        EXPECT_NE(r.exit_code, 0) << c.yaml;
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    }
}

TEST_F(HardeningTest, ASecondServerOnTheSameDataDirIsRefused) {
    SquallProcess first(Opts());
    const std::string socket = Opts().data_dir + "/redis/redis.sock";
    ASSERT_TRUE(fs::exists(socket));
    CliResult second =
        SquallProcess::RunBinary({"server", "--data-dir", Opts().data_dir, "--listen", "127.0.0.1:0"}, {}, 60s);
    EXPECT_EQ(second.exit_code, 5) << second.out << second.err;
    EXPECT_NE(second.err.find("another squall server (pid " + std::to_string(first.pid()) + ")"), std::string::npos)
        << second.err;
    EXPECT_NE(second.err.find("is using the data dir"), std::string::npos) << second.err;
    // The first one keeps its Redis socket and answers.
    EXPECT_TRUE(fs::exists(socket));
    httplib::Client c(first.host(), first.port());
    auto health = c.Get("/api/v1/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << health->body;
    auto keys = c.Get("/api/v1/keys", Auth(first));
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->status, 200) << keys->body;
}

TEST_F(HardeningTest, SlowClientsDoNotStarveWebhooks) {
    SquallProcess server(Opts());
    auto created = Post(server, "/rules", Rule("on_load", "load").dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");

    // 200 slowloris connections: a request line, then one header line every 3 s, never finishing.
    constexpr int kSlow = 200;
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < kSlow; ++i) {
        slow.push_back(std::make_unique<RawConnection>(server.port()));
        ASSERT_TRUE(slow.back()->ok()) << i;
        ASSERT_TRUE(slow.back()->Send("POST /api/v1/webhooks/load HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    }
    std::atomic<bool> done{false};
    std::thread dripper([&] {
        int n = 0;
        while (!done) {
            for (auto& s : slow) s->Send("X-Drip-" + std::to_string(n) + ": 1\r\n");
            ++n;
            for (int k = 0; k < 30 && !done; ++k) std::this_thread::sleep_for(100ms);
        }
    });

    // Meanwhile ~200 webhook POSTs (and /health) are timed; every one must be answered.
    std::vector<double> ms;
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(10, 0);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);  // headers and body go out in two writes: Nagle and delayed ACKs would add 40 ms
    int answered = 0;
    for (int i = 0; i < 200; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r =
            c.Post("/api/v1/webhooks/load", Auth(server), R"({"i": )" + std::to_string(i) + "}", "application/json");
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (r && r->status == 202) ++answered;
    }
    auto health = c.Get("/api/v1/health");
    int still_open = 0;
    for (auto& s : slow) still_open += s->StillOpen() ? 1 : 0;
    done = true;
    dripper.join();

    std::sort(ms.begin(), ms.end());
    const double p50 = ms[ms.size() / 2];
    const double p99 = ms[ms.size() * 99 / 100];
    std::cout << "[slowloris] " << kSlow << " slow connections (" << still_open
              << " still open); 200 webhook POSTs: p50 " << p50 << " ms, p99 " << p99 << " ms, max " << ms.back()
              << " ms\n";
    RecordProperty("webhook_p99_ms", std::to_string(p99));
    EXPECT_EQ(answered, 200) << server.Output();
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_GE(still_open, kSlow * 9 / 10) << "the slow connections were cut before the POSTs were timed";
    EXPECT_LT(p99, 2000.0) << "a generous guard; the measured p99 is printed above";
}

TEST_F(HardeningTest, WhileRedisLoadsItsDataTheApiAnswers503WithRetryAfter) {
    const std::string dir = (data_.path() / "ext").string();
    fs::create_directories(dir);
    const std::string sock = dir + "/r.sock";
    pid_t redis = SpawnRedis(dir, sock);
    ASSERT_GT(redis, 0);
    ASSERT_TRUE(WaitFor([&] { return RedisInline(sock, "PING") == "+PONG"; }, 10s));
    SquallProcess::Options o = Opts();
    o.redis_url = "unix://" + sock;
    SquallProcess server(o);
    // A data set that takes Redis a moment to load.
    ASSERT_EQ(RedisInline(sock, "DEBUG POPULATE 2000000 junk 32", 120), "+OK");
    ASSERT_EQ(RedisInline(sock, "SAVE", 120), "+OK");
    ::kill(redis, SIGKILL);
    ::waitpid(redis, nullptr, 0);
    redis = SpawnRedis(dir, sock);
    ASSERT_GT(redis, 0);

    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    int unavailable = 0;
    int errors = 0;
    int without_retry_after = 0;
    bool saw_loading = false;
    const bool back = WaitFor(
        [&] {
            saw_loading = saw_loading || RedisInline(sock, "PING").rfind("-LOADING", 0) == 0;
            auto r = c.Get("/api/v1/keys", Auth(server));
            if (!r) return false;
            if (r->status == 503) {
                ++unavailable;
                if (!r->has_header("Retry-After")) ++without_retry_after;
            } else if (r->status >= 500) {
                ++errors;
                ADD_FAILURE() << r->status << " " << r->body;
            }
            return r->status == 200;
        },
        60s
    );
    ::kill(redis, SIGTERM);
    ::waitpid(redis, nullptr, 0);
    EXPECT_TRUE(back) << server.Output();
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(without_retry_after, 0);
    if (saw_loading) EXPECT_GT(unavailable, 0) << "Redis was LOADING but no request saw a 503";
    std::cout << "[loading] saw LOADING: " << saw_loading << ", 503 answers: " << unavailable << "\n";
    // Unavailability is logged at most once per 10 s, not per request.
    const std::string out = server.Output();
    size_t lines = 0;
    for (size_t at = out.find("request failed"); at != std::string::npos; at = out.find("request failed", at + 1))
        ++lines;
    EXPECT_LE(lines, 3u) << out;
}

TEST_F(HardeningTest, TheExamplesWebhookRuleNeverRunsTheBodyAsACommand) {
    SquallProcess server(Opts());
    const std::string marker = (data_.path() / "pwned").string();
    const std::string name = "$(touch " + marker + ")";
    auto posted = Post(server, "/webhooks/sample", Json({{"name", name}}).dump());
    ASSERT_TRUE(posted && posted->status == 202) << (posted ? posted->body : "no answer");
    httplib::Client c(server.host(), server.port());
    Json done;
    ASSERT_TRUE(WaitFor(
        [&] {
            auto l = c.Get("/api/v1/executions?limit=1", Auth(server));
            const Json list = l && l->status == 200 ? Json::parse(l->body, nullptr, false) : Json();
            if (list.is_array() && !list.empty() && list[0].value("status", "") != "scheduled" &&
                list[0].value("status", "") != "running") {
                done = list[0];
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            return false;
        },
        60s
    )) << server.Output();
    EXPECT_EQ(done.value("status", ""), "succeeded") << done.dump();
    EXPECT_EQ(done["result"]["stdout"], "Hello, " + name + "!") << done.dump();
    EXPECT_FALSE(fs::exists(marker)) << "the webhook body ran as a shell command";
}

TEST_F(HardeningTest, TheServerStartsWhileRedisIsStillLoading) {
    const std::string dir = (data_.path() / "ext").string();
    fs::create_directories(dir);
    const std::string sock = dir + "/r.sock";
    pid_t redis = SpawnRedis(dir, sock);
    ASSERT_GT(redis, 0);
    ASSERT_TRUE(WaitFor([&] { return RedisInline(sock, "PING") == "+PONG"; }, 10s));
    ASSERT_EQ(RedisInline(sock, "DEBUG POPULATE 2000000 junk 32", 120), "+OK");
    ASSERT_EQ(RedisInline(sock, "SAVE", 120), "+OK");
    ::kill(redis, SIGKILL);
    ::waitpid(redis, nullptr, 0);
    redis = SpawnRedis(dir, sock);
    ASSERT_GT(redis, 0);
    std::string reply;
    ASSERT_TRUE(WaitFor([&] { return !(reply = RedisInline(sock, "PING")).empty(); }, 10s));
    if (reply.rfind("-LOADING", 0) != 0) {
        ::kill(redis, SIGTERM);
        ::waitpid(redis, nullptr, 0);
        GTEST_SKIP() << "Redis loaded before the server could start (" << reply << ")";
    }
    // The server starts against a Redis that answers LOADING: it waits for the load to finish, then serves.
    SquallProcess::Options o = Opts();
    o.redis_url = "unix://" + sock;
    {
        SquallProcess server(o);
        httplib::Client c(server.host(), server.port());
        auto health = c.Get("/api/v1/health");
        ASSERT_TRUE(health);
        EXPECT_EQ(health->status, 200) << health->body;
        EXPECT_EQ(RedisInline(sock, "DBSIZE").rfind(":", 0), 0u);
        EXPECT_EQ(server.Stop(), 0) << server.Output();
    }
    ::kill(redis, SIGTERM);
    ::waitpid(redis, nullptr, 0);
}

TEST_F(HardeningTest, AClientOverItsConnectionLimitIsRefusedAtOnce) {
    SquallProcess server(Opts());
    // 256 connections per client address are served; the 257th from 127.0.0.1 is answered 503 and closed
    // at once (which one depends on the order the workers admit them: exactly one).
    constexpr int kLimit = 256;
    std::vector<std::unique_ptr<RawConnection>> conns;
    for (int i = 0; i <= kLimit; ++i) {
        conns.push_back(std::make_unique<RawConnection>(server.port()));
        ASSERT_TRUE(conns.back()->ok()) << i;
    }
    int refused = 0;
    ASSERT_TRUE(WaitFor(
        [&] {
            refused = 0;
            for (auto& c : conns) refused += c->StillOpen() ? 0 : 1;
            return refused >= 1;
        },
        10s
    ));
    EXPECT_EQ(refused, 1);
    for (auto& c : conns) {
        if (c->StillOpen()) continue;
        const std::string answer = c->ReadAll();
        EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n", 0), 0u) << answer;
    }
    // Once one of its connections closes, the client is served again.
    conns.erase(conns.begin());
    httplib::Client c(server.host(), server.port());
    EXPECT_TRUE(WaitFor(
        [&] {
            auto health = c.Get("/api/v1/health");
            return health && health->status == 200;
        },
        10s
    ));
}

TEST_F(HardeningTest, PackGetWarnsAboutTriggerDataInAShellCommand) {
    SquallProcess server(Opts());
    const fs::path pack = fs::path(Opts().data_dir) / "packs" / "risky";
    fs::create_directories(pack / "rules");
    std::ofstream(pack / "pack.yaml") << "ref: risky\nname: risky\nversion: 1.0.0\nauthor: t\nemail: t@example.com\n"
                                         "description: a rule that runs its webhook body\n";
    std::ofstream(pack / "rules" / "run_body.yaml")
        << "name: run_body\npack: risky\ntrigger:\n  type: core.st2.webhook\n  parameters: {url: risky}\n"
           "action:\n  ref: core.local\n  parameters:\n    cmd: 'echo {{ trigger.body.msg }}'\n";
    CliResult reg = server.Cli({"pack", "register", "risky"});
    ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
    CliResult get = server.Cli({"pack", "get", "risky"});
    EXPECT_EQ(get.exit_code, 0) << get.out << get.err;
    EXPECT_NE(
        get.err.find("warning: rule risky.run_body renders trigger data into the shell command "
                     "(action.parameters.cmd) of core.local"),
        std::string::npos
    ) << get.err;
    CliResult examples = server.Cli({"pack", "get", "examples"});
    EXPECT_EQ(examples.exit_code, 0) << examples.err;
    EXPECT_EQ(examples.err.find("warning"), std::string::npos) << examples.err;
}

TEST_F(HardeningTest, ASlowRequestIsCutAtTheHeaderDeadline) {
    SquallProcess server(Opts());
    RawConnection slow(server.port());
    ASSERT_TRUE(slow.ok());
    ASSERT_TRUE(slow.Send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    // One header line every second never completes the request: the server closes it at its 10 s header
    // deadline, where per-read timeouts alone would keep it open forever.
    const auto t0 = std::chrono::steady_clock::now();
    bool closed = WaitFor(
        [&] {
            slow.Send("X-Drip: 1\r\n");
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            return !slow.StillOpen();
        },
        30s
    );
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(closed);
    EXPECT_GE(took, 8s);
    EXPECT_LT(took, 20s);
}

TEST_F(HardeningTest, AResponseGoesOutWholeAndKeepAliveGoesOn) {
    // httplib writes a response's headers and its body separately; the server sends them together (one segment,
    // so the client's first read has the body) and flushes headers without a body at the end of the request.
    SquallProcess server(Opts());
    RawConnection c(server.port());
    ASSERT_TRUE(c.ok());
    const std::string get = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_TRUE(c.Send(get));
    std::string first = c.ReadOnce();
    EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
    EXPECT_NE(first.find("\r\n\r\n{\"status\":\"ok\""), std::string::npos) << first;

    // HEAD: a Content-Length and no body; the next request on the connection is answered as usual.
    ASSERT_TRUE(c.Send(
        "HEAD /api/v1/executions?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nSt2-Api-Key: " + server.api_key() + "\r\n\r\n"
    ));
    std::string head = c.ReadOnce();
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    EXPECT_NE(head.find("Content-Length: "), std::string::npos) << head;
    EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
    ASSERT_TRUE(c.Send(get));
    std::string again = c.ReadOnce();
    EXPECT_EQ(again.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << again;
    EXPECT_NE(again.find("{\"status\":\"ok\""), std::string::npos) << again;

    // A streamed (chunked) response is not held: the event stream's headers and first line come at once.
    RawConnection sse(server.port());
    ASSERT_TRUE(
        sse.Send("GET /stream/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nSt2-Api-Key: " + server.api_key() + "\r\n\r\n")
    );
    std::string stream = sse.ReadOnce();
    EXPECT_EQ(stream.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << stream;
    EXPECT_NE(stream.find("text/event-stream"), std::string::npos) << stream;
}

// Found by a tester driving a live server: after an answer given before the request's body was read (a 414 for a
// long path, a 400 for a bad request line or header), the connection stayed open and the body's bytes were parsed
// as the next request, so a request hidden in a body ran (request smuggling), and a client's next request got a
// stale 400. A connection is now kept only when its request was read exactly to its end.
TEST_F(HardeningTest, BytesLeftOfARequestAreNeverReadAsTheNextOne) {
    SquallProcess server(Opts());
    // What each case hides in its body (or after it): a request that must never be answered.
    const std::string hidden =
        "GET /api/v1/keys/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nSt2-Api-Key: " + server.api_key() + "\r\n\r\n";
    const std::string key = "St2-Api-Key: " + server.api_key() + "\r\n";
    const std::string body_of = "Content-Length: " + std::to_string(hidden.size()) + "\r\n\r\n" + hidden;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"httplib's 414", "PUT /api/v1/keys/" + std::string(9000, 'x') + " HTTP/1.1\r\nHost: h\r\n" + body_of},
        {"Squall's 414",
         "POST /api/v1/webhooks/" + std::string(3000, 'x') + " HTTP/1.1\r\nHost: h\r\n" + key +
             "Content-Type: application/json\r\n" + body_of},
        {"a bad request line", "GARBAGE\r\n\r\n" + hidden},
        {"an oversized header",
         "GET /api/v1/health HTTP/1.1\r\nX-Big: " + std::string(9000, 'y') + "\r\n\r\n" + hidden},
        {"a GET with a body", "GET /api/v1/health HTTP/1.1\r\nHost: h\r\n" + body_of},
        {"two Content-Lengths",
         "POST /api/v1/webhooks/nothing HTTP/1.1\r\nHost: h\r\n" + key +
             "Content-Type: application/json\r\nContent-Length: 0\r\n" + body_of},
        {"a space before a header's colon",
         "GET /api/v1/health HTTP/1.1\r\nHost: h\r\nContent-Length : " + std::to_string(hidden.size()) + "\r\n\r\n" +
             hidden},
        {"a folded header line",
         "GET /api/v1/health HTTP/1.1\r\nHost: h\r\nX-A: b\r\n Content-Length: " + std::to_string(hidden.size()) +
             "\r\n\r\n" + hidden},
        {"Content-Length -1",
         "POST /api/v1/webhooks/nothing HTTP/1.1\r\nHost: h\r\n" + key + "Content-Length: -1\r\n\r\n" + hidden},
        {"Content-Length abc",
         "POST /api/v1/webhooks/nothing HTTP/1.1\r\nHost: h\r\n" + key + "Content-Length: abc\r\n\r\n" + hidden},
    };
    for (const auto& [name, request] : cases) {
        RawConnection c(server.port());
        ASSERT_TRUE(c.ok()) << name;
        c.Send(request);
        const std::string answer = c.ReadAll();  // until the server closes: it must, after one answer
        EXPECT_EQ(answer.find("smuggled"), std::string::npos) << name << ": " << answer.substr(0, 600);
        size_t answers = 0;
        for (size_t at = answer.find("HTTP/1.1 "); at != std::string::npos; at = answer.find("HTTP/1.1 ", at + 1))
            ++answers;
        EXPECT_EQ(answers, 1u) << name << ": " << answer.substr(0, 600);
        EXPECT_NE(answer.find("Connection: close"), std::string::npos) << name << ": " << answer.substr(0, 600);
    }
    // A request read to its end keeps the connection: two pipelined requests, two answers.
    auto created = Post(server, "/rules", Rule("on_nothing", "nothing").dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");
    RawConnection c(server.port());
    ASSERT_TRUE(c.ok());
    const std::string post = R"({"a": 1})";
    c.Send(
        "POST /api/v1/webhooks/nothing HTTP/1.1\r\nHost: h\r\n" + key +
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(post.size()) + "\r\n\r\n" + post +
        "GET /api/v1/health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    );
    const std::string both = c.ReadAll();
    EXPECT_NE(both.find("HTTP/1.1 202"), std::string::npos) << both.substr(0, 600);
    EXPECT_NE(both.find("{\"status\":\"ok\""), std::string::npos) << both.substr(0, 600);

    // A POST without Content-Length has an empty body (HTTP/1.1), answered at once and the connection kept: it
    // waited for the read timeout (10 s) and got a 400, since httplib reads such a body until the connection ends.
    RawConnection empty(server.port());
    ASSERT_TRUE(empty.ok());
    const auto t0 = std::chrono::steady_clock::now();
    empty.Send(
        "POST /api/v1/webhooks/nothing HTTP/1.1\r\nHost: h\r\n" + key + "\r\n" +
        "GET /api/v1/health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    );
    const std::string two = empty.ReadAll();
    EXPECT_EQ(two.rfind("HTTP/1.1 202", 0), 0u) << two.substr(0, 600);
    EXPECT_NE(two.find("{\"status\":\"ok\""), std::string::npos) << two.substr(0, 600);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s) << "the empty body was waited for";
}

/// Threads of process `pid` named `name` (its tasks' comm).
int ThreadsNamed(pid_t pid, const std::string& name) {
    int n = 0;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string line;
        if (std::getline(comm, line) && line == name) ++n;
    }
    return n;
}

/// One answer on `c` (the status line through the body): reads until Content-Length bytes follow the headers.
std::string ReadAnswer(RawConnection& c) {
    std::string got;
    while (true) {
        const size_t end = got.find("\r\n\r\n");
        if (end != std::string::npos) {
            const size_t at = got.find("Content-Length: ");
            const size_t length = at == std::string::npos || at > end ? 0 : std::stoul(got.substr(at + 16));
            if (got.size() >= end + 4 + length) return got;
        }
        std::string more = c.ReadOnce();
        if (more.empty()) return got;
        got += more;
    }
}

std::string WebhookPost(
    const std::string& url, const std::string& key, const std::string& body, const std::string& extra = ""
) {
    return "POST /api/v1/webhooks/" + url + " HTTP/1.1\r\nHost: h\r\nSt2-Api-Key: " + key + "\r\n" + extra +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Webhook senders keep connections open between deliveries. The webhook lane (docs/decisions.md, "Webhooks on an
// event loop") holds them without a thread each: 200 idle keep-alive connections that each delivered a webhook hold
// no HTTP worker, and each delivers again on the same connection. With the lane off (`--webhook-lane 0`) each held
// a worker thread.
TEST_F(HardeningTest, IdleKeepAliveWebhookConnectionsHoldNoThread) {
    for (const bool lane : {true, false}) {
        SquallProcess::Options o = Opts();
        o.data_dir += lane ? "-lane" : "-threads";
        if (!lane) o.extra_args = {"--webhook-lane", "0"};
        SquallProcess server(o);
        auto created = Post(server, "/rules", Rule("on_idle", "idle").dump());
        ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");
        auto first = Post(server, "/webhooks/idle", "{}");  // the API key is looked up once, then cached
        ASSERT_TRUE(first && first->status == 202) << (first ? first->body : "no answer");

        constexpr int kConnections = 200;
        std::vector<std::unique_ptr<RawConnection>> conns;
        for (int i = 0; i < kConnections; ++i) {
            conns.push_back(std::make_unique<RawConnection>(server.port()));
            ASSERT_TRUE(conns.back()->ok()) << i;
            ASSERT_TRUE(conns.back()->Send(WebhookPost("idle", server.api_key(), R"({"n": )" + std::to_string(i) + "}"))
            );
        }
        for (int i = 0; i < kConnections; ++i) {
            const std::string answer = ReadAnswer(*conns[i]);
            ASSERT_EQ(answer.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << i << ": " << answer;
            EXPECT_NE(answer.find("Keep-Alive: timeout=5, max=100"), std::string::npos) << answer;
        }
        const int workers = ThreadsNamed(server.pid(), "squall-http");
        std::cout << "[idle keep-alive] lane " << (lane ? "on" : "off") << ": " << kConnections << " idle connections, "
                  << workers << " HTTP worker threads\n";
        if (lane) {
            EXPECT_LE(workers, 16) << "idle webhook connections hold worker threads";
        } else {
            EXPECT_GE(workers, kConnections) << "the contrast: one worker per connection without the lane";
        }
        for (int i = 0; i < kConnections; ++i) {
            ASSERT_TRUE(conns[i]->StillOpen()) << i;
            ASSERT_TRUE(conns[i]->Send(WebhookPost("idle", server.api_key(), R"({"again": true})")));
            const std::string answer = ReadAnswer(*conns[i]);
            EXPECT_EQ(answer.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << i << ": " << answer;
        }
    }
}

// On one connection, the lane serves the webhooks it can answer without waiting and gives every other request to the
// worker threads, which answer it as they always did and give the connection back: a GET, a delivery with an
// Idempotency-Key (claimed in Redis) and its repeat, a webhook nobody listens on, a body that comes late (after the
// lane stopped waiting for it), and webhooks before and after each.
TEST_F(HardeningTest, TheWebhookLaneAndTheWorkersShareAConnection) {
    SquallProcess server(Opts());
    auto created = Post(server, "/rules", Rule("on_shared", "shared").dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");
    const std::string key = server.api_key();
    RawConnection c(server.port());
    ASSERT_TRUE(c.ok());
    auto status_of = [](const std::string& answer) { return answer.substr(0, answer.find("\r\n")); };
    std::vector<std::string> ids;
    auto webhook = [&](const std::string& body) {
        ASSERT_TRUE(c.Send(WebhookPost("shared", key, body)));
        const std::string answer = ReadAnswer(c);
        ASSERT_EQ(status_of(answer), "HTTP/1.1 202 Accepted") << answer;
        const Json j = Json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
        ASSERT_TRUE(j.is_object()) << answer;
        EXPECT_EQ(j["payload"], Json::parse(body)) << answer;
        EXPECT_EQ(j["trigger"], "core.st2.webhook") << answer;
        ids.push_back(j.value("id", ""));
    };
    webhook(R"({"step": 1})");
    ASSERT_TRUE(c.Send("GET /api/v1/health HTTP/1.1\r\nHost: h\r\n\r\n"));
    EXPECT_EQ(status_of(ReadAnswer(c)), "HTTP/1.1 200 OK");
    webhook(R"({"step": 2})");
    ASSERT_TRUE(c.Send(WebhookPost("shared", key, R"({"step": 3})", "Idempotency-Key: step-3\r\n")));
    EXPECT_EQ(status_of(ReadAnswer(c)), "HTTP/1.1 202 Accepted");
    ASSERT_TRUE(c.Send(WebhookPost("shared", key, R"({"step": 3})", "Idempotency-Key: step-3\r\n")));
    const std::string repeat = ReadAnswer(c);
    EXPECT_EQ(status_of(repeat), "HTTP/1.1 200 OK") << repeat;
    EXPECT_NE(repeat.find("\"duplicate\":true"), std::string::npos) << repeat;
    ASSERT_TRUE(c.Send(WebhookPost("nobody", key, "{}")));
    EXPECT_EQ(status_of(ReadAnswer(c)), "HTTP/1.1 404 Not Found");
    // A sender that pauses between its headers and its body, until the lane has given up waiting for the request
    // and handed it to the workers (counted in /metrics).
    httplib::Client api(server.host(), server.port());
    auto slow_requests = [&] {
        auto m = api.Get("/metrics", Auth(server));
        if (!m) return -1L;
        const std::string name = "\nsquall_http_lane_slow_requests_total ";
        const size_t at = m->body.find(name);
        return at == std::string::npos ? -1L : std::stol(m->body.substr(at + name.size()));
    };
    const long slow_before = slow_requests();
    ASSERT_GE(slow_before, 0);
    const std::string late = R"({"step": 4})";
    const std::string post = WebhookPost("shared", key, late);
    ASSERT_TRUE(c.Send(post.substr(0, post.size() - late.size())));
    ASSERT_TRUE(WaitFor([&] { return slow_requests() == slow_before + 1; }, 10s));
    ASSERT_TRUE(c.Send(late));
    EXPECT_EQ(status_of(ReadAnswer(c)), "HTTP/1.1 202 Accepted");
    webhook(R"({"step": 5})");
    webhook(R"({"step": 6})");
    EXPECT_TRUE(c.StillOpen());
    // Every 202 stored its instance.
    for (const auto& id : ids) {
        auto got = api.Get(("/api/v1/triggerinstances/" + id).c_str(), Auth(server));
        ASSERT_TRUE(got) << id;
        EXPECT_EQ(got->status, 200) << id << ": " << got->body;
    }
}

// Found by a tester and a review comparing the lane with the workers (`--webhook-lane 0`) byte for byte: pipelined
// webhooks followed by a half-close were dropped after the first answer; a close with unread bytes behind it reset
// the connection before a large answer was read; form bodies (read by httplib into the request's parameters, 413
// over 8 KiB) and percent-encoded header values (decoded by httplib) were read differently. Each now gets the
// workers' answer.
TEST_F(HardeningTest, TheWebhookLaneAnswersAsTheWorkersDo) {
    SquallProcess server(Opts());
    auto created = Post(server, "/rules", Rule("on_same", "same").dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");
    auto first = Post(server, "/webhooks/same", "{}");  // the API key is cached from here on: the lane serves
    ASSERT_TRUE(first && first->status == 202) << (first ? first->body : "no answer");
    const std::string key = server.api_key();
    auto count = [](const std::string& text, const std::string& what) {
        size_t n = 0;
        for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
        return n;
    };

    // Three pipelined webhooks, then the client shuts its sending side: three answers.
    {
        RawConnection c(server.port());
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.Send(
            WebhookPost("same", key, R"({"p": 1})") + WebhookPost("same", key, R"({"p": 2})") +
            WebhookPost("same", key, R"({"p": 3})")
        ));
        c.ShutWrite();
        const std::string all = c.ReadAll();
        EXPECT_EQ(count(all, "HTTP/1.1 202 Accepted"), 3u) << all;
    }
    // Connection: close on a webhook with a 60 KB answer, and more bytes behind it: the answer arrives whole.
    {
        RawConnection c(server.port());
        ASSERT_TRUE(c.ok());
        const std::string big = R"({"big": ")" + std::string(60000, 'b') + R"("})";
        ASSERT_TRUE(c.Send(WebhookPost("same", key, big, "Connection: close\r\n") + std::string(200000, 'x')));
        const std::string answer = c.ReadAll();
        ASSERT_EQ(answer.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << answer.substr(0, 300);
        EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer.substr(0, 300);
        const Json j = Json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
        ASSERT_TRUE(j.is_object()) << answer.size() << " bytes";
        EXPECT_EQ(j["payload"]["big"].get<std::string>().size(), 60000u);
    }
    // A form body over httplib's 8 KiB form limit: 413, as the workers answer it.
    {
        RawConnection c(server.port());
        ASSERT_TRUE(c.ok());
        const std::string form = "a=" + std::string(9000, 'f');
        ASSERT_TRUE(c.Send(
            "POST /api/v1/webhooks/same HTTP/1.1\r\nHost: h\r\nSt2-Api-Key: " + key +
            "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + std::to_string(form.size()) +
            "\r\n\r\n" + form
        ));
        const std::string answer = ReadAnswer(c);
        EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
    }
    // A header value with %0D: httplib decodes it to a CR, which is refused (400) and the connection closed.
    {
        RawConnection c(server.port());
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.Send(WebhookPost("same", key, "{}", "X-Sig: a%0Db\r\n")));
        const std::string answer = c.ReadAll();
        EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
        EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    }
}

}  // namespace
}  // namespace squall::test
