// The sensors role against a real redis-server with real sensor processes (issue 13 items 4 and 7): the protocol,
// malformed and invalid lines, process_spawn/exit, restarts with backoff, SIGTERM then SIGKILL on stop, and the
// leases that spread sensors over several roles and move them when a role goes or loses its lease.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "files.hpp"
#include "git_repo.hpp"
#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/sensors/sensor_host.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::sensors {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::WaitFor;

TEST(ParseSensorLineTest, AcceptsTheProtocolAndSaysWhatIsWrong) {
    Result<SensorLine> ok = ParseSensorLine(R"({"trigger": "p.t", "payload": {"a": 1}, "trace_tag": "x"})");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->trigger, "p.t");
    EXPECT_EQ(ok->payload, Json({{"a", 1}}));
    EXPECT_EQ(ok->trace_tag, "x");
    Result<SensorLine> bare = ParseSensorLine(R"({"trigger": "p.t", "payload": null, "trace_tag": null})");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->payload, Json::object());
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"hello", "not JSON"},
        {"[1]", "not a JSON object"},
        {R"({"payload": {}})", "\"trigger\" is required"},
        {R"({"trigger": "nodot"})", "\"trigger\": must be a trigger type ref"},
        {R"({"trigger": 5})", "\"trigger\": must be a trigger type ref"},
        {R"({"trigger": "p.t", "payload": [1]})", "\"payload\": must be an object"},
        {R"({"trigger": "p.t", "trace_tag": 1})", "\"trace_tag\": must be a string"},
        {R"({"trigger": "p.t", "paylaod": {}})", "unknown key \"paylaod\""},
    };
    for (const auto& [line, want] : bad) {
        Result<SensorLine> r = ParseSensorLine(line);
        ASSERT_FALSE(r) << line;
        EXPECT_NE(r.error().message.find(want), std::string::npos) << line << " -> " << r.error().message;
    }
}

/// Sensor processes running `script`: live processes whose command line names it, without the shell's own
/// short-lived forks (a child of one of them, between fork and exec, has the same command line).
size_t Copies(const std::string& script) {
    const std::vector<pid_t> pids = test::LiveProcessesMatching(script);
    const std::set<pid_t> all(pids.begin(), pids.end());
    size_t n = 0;
    for (pid_t pid : pids) {
        const std::string stat = test::ReadFile("/proc/" + std::to_string(pid) + "/stat");
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(paren + 2));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (!all.count(ppid)) ++n;
    }
    return n;
}

class SensorHostTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(runner_.io(), server_.Endpoint("sensors"));
        content_ = std::make_unique<packs::ContentStore>(client_);
        packs::PackLoader loader;
        Result<packs::LoadedPack> core_pack =
            loader.LoadPackBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled/core");
        ASSERT_TRUE(core_pack);
        ASSERT_TRUE(content_->RegisterPackBlocking(*core_pack));
        triggers_ = std::make_unique<core::TriggerStore>(client_, clock_);
        cache_ = std::make_unique<packs::ContentCache>(*content_, clock_, 0ms);
        test::WriteFile(pack_ / "pack.yaml", "---\nref: ext\nname: ext\nversion: 0.1.0\n");
    }
    void TearDown() override {
        for (auto& h : hosts_) h->Stop();
        hosts_.clear();
        contexts_.clear();
        cache_.reset();
        triggers_.reset();
        content_.reset();
        client_.reset();
        runner_.Drain();
    }

    static SensorHostOptions FastOptions() {
        SensorHostOptions o;
        o.poll = 50ms;
        o.lease_ttl = 1000ms;
        o.backoff_initial = 100ms;
        o.backoff_max = 400ms;
        o.stop_grace = 300ms;
        return o;
    }
    /// A sensors role named `instance` (several share the Redis, as several processes would).
    SensorHost& Host(const std::string& instance, SensorHostOptions options = FastOptions()) {
        contexts_.push_back(std::make_unique<SensorContext>(SensorContext{*triggers_, *cache_, client_, instance}));
        hosts_.push_back(std::make_unique<SensorHost>(*contexts_.back(), runner_.io(), options));
        return *hosts_.back();
    }
    /// Adds an external sensor `name` (a /bin/sh script) emitting `ext.tick` ({n: integer} required; declared by the
    /// first sensor, named by the others) and registers the pack.
    void AddSensor(const std::string& name, const std::string& script) {
        const std::string types = declared_ ? "  - ext.tick\n"
                                            : "  - name: tick\n    payload_schema:\n      type: object\n"
                                              "      properties:\n        n: {type: integer}\n      required: [n]\n";
        declared_ = true;
        test::WriteFile(
            pack_ / "sensors" / (name + ".yaml"),
            "---\nname: " + name + "\nentry_point: " + name + ".sh\ntrigger_types:\n" + types
        );
        const fs::path file = pack_ / "sensors" / (name + ".sh");
        test::WriteFile(file, "#!/bin/sh\n" + script);
        fs::permissions(file, fs::perms::owner_all);
        Register();
    }
    void Register() {
        packs::PackLoader loader;
        Result<packs::LoadedPack> pack = loader.LoadPackBlocking(pack_.string());
        ASSERT_TRUE(pack);
        ASSERT_TRUE(pack->errors.empty()) << pack->errors[0].What();
        ASSERT_TRUE(content_->RegisterPackBlocking(*pack));
    }
    /// The stored instances of `trigger`, oldest first.
    std::vector<Json> Instances(const std::string& trigger) {
        size_t total = 0;
        Result<std::vector<Json>> list = triggers_->ListBlocking(0, 1000, &total);
        EXPECT_TRUE(list);
        std::vector<Json> out;
        if (!list) return out;
        for (auto it = list->rbegin(); it != list->rend(); ++it) {
            if ((*it)["trigger"] == trigger) out.push_back(*it);
        }
        return out;
    }
    std::string Script(const std::string& name) const { return (pack_ / "sensors" / (name + ".sh")).string(); }

    test::RedisServer server_;
    test::IoRunner runner_;
    core::RealClock clock_;
    core::RedisClientPtr client_;
    std::unique_ptr<packs::ContentStore> content_;
    std::unique_ptr<core::TriggerStore> triggers_;
    std::unique_ptr<packs::ContentCache> cache_;
    std::vector<std::unique_ptr<SensorContext>> contexts_;
    std::vector<std::unique_ptr<SensorHost>> hosts_;
    test::TempDir dir_;
    fs::path pack_ = dir_.path() / "ext";
    bool declared_ = false;
};

