// pack-manager: the runner behind the bundled `packs` pack (install, uninstall, register), as StackStorm's
// packs.install / packs.uninstall / packs.load actions.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "builtin_runners.hpp"
#include "squall/core/log.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/installer.hpp"
#include "squall/packs/loader.hpp"
#include "squall/packs/references.hpp"

namespace squall::actionrunners {
namespace {

namespace fs = std::filesystem;
using Output = std::function<void(std::string_view, std::string)>;

/// One run: its worker thread and its cancel flag.
struct Job {
    std::atomic<bool> cancel{false};
    std::atomic<bool> finished{false};
    std::thread thread;
};

Json PackSummary(const packs::LoadedPack& p, const std::string& commit, bool skipped) {
    Json actions = Json::array();
    for (const auto& a : p.actions) actions.push_back(a.Ref());
    Json rules = Json::array();
    for (const auto& r : p.rules) rules.push_back(r.Ref());
    Json errors = Json::array();
    for (const auto& e : p.errors) errors.push_back(e.What());
    Json warnings = Json::array();
    for (const auto& w : p.warnings) warnings.push_back(w.What());
    Json out = {
        {"version", p.meta.version},
        {"path", p.meta.path},
        {"actions", actions},
        {"rules", rules},
        {"load_errors", errors},
        {"load_warnings", warnings}};
    if (!commit.empty()) out["commit"] = commit;
    if (skipped) out["skipped"] = true;
    return out;
}

core::ExecutionResult Failed(const std::string& message, Json errors = Json::array()) {
    if (errors.empty()) errors.push_back(message);
    return core::ExecutionResult{core::status::kFailed, {{"error", message}, {"errors", errors}}};
}

/// The runner. Each run gets its own worker thread: libgit2, file I/O and the blocking Redis calls of
/// ContentStore never touch the io_context's threads. Output lines are sent from that worker thread, in
/// order (RedisClient may be used from any thread); on_done is posted to the io_context.
class PackManagerRunner final : public Runner {
public:
    explicit PackManagerRunner(RunnerServices& s)
        : io_(s.io),
          redis_(s.redis),
          data_dir_(s.data_dir),
          check_rule_(s.check_rule),
          check_workflow_(s.check_workflow) {}

    ~PackManagerRunner() override {
        std::map<std::string, std::shared_ptr<Job>> jobs;
        {
            std::lock_guard lock(mu_);
            jobs.swap(jobs_);
        }
        for (auto& [id, job] : jobs) job->cancel = true;
        for (auto& [id, job] : jobs) {
            if (!job->thread.joinable()) continue;
            // The last reference to the container may be dropped by a worker as it finishes, which destroys
            // this runner on that worker's own thread: it cannot join itself.
            if (job->thread.get_id() == std::this_thread::get_id()) {
                job->thread.detach();
            } else {
                job->thread.join();
            }
        }
    }

    void Run(const RunRequest& req, RunCallbacks cb) override {
        ReapFinished();
        auto job = std::make_shared<Job>();
        std::lock_guard lock(mu_);
        jobs_[req.execution_id] = job;
        job->thread = std::thread([this, job, req, cb = std::move(cb)]() mutable {
            core::ExecutionResult result = Execute(req, cb.on_output, job->cancel);
            if (job->cancel.load() && result.status != core::status::kSucceeded) {
                result.status = core::status::kCanceled;
            }
            asio::post(io_, [done = std::move(cb.on_done), result = std::move(result)]() mutable {
                done(std::move(result));
            });
            cb.on_output = nullptr;
            job->finished = true;
        });
    }

