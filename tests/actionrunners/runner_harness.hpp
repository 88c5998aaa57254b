#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "builtin_runners.hpp"
#include "io_runner.hpp"
#include "squall/actionrunners/runner.hpp"
#include "squall/core/process/supervisor.hpp"
#include "wait.hpp"

namespace squall::actionrunners::test {

/// The test pack under tests/cases/actions (scripts and python actions the runner tests execute).
inline std::string TestPackPath() {
    return std::string(SQUALL_SOURCE_DIR) + "/tests/cases/actions/squall_test";
}

/// What one run reported.
struct RunReport {
    core::ExecutionResult result;
    std::vector<std::pair<std::string, std::string>> lines;  ///< (stream, line) as streamed

    std::vector<std::string> Lines(const std::string& stream) const {
        std::vector<std::string> out;
        for (const auto& [s, l] : lines) {
            if (s == stream) out.push_back(l);
        }
        return out;
    }
};

/// Built-in runners on a real io_context and core::ProcessSupervisor, as the container wires them (no Redis).
class RunnerHarness {
public:
    explicit RunnerHarness(std::string data_dir = "")
        : services_{io_.io(), supervisor_, nullptr, std::move(data_dir), {}} {
        RegisterBuiltinRunners(registry_);
    }
    ~RunnerHarness() {
        runners_.clear();
        supervisor_.KillAll();
    }

    Runner& Get(const std::string& name) {
        auto it = runners_.find(name);
        if (it == runners_.end()) {
            const RunnerFactory* f = registry_.Find(name);
            EXPECT_NE(f, nullptr) << name;
            it = runners_.emplace(name, f->create(services_)).first;
        }
        return *it->second;
    }

    /// Starts a run; Wait() returns its report.
    struct Pending {
        std::mutex mu;
        bool done = false;
        RunReport report;
    };
    std::shared_ptr<Pending> Start(const std::string& runner, const RunRequest& req) {
        auto pending = std::make_shared<Pending>();
        RunCallbacks cb;
        cb.on_output = [pending](std::string_view stream, std::string line) {
            std::lock_guard lock(pending->mu);
            pending->report.lines.emplace_back(std::string(stream), std::move(line));
        };
        cb.on_done = [pending](core::ExecutionResult r) {
            std::lock_guard lock(pending->mu);
            EXPECT_FALSE(pending->done) << "on_done called twice";
            pending->report.result = std::move(r);
            pending->done = true;
        };
        Runner& r = Get(runner);
        asio::post(io_.io(), [&r, req, cb = std::move(cb)]() mutable { r.Run(req, std::move(cb)); });
        return pending;
    }

    static std::optional<RunReport> Wait(
        const std::shared_ptr<Pending>& p, std::chrono::milliseconds limit = std::chrono::seconds(60)
    ) {
        const bool ok = squall::test::WaitFor(
            [&] {
                std::lock_guard lock(p->mu);
                return p->done;
            },
            limit
        );
        if (!ok) return std::nullopt;
        std::lock_guard lock(p->mu);
        return p->report;
    }

    /// Runs and waits (fails the test when it does not finish within `limit`).
    RunReport Run(
        const std::string& runner, const RunRequest& req, std::chrono::milliseconds limit = std::chrono::seconds(60)
    ) {
        std::optional<RunReport> r = Wait(Start(runner, req), limit);
        EXPECT_TRUE(r.has_value()) << runner << " did not finish";
        return r.value_or(RunReport{});
    }

    asio::io_context& io() { return io_.io(); }
    core::ProcessSupervisor& supervisor() { return supervisor_; }
    RunnerRegistry& registry() { return registry_; }

private:
    squall::test::IoRunner io_{2};
    core::ProcessSupervisor supervisor_{io_.io()};
    RunnerServices services_;
    RunnerRegistry registry_;
    std::map<std::string, RunnerPtr> runners_;
};

/// A RunRequest for an action of the test pack.
inline RunRequest ActionRequest(
    const std::string& name,
    const std::string& runner,
    const std::string& entry_point,
    Json action_params_schema,
    Json parameters
) {
    // `{}` in a braced call makes a JSON null; runners get objects from the container.
    if (action_params_schema.is_null()) action_params_schema = Json::object();
    if (parameters.is_null()) parameters = Json::object();
    RunRequest r;
    r.execution_id = "exec-" + name;
    r.action_ref = "squall_test." + name;
    r.action = {
        {"name", name},
        {"pack", "squall_test"},
        {"ref", r.action_ref},
        {"runner_type", runner},
        {"entry_point", entry_point},
        {"parameters", std::move(action_params_schema)},
        {"pack_path", TestPackPath()}};
    r.parameters = std::move(parameters);
    r.context = {{"user", "tester"}};
    return r;
}

}  // namespace squall::actionrunners::test