TEST_F(SensorHostTest, DispatchesWhatTheSensorWritesAndCountsWhatIsWrong) {
    const std::string marker = (dir_.path() / "stdin").string();
    AddSensor(
        "talker",
        "cat > " + marker +
            "\n"  // the pack config arrives on stdin
            "echo '{\"trigger\": \"ext.tick\", \"payload\": {\"n\": 1}, \"trace_tag\": \"tag-1\"}'\n"
            "echo 'this is not the protocol'\n"
            "echo '{\"trigger\": \"ext.tick\", \"paylaod\": {\"n\": 2}}'\n"
            "echo '{\"trigger\": \"ext.tick\", \"payload\": {\"n\": \"three\"}}'\n"
            "echo '{\"trigger\": \"ext.nope\", \"payload\": {\"n\": 4}}'\n"
            "echo 'to the log' >&2\n"
            "echo '{\"trigger\": \"ext.tick\", \"payload\": {\"n\": 5}}'\n"
            "while :; do sleep 1; done\n"
    );
    SensorHost& host = Host("a");
    host.Start();
    // (The counters move just after the instance is stored: wait for both.)
    ASSERT_TRUE(WaitFor(
        [&] { return Instances("ext.tick").size() == 2 && host.stats().invalid == 2 && host.stats().dispatched == 2; },
        10s
    )) << host.stats().dispatched
       << " " << host.stats().invalid;
    const std::vector<Json> ticks = Instances("ext.tick");
    EXPECT_EQ(ticks[0]["payload"], Json({{"n", 1}}));
    EXPECT_EQ(ticks[0]["trace_tag"], "tag-1");
    EXPECT_EQ(ticks[1]["payload"], Json({{"n", 5}}));
    const SensorHost::Stats stats = host.stats();
    EXPECT_EQ(stats.dispatched, 2u);
    EXPECT_EQ(stats.malformed, 2u);
    EXPECT_EQ(host.MalformedOf("ext.talker"), 2u);
    EXPECT_EQ(stats.invalid, 2u);  // the schema refused "three"; ext.nope is not a registered trigger type
    EXPECT_EQ(stats.running, 1u);
    EXPECT_EQ(test::ReadFile(marker), "{}\n");  // no config: an empty object

    // core.st2.sensor.process_spawn for the process, with StackStorm's fields.
    ASSERT_TRUE(WaitFor([&] { return Instances("core.st2.sensor.process_spawn").size() == 1; }, 5s));
    const Json spawn = Instances("core.st2.sensor.process_spawn")[0]["payload"];
    EXPECT_EQ(spawn["ref"], "ext.talker");
    EXPECT_EQ(spawn["id"], "talker");
    EXPECT_GT(spawn["pid"].get<int>(), 0);
    EXPECT_EQ(spawn["cmd"], Script("talker"));
    EXPECT_TRUE(Instances("core.st2.sensor.process_exit").empty());
    EXPECT_EQ(test::LiveProcessesMatching(Script("talker")).size(), 1u);

    // Disabling the sensor (here: removing it) stops its process.
    fs::remove(pack_ / "sensors" / "talker.yaml");
    Register();
    ASSERT_TRUE(WaitFor([&] { return host.stats().running == 0 && host.stats().exited == 1; }, 10s));
    ASSERT_TRUE(WaitFor([&] { return test::LiveProcessesMatching(Script("talker")).empty(); }, 5s));
    ASSERT_TRUE(WaitFor([&] { return Instances("core.st2.sensor.process_exit").size() == 1; }, 5s));
    EXPECT_EQ(Instances("core.st2.sensor.process_exit")[0]["payload"]["exit_code"], -SIGTERM);
}