    void Cancel(const std::string& execution_id) override {
        std::lock_guard lock(mu_);
        auto it = jobs_.find(execution_id);
        if (it != jobs_.end()) it->second->cancel = true;
    }

private:
    void ReapFinished() {
        std::vector<std::shared_ptr<Job>> done;
        {
            std::lock_guard lock(mu_);
            for (auto it = jobs_.begin(); it != jobs_.end();) {
                if (it->second->finished.load()) {
                    done.push_back(it->second);
                    it = jobs_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& j : done) j->thread.join();  // the thread has finished its work: this returns at once
    }

    core::ExecutionResult Execute(const RunRequest& req, const Output& out, const std::atomic<bool>& cancel) {
        const Json& p = req.parameters;
        const std::string op = p.value("operation", "");
        if (data_dir_.empty()) return Failed("pack-manager: this runner has no data dir configured");
        std::vector<std::string> names;
        if (p.contains("packs") && p["packs"].is_array()) {
            for (const auto& v : p["packs"]) {
                if (!v.is_string()) return Failed("parameter \"packs\": every item must be a string");
                names.push_back(v.get<std::string>());
            }
        }
        auto progress = [&out](const std::string& line) { out("stdout", line); };
        packs::ContentStore content(redis_);
        if (op == "install") {
            if (names.empty()) return Failed("parameter \"packs\": give at least one pack source");
            return Install(names, p, content, progress, cancel);
        }
        if (op == "uninstall") {
            if (names.empty()) return Failed("parameter \"packs\": give at least one pack ref");
            return Uninstall(names, content, progress);
        }
        if (op == "register") return Register(names, content, progress);
        return Failed("parameter \"operation\": must be install, uninstall or register (got \"" + op + "\")");
    }

    /// Runner types registered in Redis (what every runner process offers).
    static Result<std::set<std::string>> RunnerTypes(packs::ContentStore& content) {
        Result<packs::ContentSnapshotPtr> snap = content.LoadBlocking();
        if (!snap) return snap.error();
        std::set<std::string> out;
        for (const auto& [name, rt] : (*snap)->runner_types) out.insert(name);
        return out;
    }

    /// Runner type → its parameters' schemas (PackLoaderOptions::runner_parameters); empty when unreadable.
    static std::map<std::string, Json> RunnerParameters(packs::ContentStore& content) {
        std::map<std::string, Json> out;
        if (Result<packs::ContentSnapshotPtr> snap = content.LoadBlocking(); snap) {
            for (const auto& [name, rt] : (*snap)->runner_types)
                out[name] = rt.value("runner_parameters", Json::object());
        }
        return out;
    }

    core::ExecutionResult Install(
        const std::vector<std::string>& specs,
        const Json& p,
        packs::ContentStore& content,
        const std::function<void(const std::string&)>& progress,
        const std::atomic<bool>& cancel
    ) {
        packs::InstallOptions opts;
        opts.force = p.contains("force") && p["force"].is_boolean() && p["force"].get<bool>();
        if (p.contains("timeout") && p["timeout"].is_number_integer() && p["timeout"].get<int64_t>() > 0) {
            opts.git_timeout = std::chrono::seconds(p["timeout"].get<int64_t>());
        }
        opts.cancel = &cancel;
        // The virtualenv's interpreter is the one python actions run with (SQUALL_PYTHON, else python3).
        if (const char* py = std::getenv("SQUALL_PYTHON"); py && *py) opts.virtualenv.python = py;  // NOLINT
        Result<std::set<std::string>> runner_types = RunnerTypes(content);
        if (!runner_types) return Failed("cannot read the registered runner types: " + runner_types.error().message);
        opts.runner_types = std::move(*runner_types);
        opts.runner_parameters = RunnerParameters(content);
        if (Result<packs::ContentSnapshotPtr> snap = content.LoadBlocking(); snap) {
            for (const auto& [ref, pack] : (*snap)->packs) opts.registered[ref] = pack.value("version", "");
            opts.known = Known(**snap);
        }
        opts.check_rule = check_rule_;
        opts.check_workflow = check_workflow_;
        packs::PackInstaller installer(data_dir_, progress);
        Result<std::vector<packs::InstalledPack>> installed = installer.InstallBlocking(specs, opts);
        if (!installed) {
            const std::string msg = installed.error().What();
            progress("install failed: " + msg);
            Json errors = Json::array();
            std::stringstream ss(msg);
            std::string line;
            bool first = true;
            while (std::getline(ss, line)) {
                // The first line says which pack; the indented ones are its errors.
                if (!first && line.rfind("  ", 0) == 0) line = line.substr(2);
                if (!line.empty()) errors.push_back(line);
                first = false;
            }
            return Failed(msg, errors);
        }
        Json result = {{"packs", Json::object()}};
        for (const auto& pack : *installed) {
            // Registering makes the pack's actions and rules live at once (the content version is bumped).
            std::vector<std::string> merged;  // a system pack's built-in content that wins over this pack's
            if (Status st = content.RegisterPackBlocking(pack.loaded, false, &merged); !st) {
                return Failed("installed " + pack.ref + " but cannot register it: " + st.error().message);
            }
            for (const auto& w : merged) progress("warning: " + w);
            progress(
                "registered " + pack.ref + ": " + std::to_string(pack.loaded.actions.size()) + " actions, " +
                std::to_string(pack.loaded.rules.size()) + " rules"
            );
            result["packs"][pack.ref] = PackSummary(pack.loaded, pack.commit, pack.skipped);
            for (auto& w : merged) result["packs"][pack.ref]["load_warnings"].push_back(std::move(w));
        }
        // StackStorm's packs.install workflow output, which st2client reads after `st2 pack install`.
        Json packs_list = Json::array();
        Json warning_list = Json::array();
        for (const auto& [ref, summary] : result["packs"].items()) {
            packs_list.push_back(ref);
            for (const auto& w : summary["load_warnings"]) warning_list.push_back(w);
        }
        result["output"] = {{"packs_list", packs_list}, {"warning_list", warning_list}};
        return core::ExecutionResult{core::status::kSucceeded, result};
    }

    /// What the registered content defines, for the rules' references (packs::CheckRuleReferences).
    static packs::KnownContent Known(const packs::ContentSnapshot& snap) {
        packs::KnownContent known;
        for (const auto& [ref, a] : snap.actions) known.actions.insert(ref);
        for (const auto& [ref, t] : snap.trigger_types) known.trigger_types.insert(ref);
        return known;
    }

    core::ExecutionResult Uninstall(
        const std::vector<std::string>& refs,
        packs::ContentStore& content,
        const std::function<void(const std::string&)>& progress
    ) {
        packs::PackInstaller installer(data_dir_, progress);
        Json result = {{"packs", Json::object()}};
        Json errors = Json::array();
        for (const auto& ref : refs) {
            if (Status st = installer.RemoveBlocking(ref); !st) {
                errors.push_back(st.error().What());
                progress("error: " + st.error().What());
                continue;
            }
            Status un = content.UnregisterPackBlocking(ref);
            if (!un && un.error().code != ErrorCode::kNotFound) {
                errors.push_back("removed " + ref + " but cannot unregister it: " + un.error().message);
                continue;
            }
            progress("unregistered " + ref);
            result["packs"][ref] = {{"removed", true}};
        }
        if (!errors.empty()) {
            core::ExecutionResult r =
                Failed(errors.size() == 1 ? errors[0].get<std::string>() : "some packs were not removed", errors);
            r.result["packs"] = result["packs"];
            return r;
        }
        return core::ExecutionResult{core::status::kSucceeded, result};
    }

    core::ExecutionResult Register(
        const std::vector<std::string>& refs,
        packs::ContentStore& content,
        const std::function<void(const std::string&)>& progress
    ) {
        Result<std::set<std::string>> runner_types = RunnerTypes(content);
        if (!runner_types) return Failed("cannot read the registered runner types: " + runner_types.error().message);
        const std::set<std::string> wanted(refs.begin(), refs.end());  // empty: every installed pack
        std::set<std::string> missing = wanted;
        Json result = {{"packs", Json::object()}, {"actions", 0}, {"rules", 0}};
        size_t actions = 0;
        size_t rules = 0;
        const packs::PackLoader loader(packs::PackLoaderOptions{
            (fs::path(data_dir_) / "configs").string(),
            std::move(*runner_types),
            check_rule_,
            check_workflow_,
            RunnerParameters(content)});
        std::vector<packs::LoadedPack> loaded_packs = loader.LoadAllBlocking((fs::path(data_dir_) / "packs").string());
        packs::KnownContent known;
        if (Result<packs::ContentSnapshotPtr> snap = content.LoadBlocking(); snap) known = Known(**snap);
        for (const auto& pack : loaded_packs) known.Add(pack);
        for (auto& pack : loaded_packs) {
            packs::CheckRuleReferences(pack, known);
            if (!wanted.empty() && !wanted.count(pack.meta.ref)) continue;
            missing.erase(pack.meta.ref);
            std::vector<std::string> merged;
            if (Status st = content.RegisterPackBlocking(pack, false, &merged); !st) {
                return Failed("cannot register " + pack.meta.ref + ": " + st.error().message);
            }
            for (const auto& w : merged) progress("warning: " + w);
            progress(
                "registered " + pack.meta.ref + ": " + std::to_string(pack.actions.size()) + " actions, " +
                std::to_string(pack.rules.size()) + " rules"
            );
            actions += pack.actions.size();
            rules += pack.rules.size();
            result["packs"][pack.meta.ref] = PackSummary(pack, "", false);
        }
        if (!missing.empty()) return Failed("pack \"" + *missing.begin() + "\" is not installed");
        result["actions"] = actions;
        result["rules"] = rules;
        return core::ExecutionResult{core::status::kSucceeded, result};
    }

    asio::io_context& io_;
    core::RedisClientPtr redis_;
    std::string data_dir_;
    packs::RuleCheck check_rule_;
    packs::WorkflowCheck check_workflow_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<Job>> jobs_;  // guarded by mu_
};

}  // namespace

RunnerFactory PackManagerFactory() {
    RunnerFactory f;
    f.info.name = "pack-manager";
    f.info.description = "Installs, removes and registers packs (the runner of the bundled `packs` pack).";
    f.info.parameters = {
        {"operation",
         {{"type", "string"},
          {"enum", {"install", "uninstall", "register"}},
          {"required", true},
          {"description", "What to do; each action of the packs pack fixes it (immutable)."}}},
        {"timeout",
         {{"type", "integer"}, {"default", 600}, {"description", "Deadline of each git clone, in seconds."}}},
    };
    f.create = [](RunnerServices& s) { return std::make_unique<PackManagerRunner>(s); };
    return f;
}

}  // namespace squall::actionrunners
