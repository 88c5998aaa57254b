// The sensors role end to end (issue 13 items 4, 5, 7): two real `squall server --roles sensors` processes share
// an external sensor and the survivor takes it over within 10 s of a kill -9; a StackStorm Python sensor (Sensor and
// PollingSensor, written as StackStorm's hello_st2 / examples sensors are) from a pack installed with
// `squall pack install` dispatches triggers that fire a rule's action.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "files.hpp"
#include "git_repo.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;
using namespace std::chrono_literals;

Json Get(const SquallProcess& server, const std::string& path) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", server.api_key()}});
    if (!r || r->status != 200) return nullptr;
    return Json::parse(r->body, nullptr, false);
}

std::vector<Json> Instances(const SquallProcess& server, const std::string& trigger) {
    std::vector<Json> out;
    const Json list = Get(server, "/triggerinstances?limit=1000&trigger=" + trigger);
    if (!list.is_array()) return out;
    for (auto it = list.rbegin(); it != list.rend(); ++it) out.push_back(*it);  // oldest first
    return out;
}

/// Sensor processes running `script`, without the shell's short-lived forks (same command line until exec).
size_t Copies(const std::string& script) {
    const std::vector<pid_t> pids = LiveProcessesMatching(script);
    const std::set<pid_t> all(pids.begin(), pids.end());
    size_t n = 0;
    for (pid_t pid : pids) {
        const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
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

TEST(SensorHostIntegrationTest, TheSurvivingSensorsRoleTakesAKilledRolesSensorOver) {
    TempDir dir;
    RedisServer redis;
    auto options = [&](const std::string& name, const std::string& roles) {
        SquallProcess::Options o;
        o.data_dir = (dir.path() / name).string();
        o.redis_url = "unix://" + redis.socket_path();
        o.extra_args = {"--roles", roles};
        return o;
    };
    // The pack sits in the API server's data dir (it registers it); the sensors roles run it from there.
    const fs::path pack = dir.path() / "api" / "packs" / "ext";
    WriteFile(pack / "pack.yaml", "---\nref: ext\nname: ext\nversion: 0.1.0\n");
    WriteFile(
        pack / "sensors" / "beat.yaml",
        "---\nname: beat\nentry_point: beat.sh\ntrigger_types:\n  - name: beat\n    payload_schema:\n"
        "      type: object\n      properties:\n        pid: {type: integer}\n      required: [pid]\n"
    );
    const fs::path script = pack / "sensors" / "beat.sh";
    WriteFile(
        script,
        "#!/bin/sh\nwhile :; do echo \"{\\\"trigger\\\": \\\"ext.beat\\\", \\\"payload\\\": {\\\"pid\\\": $$}}\"; "
        "sleep 0.2; done\n"
    );
    fs::permissions(script, fs::perms::owner_all);

    SquallProcess api(options("api", "api"));
    auto first = std::make_unique<SquallProcess>(options("s1", "sensors"));
    auto second = std::make_unique<SquallProcess>(options("s2", "sensors"));
    bool once = true;
    auto watch = [&] { once = once && Copies(script.string()) <= 1; };
    ASSERT_TRUE(WaitFor(
        [&] {
            watch();
            return Instances(api, "ext.beat").size() >= 3;
        },
        20s
    ));
    const char* kTaken = "sensor lease taken sensor=ext.beat";
    const bool first_holds = first->Output().find(kTaken) != std::string::npos;
    const bool second_holds = second->Output().find(kTaken) != std::string::npos;
    ASSERT_NE(first_holds, second_holds) << first->Output() << "\n----\n" << second->Output();
    std::unique_ptr<SquallProcess>& holder = first_holds ? first : second;
    std::unique_ptr<SquallProcess>& standby = first_holds ? second : first;
    EXPECT_NE(holder->Output().find("sensor process started sensor=ext.beat"), std::string::npos);
    const int old_pid = Instances(api, "ext.beat").back()["payload"]["pid"];
    // process_spawn went to the triggers stream too.
    ASSERT_TRUE(WaitFor([&] { return !Instances(api, "core.st2.sensor.process_spawn").empty(); }, 5s));
    EXPECT_EQ(Instances(api, "core.st2.sensor.process_spawn")[0]["payload"]["ref"], "ext.beat");

    holder->Kill();  // kill -9: no release, the lease has to expire
    const auto killed = std::chrono::steady_clock::now();
    // The sensor dies with its role (it must not run on beside the new holder's copy).
    ASSERT_TRUE(WaitFor([&] { return ::kill(old_pid, 0) != 0; }, 5s)) << "the killed role's sensor lives on";
    ASSERT_TRUE(WaitFor(
        [&] {
            watch();
            return standby->Output().find("sensor process started sensor=ext.beat") != std::string::npos;
        },
        15s
    )) << standby->Output();
    EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s) << "the standby took longer than 10 s to take over";
    ASSERT_TRUE(WaitFor(
        [&] {
            watch();
            const std::vector<Json> beats = Instances(api, "ext.beat");
            return !beats.empty() && beats.back()["payload"]["pid"] != old_pid;
        },
        10s
    ));
    EXPECT_TRUE(once) << "the sensor ran twice at once";
    EXPECT_EQ(standby->Stop(), 0);
    EXPECT_EQ(Copies(script.string()), 0u) << "a stopped role left its sensor running";
}

constexpr const char* kHelloSensor = R"py(import eventlet

from st2reactor.sensor.base import Sensor


class HelloSensor(Sensor):
    def __init__(self, sensor_service, config):
        super(HelloSensor, self).__init__(sensor_service=sensor_service, config=config)
        self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)
        self._stop = False

    def setup(self):
        self._greeting = self._config.get("greeting", "none")
        self._who = self._config.get("who", "none")

    def run(self):
        while not self._stop:
            self._logger.debug("HelloSensor dispatching trigger...")
            count = self.sensor_service.get_value("hello_py.count") or 0
            payload = {"greeting": self._greeting, "who": self._who, "count": int(count) + 1}
            self.sensor_service.dispatch(trigger="hello_py.event1", payload=payload)
            self.sensor_service.set_value("hello_py.count", payload["count"])
            eventlet.sleep(0.5)

    def cleanup(self):
        self._stop = True

    def add_trigger(self, trigger):
        self.sensor_service.set_value("added", trigger["type"], local=False)
        self.sensor_service.set_value("added_id", trigger["id"], local=False)

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
)py";