TEST_F(SensorHostTest, ASensorThatExitsIsRestartedWithExponentialBackoff) {
    const std::string starts = (dir_.path() / "starts").string();
    AddSensor(
        "flaky", "date +%s%N >> " + starts + "\necho '{\"trigger\": \"ext.tick\", \"payload\": {\"n\": 1}}'\nexit 3\n"
    );
    SensorHost& host = Host("a");
    host.Start();
    std::vector<int64_t> at;
    ASSERT_TRUE(WaitFor(
        [&] {
            at.clear();
            std::ifstream in(starts);
            for (int64_t ns = 0; in >> ns;) at.push_back(ns / 1000000);
            return at.size() >= 5;
        },
        20s
    )) << host.stats().spawned;
    // Delays 100, 200, 400 ms, then capped at 400 ms: each restart waits at least that long.
    const std::vector<int64_t> floor = {100, 200, 400, 400};
    for (size_t i = 0; i < floor.size(); ++i) {
        EXPECT_GE(at[i + 1] - at[i], floor[i] - 5) << "between start " << i << " and " << i + 1;
    }
    EXPECT_LT(at[4] - at[3], 3000) << "the backoff is capped at 400 ms";
    ASSERT_TRUE(WaitFor([&] { return Instances("core.st2.sensor.process_exit").size() >= 4; }, 5s));
    for (const auto& e : Instances("core.st2.sensor.process_exit")) EXPECT_EQ(e["payload"]["exit_code"], 3);
    EXPECT_GE(Instances("ext.tick").size(), 4u);
}

TEST_F(SensorHostTest, StopSendsSigtermThenSigkillAfterTheGrace) {
    const std::string cleaned = (dir_.path() / "cleaned").string();
    const std::string ready = (dir_.path() / "ready").string();
    AddSensor(
        "polite",
        "trap 'echo bye > " + cleaned + "; exit 0' TERM\necho p >> " + ready + "\nwhile :; do sleep 0.05; done\n"
    );
    AddSensor("stubborn", "trap '' TERM\necho s >> " + ready + "\nwhile :; do sleep 0.05; done\n");
    SensorHost& host = Host("a");
    host.Start();
    // Both set their traps.
    ASSERT_TRUE(WaitFor([&] { return test::ReadFile(ready).size() == 4; }, 10s));
    const auto before = std::chrono::steady_clock::now();
    host.Stop();
    const auto took = std::chrono::steady_clock::now() - before;
    EXPECT_GE(took, 250ms) << "the stubborn sensor had its grace";
    EXPECT_LT(took, 5s);
    EXPECT_EQ(test::ReadFile(cleaned), "bye\n");
    EXPECT_TRUE(test::LiveProcessesMatching(Script("polite")).empty());
    EXPECT_TRUE(test::LiveProcessesMatching(Script("stubborn")).empty());
    std::map<std::string, int> codes;
    for (const auto& e : Instances("core.st2.sensor.process_exit")) {
        codes[e["payload"]["ref"]] = e["payload"]["exit_code"];
    }
    EXPECT_EQ(codes["ext.polite"], 0);
    EXPECT_EQ(codes["ext.stubborn"], -SIGKILL);
    // The leases were given up.
    Result<core::RedisReply> keys = client_->CommandBlocking({"KEYS", "*sensors:lease:*"});
    ASSERT_TRUE(keys);
    EXPECT_TRUE(keys->elements.empty());
}

TEST_F(SensorHostTest, TwoRolesShareTheSensorsAndEachRunsExactlyOnce) {
    AddSensor("one", "while :; do sleep 0.05; done\n");
    AddSensor("two", "while :; do sleep 0.05; done\n");
    SensorHost& a = Host("a");
    SensorHost& b = Host("b");
    a.Start();
    b.Start();
    // Each role ends up with one of the two (the first may take both before it sees the second, then hands one
    // back).
    bool once = true;
    ASSERT_TRUE(WaitFor(
        [&] {
            once = once && Copies(Script("one")) <= 1 && Copies(Script("two")) <= 1;
            return a.stats().running == 1 && b.stats().running == 1 && Copies(Script("one")) == 1 &&
                   Copies(Script("two")) == 1;
        },
        15s
    )) << a.stats().running
       << " " << b.stats().running;
    EXPECT_TRUE(once) << "a sensor ran twice at once";

    // One role goes: the other takes its sensor over.
    a.Stop();
    ASSERT_TRUE(WaitFor(
        [&] {
            once = once && Copies(Script("one")) <= 1 && Copies(Script("two")) <= 1;
            return b.stats().running == 2 && Copies(Script("one")) == 1 && Copies(Script("two")) == 1;
        },
        15s
    ));
    EXPECT_TRUE(once) << "a sensor ran twice at once";
}

