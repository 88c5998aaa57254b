// The timers role end to end (issue 13 item 3): the all-in-one server runs timer rules' actions; with two timers
// roles only one fires, and when it is killed the other takes over within 10 s without skipping or doubling a
// tick.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

Json Get(const SquallProcess& server, const std::string& path) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", server.api_key()}});
    if (!r || r->status != 200) return nullptr;
    return Json::parse(r->body, nullptr, false);
}

void AddRule(const SquallProcess& server, const Json& rule) {
    httplib::Client c(server.host(), server.port());
    auto r = c.Post("/api/v1/rules", {{"St2-Api-Key", server.api_key()}}, rule.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
}

/// executed_at of every stored instance of `trigger`, in seconds since the epoch.
std::vector<int64_t> Ticks(const SquallProcess& server, const std::string& trigger) {
    std::vector<int64_t> out;
    const Json list = Get(server, "/triggerinstances?limit=1000");
    if (!list.is_array()) return out;
    for (const auto& ti : list) {
        if (ti["trigger"] != trigger) continue;
        std::chrono::system_clock::time_point tp;
        EXPECT_TRUE(core::ParseIsoTimestamp(ti["payload"]["executed_at"].get<std::string>(), &tp));
        out.push_back(core::ToMicros(tp) / 1000000);
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(TimersIntegrationTest, TheAllInOneServerRunsATimerRulesAction) {
    TempDir dir;
    SquallProcess::Options o;
    o.data_dir = (dir.path() / "d").string();
    // An installed pack whose timer rule has a bad schedule: a load error naming the file, line and field.
    std::filesystem::create_directories(o.data_dir + "/packs/badtimer/rules");
    std::ofstream(o.data_dir + "/packs/badtimer/pack.yaml") << "---\nref: badtimer\nname: badtimer\nversion: 0.1.0\n";
    std::ofstream(o.data_dir + "/packs/badtimer/rules/bad.yaml")
        << "---\nname: bad\npack: badtimer\ntrigger:\n  type: core.st2.CronTimer\n  parameters:\n    minute: \"*/0\"\n"
           "action:\n  ref: core.noop\n";
    SquallProcess server(o);
    const Json pack = Get(server, "/packs/badtimer");
    ASSERT_TRUE(pack.is_object());
    ASSERT_EQ(pack["load_errors"].size(), 1u) << pack.dump(2);
    const std::string error = pack["load_errors"][0];
    EXPECT_NE(error.find("rules/bad.yaml:7:"), std::string::npos) << error;
    EXPECT_NE(error.find("trigger.parameters.minute: \"*/0\": the step must be at least 1"), std::string::npos)
        << error;
    EXPECT_TRUE(Get(server, "/rules/badtimer.bad").is_null()) << "a rule with a bad schedule was registered";
    AddRule(
        server,
        {{"name", "tick"},
         {"pack", "t"},
         {"trigger", {{"type", "core.st2.IntervalTimer"}, {"parameters", {{"unit", "seconds"}, {"delta", 1}}}}},
         {"action", {{"ref", "core.noop"}}}}
    );
    Json executions;
    ASSERT_TRUE(WaitFor(
        [&] {
            executions = Get(server, "/executions?limit=10");
            return executions.is_array() && executions.size() >= 2 &&
                   std::all_of(executions.begin(), executions.end(), [](const Json& e) {
                       return e["status"] == "succeeded";
                   });
        },
        30s
    )) << executions.dump();
    EXPECT_NE(executions[0].dump().find("core.noop"), std::string::npos) << executions[0].dump();
}

TEST(TimersIntegrationTest, ASecondTimersRoleTakesOverWithoutSkippingOrDoublingATick) {
    TempDir dir;
    RedisServer redis;
    auto options = [&](const std::string& name, const std::string& roles) {
        SquallProcess::Options o;
        o.data_dir = (dir.path() / name).string();
        o.redis_url = "unix://" + redis.socket_path();
        o.extra_args = {"--roles", roles};
        return o;
    };
    SquallProcess api(options("api", "api"));
    AddRule(
        api,
        {{"name", "every_second"},
         {"pack", "t"},
         {"trigger", {{"type", "core.st2.IntervalTimer"}, {"parameters", {{"unit", "seconds"}, {"delta", 1}}}}},
         {"action", {{"ref", "core.noop"}}}}
    );
    auto first = std::make_unique<SquallProcess>(options("t1", "timers"));
    auto second = std::make_unique<SquallProcess>(options("t2", "timers"));
    const char* kTaken = "timers lease taken";
    ASSERT_TRUE(WaitFor([&] { return Ticks(api, "core.st2.IntervalTimer").size() >= 3; }, 20s));
    // Exactly one of them holds the lease.
    const bool first_holds = first->Output().find(kTaken) != std::string::npos;
    const bool second_holds = second->Output().find(kTaken) != std::string::npos;
    ASSERT_NE(first_holds, second_holds) << first->Output() << "\n----\n" << second->Output();
    std::unique_ptr<SquallProcess>& holder = first_holds ? first : second;
    std::unique_ptr<SquallProcess>& standby = first_holds ? second : first;

    holder->Kill();  // kill -9: no release, the lease has to expire
    const auto killed = std::chrono::steady_clock::now();
    const size_t before = Ticks(api, "core.st2.IntervalTimer").size();
    ASSERT_TRUE(WaitFor([&] { return standby->Output().find(kTaken) != std::string::npos; }, 15s)) << standby->Output();
    EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s) << "the standby took longer than 10 s to take over";
    ASSERT_TRUE(WaitFor([&] { return Ticks(api, "core.st2.IntervalTimer").size() >= before + 3; }, 20s));
    EXPECT_EQ(standby->Stop(), 0);

    // Every second from the first tick to the last, once each: nothing skipped, nothing doubled.
    const std::vector<int64_t> ticks = Ticks(api, "core.st2.IntervalTimer");
    ASSERT_GE(ticks.size(), 6u);
    for (size_t i = 1; i < ticks.size(); ++i) {
        EXPECT_EQ(ticks[i] - ticks[i - 1], 1) << "between tick " << i - 1 << " and " << i;
    }
    EXPECT_EQ(std::set<int64_t>(ticks.begin(), ticks.end()).size(), ticks.size());
}

}  // namespace
}  // namespace squall::test