constexpr const char* kPoller = R"py(import os

from st2reactor.sensor.base import PollingSensor


class Poller(PollingSensor):
    def __init__(self, sensor_service, config, poll_interval=20):
        super(Poller, self).__init__(sensor_service=sensor_service, config=config, poll_interval=poll_interval)
        self.n = None

    def setup(self):
        self.n = 0
        self.logger = self.sensor_service.get_logger(name=self.__class__.__name__)

    def poll(self):
        self.n += 1
        print("printed by the sensor, not a trigger")
        self.sensor_service.dispatch(
            trigger={"name": "polled", "pack": "hello_py"},
            payload={"n": self.n, "interval": self.get_poll_interval()},
            trace_tag="poll-%d" % self.n,
        )

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
)py";

TEST(SensorHostIntegrationTest, AStackStormPythonSensorFromAnInstalledPackFiresARule) {
    TempDir repos;
    TempDir data;
    const fs::path repo = repos.path() / "hello_py";
    fs::create_directories(repo);
    Git(repo, {"init", "-q"});
    WriteFile(repo / "pack.yaml", "---\nref: hello_py\nname: hello_py\nversion: 1.0.0\nauthor: t\n");
    // `who` reads the datastore: the sensor gets the value, as StackStorm's sensor wrapper renders its config.
    WriteFile(
        repo / "config.schema.yaml",
        "---\ngreeting:\n  type: string\n  default: \"Yo, Squall!\"\nwho:\n  type: string\n"
        "  default: \"{{ st2kv.system.sensor_who }}\"\n"
    );
    WriteFile(
        repo / "sensors" / "sensor1.yaml",
        "---\nclass_name: \"HelloSensor\"\nentry_point: \"sensor1.py\"\ndescription: \"Test sensor that emits "
        "triggers.\"\ntrigger_types:\n  -\n    name: \"event1\"\n    description: \"An example trigger.\"\n"
        "    payload_schema:\n      type: \"object\"\n      properties:\n        count: {type: integer}\n"
    );
    WriteFile(repo / "sensors" / "sensor1.py", kHelloSensor);
    WriteFile(
        repo / "sensors" / "poller.yaml",
        "---\nclass_name: \"Poller\"\nentry_point: \"poller.py\"\npoll_interval: 1\ntrigger_types:\n"
        "  - name: \"polled\"\n    payload_schema:\n      type: \"object\"\n"
    );
    WriteFile(repo / "sensors" / "poller.py", kPoller);
    WriteFile(
        repo / "rules" / "on_event.yaml",
        "---\nname: on_event\npack: hello_py\nenabled: true\ntrigger:\n  type: hello_py.event1\ncriteria:\n"
        "  trigger.count:\n    type: gt\n    pattern: 1\naction:\n  ref: core.local\n  parameters:\n"
        "    cmd: \"echo '{{ trigger.greeting }} {{ trigger.who }} #{{ trigger.count }}'\"\n"
    );
    Git(repo, {"add", "-A"});
    Git(repo, {"commit", "-q", "-m", "v1"});

    SquallProcess server({data.path().string(), "", {}});
    ASSERT_EQ(server.Cli({"key", "set", "sensor_who", "kv-world"}).exit_code, 0);
    CliResult install = server.Cli({"pack", "install", "file://" + repo.string()});
    ASSERT_EQ(install.exit_code, 0) << install.out << install.err;

    // The rule fires once the datastore counter reached 2: an execution of core.local that says the config's
    // greeting and the count.
    Json done;
    ASSERT_TRUE(WaitFor(
        [&] {
            const Json list = Get(server, "/executions?action=core.local&limit=50");
            if (!list.is_array()) return false;
            for (const auto& e : list) {
                if (e["status"] == "succeeded") {
                    done = e;
                    return true;
                }
            }
            return false;
        },
        60s
    )) << server.Output();
    const std::string stdout_text = done["result"]["stdout"];
    EXPECT_NE(stdout_text.find("Yo, Squall! kv-world #"), std::string::npos) << stdout_text;
    EXPECT_TRUE(done["context"].contains("rule")) << done.dump();

    // get_value/set_value with local keys ("<pack>.<Class>:<name>"), as StackStorm's datastore service.
    const Json count = Get(server, "/keys/hello_py.HelloSensor:hello_py.count");
    ASSERT_TRUE(count.is_object()) << server.Output();
    EXPECT_GE(std::stoi(count["value"].get<std::string>()), 2);
    // add_trigger was called for the rule's trigger before setup().
    const Json added = Get(server, "/keys/added");
    ASSERT_TRUE(added.is_object());
    EXPECT_EQ(added["value"], "hello_py.event1");
    // The trigger it got is the one GET /triggers names (same id).
    const Json added_id = Get(server, "/keys/added_id");
    ASSERT_TRUE(added_id.is_object());
    EXPECT_EQ(added_id["value"], Get(server, "/triggers/hello_py.event1")["id"]);

    // The polling sensor: poll() every poll_interval (1 s), a trigger given as {name, pack}, trace tags.
    ASSERT_TRUE(WaitFor([&] { return Instances(server, "hello_py.polled").size() >= 2; }, 30s));
    const std::vector<Json> polled = Instances(server, "hello_py.polled");
    EXPECT_EQ(polled[0]["payload"]["n"], 1);
    EXPECT_EQ(polled[0]["payload"]["interval"], 1);
    EXPECT_EQ(polled[0]["trace_tag"], "poll-1");
    // What the sensor printed went to the log with its name, not into the protocol.
    EXPECT_NE(
        server.Output().find("sensor stderr sensor=hello_py.Poller line=\"printed by the sensor"), std::string::npos
    );
    EXPECT_EQ(server.Output().find("malformed"), std::string::npos) << server.Output();

    // A process_spawn instance for each of the two Python sensors.
    std::set<std::string> spawned;
    for (const auto& ti : Instances(server, "core.st2.sensor.process_spawn")) spawned.insert(ti["payload"]["ref"]);
    EXPECT_TRUE(spawned.count("hello_py.HelloSensor"));
    EXPECT_TRUE(spawned.count("hello_py.Poller"));
    const std::string script = (data.path() / "packs" / "hello_py" / "sensors" / "sensor1.py").string();
    EXPECT_EQ(Copies(script), 1u);

    // `st2 sensor disable` (PUT /sensortypes/{ref}, the whole sensor sent back, only `enabled` taken): the process
    // ends; enabled again, it starts again.
    const std::string poller = (data.path() / "packs" / "hello_py" / "sensors" / "poller.py").string();
    ASSERT_TRUE(WaitFor([&] { return Copies(poller) == 1; }, 15s));
    httplib::Client c(server.host(), server.port());
    Json sensor = Get(server, "/sensortypes/hello_py.Poller");
    ASSERT_EQ(sensor["enabled"], true) << sensor.dump();
    sensor["enabled"] = false;
    sensor["description"] = "not taken";
    auto off = c.Put(
        "/api/v1/sensortypes/hello_py.Poller", {{"St2-Api-Key", server.api_key()}}, sensor.dump(), "application/json"
    );
    ASSERT_TRUE(off);
    ASSERT_EQ(off->status, 200) << off->body;
    EXPECT_EQ(Json::parse(off->body)["enabled"], false);
    EXPECT_NE(Json::parse(off->body)["description"], "not taken");
    ASSERT_TRUE(WaitFor([&] { return Copies(poller) == 0; }, 15s)) << server.Output();
    EXPECT_EQ(Copies(script), 1u);  // the other sensor runs on
    auto on = c.Put(
        "/api/v1/sensortypes/hello_py.Poller",
        {{"St2-Api-Key", server.api_key()}},
        R"({"enabled": true})",
        "application/json"
    );
    ASSERT_EQ(on->status, 200) << on->body;
    ASSERT_TRUE(WaitFor([&] { return Copies(poller) == 1; }, 15s)) << server.Output();
    auto bad = c.Put(
        "/api/v1/sensortypes/hello_py.Nope",
        {{"St2-Api-Key", server.api_key()}},
        R"({"enabled": true})",
        "application/json"
    );
    EXPECT_EQ(bad->status, 404);

    // Removing the pack stops its sensors; cleanup() runs (SIGTERM), the processes end.
    CliResult remove = server.Cli({"pack", "remove", "hello_py"});
    ASSERT_EQ(remove.exit_code, 0) << remove.out << remove.err;
    ASSERT_TRUE(WaitFor([&] { return Copies(script) == 0; }, 15s));
    EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace squall::test