TEST_F(SensorHostTest, ARoleThatLosesItsLeaseStopsTheSensor) {
    AddSensor("one", "while :; do sleep 0.05; done\n");
    SensorHost& a = Host("a");
    a.Start();
    ASSERT_TRUE(WaitFor([&] { return a.stats().running == 1; }, 10s));
    // Another role holds the lease now (as after a pause longer than the lease): this one must stop at once.
    Result<core::RedisReply> keys = client_->CommandBlocking({"KEYS", "*sensors:lease:ext.one"});
    ASSERT_TRUE(keys);
    ASSERT_EQ(keys->elements.size(), 1u);
    ASSERT_TRUE(client_->CommandBlocking({"SET", keys->elements[0].str, "someone-else", "PX", "60000"}));
    ASSERT_TRUE(WaitFor([&] { return a.stats().running == 0 && a.stats().exited == 1; }, 5s));
    ASSERT_TRUE(WaitFor([&] { return test::LiveProcessesMatching(Script("one")).empty(); }, 5s));
    // And it does not take the sensor back while the other holds it, nor release the other's lease.
    // (Several passes of 50 ms: waits for the violation, ending at once if it happens.)
    EXPECT_FALSE(WaitFor([&] { return a.stats().spawned > 1; }, 500ms));
    Result<core::RedisReply> holder = client_->CommandBlocking({"GET", keys->elements[0].str});
    ASSERT_TRUE(holder);
    EXPECT_EQ(holder->str, "someone-else");
}

}  // namespace
}  // namespace squall::sensors

namespace squall::sensors {
namespace {

TEST_F(SensorHostTest, APythonSensorRunsThroughTheWrapperAndOneThatCannotLoadExitsWithCode2) {
    test::WriteFile(
        pack_ / "sensors" / "good.yaml",
        "---\nclass_name: Good\nentry_point: good.py\npoll_interval: 1\ntrigger_types:\n  - name: polled\n"
        "    payload_schema:\n      type: object\n      properties:\n        n: {type: integer}\n"
    );
    test::WriteFile(
        pack_ / "sensors" / "good.py",
        "from st2reactor.sensor.base import PollingSensor\n\n\nclass Good(PollingSensor):\n"
        "    def setup(self):\n        self.n = 0\n\n"
        "    def poll(self):\n        self.n += 1\n"
        "        self.sensor_service.dispatch('ext.polled', {'n': self.n, 'every': self.get_poll_interval()})\n"
        "        self.sensor_service.dispatch('ext.polled', {'n': 'not a number'})\n\n"
        "    def cleanup(self):\n        pass\n\n    def add_trigger(self, t):\n        pass\n\n"
        "    def update_trigger(self, t):\n        pass\n\n    def remove_trigger(self, t):\n        pass\n"
    );
    test::WriteFile(pack_ / "sensors" / "bad.yaml", "---\nclass_name: Missing\nentry_point: bad.py\n");
    test::WriteFile(
        pack_ / "sensors" / "bad.py", "from st2reactor.sensor.base import Sensor\n\n\nclass Other(Sensor):\n    pass\n"
    );
    Register();
    SensorHost& host = Host("a");
    host.Start();
    ASSERT_TRUE(WaitFor([&] { return Instances("ext.polled").size() >= 2; }, 20s));
    const std::vector<Json> polled = Instances("ext.polled");
    EXPECT_EQ(polled[0]["payload"], Json({{"n", 1}, {"every", 1}}));
    EXPECT_EQ(polled[1]["payload"], Json({{"n", 2}, {"every", 1}}));
    // The schema refused every "not a number". The second comes right after the second valid instance, on the same
    // stream from the sensor: once seen stored, that one may not be read yet (CI saw 1 of 2).
    EXPECT_TRUE(WaitFor([&] { return host.stats().invalid >= 2u; }, 5s)) << host.stats().invalid;
    ASSERT_TRUE(WaitFor(
        [&] {
            for (const auto& e : Instances("core.st2.sensor.process_exit")) {
                if (e["payload"]["ref"] == "ext.Missing" && e["payload"]["exit_code"] == 2) return true;
            }
            return false;
        },
        20s
    ));
}

}  // namespace
}  // namespace squall::sensors
