#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "builtin_runners.hpp"
#include "common/process_supervisor.hpp"

extern char** environ;  // NOLINT: POSIX process environment, read once per run

namespace squall::actionrunners {
namespace {

/// The last `max_lines` lines of `text`, for error messages.
std::string Tail(const std::string& text, size_t max_lines = 10) {
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;
    size_t lines = 0;
    while (pos > 0) {
        if (text[pos - 1] == '\n' && ++lines == max_lines) break;
        --pos;
    }
    std::string out = text.substr(pos);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string Str(const Json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

class LocalShellCmdRunner final : public Runner {
public:
    explicit LocalShellCmdRunner(ProcessSupervisor& supervisor) : supervisor_(supervisor) {}

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        std::string cmd = p.contains("cmd") ? Str(p["cmd"]) : std::string();
        ProcessSpec spec;
        const bool sudo = p.value("sudo", false);
        spec.argv = sudo ? std::vector<std::string>{"sudo", "-E", "--", "/bin/bash", "-c", cmd}
                         : std::vector<std::string>{"/bin/bash", "-c", cmd};
        spec.env = BaseEnv();
        if (p.contains("env") && p["env"].is_object()) {
            for (const auto& [k, v] : p["env"].items()) spec.env[k] = Str(v);
        }
        spec.env["ST2_ACTION_PACK_NAME"] = req.action.value("pack", "");
        spec.env["ST2_ACTION_EXECUTION_ID"] = req.execution_id;
        spec.env["ST2_ACTION_API_URL"] = req.api_url;
        if (sudo && p.contains("sudo_password") && p["sudo_password"].is_string()) {
            spec.argv = {"sudo", "-S", "-E", "--", "/bin/bash", "-c", cmd};
            spec.stdin_data = p["sudo_password"].get<std::string>() + "\n";
        }
        spec.cwd = p.contains("cwd") && p["cwd"].is_string() ? p["cwd"].get<std::string>() : std::string();
        const double timeout_s = p.contains("timeout") && p["timeout"].is_number() ? p["timeout"].get<double>() : 60.0;
        spec.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
        spec.secrets = req.secret_values;
        const std::string shown_cmd = MaskSecrets(cmd, req.secret_values);
        const std::string id = req.execution_id;
        auto on_done = std::move(cb.on_done);
        ProcessSupervisor::Handle h = supervisor_.Start(
            std::move(spec),
            std::move(cb.on_output),
            [this, id, shown_cmd, timeout_s, on_done = std::move(on_done)](ProcessOutcome o) {
                {
                    std::lock_guard lock(mu_);
                    handles_.erase(id);
                }
                on_done(Interpret(o, shown_cmd, timeout_s));
            }
        );
        std::lock_guard lock(mu_);
        handles_[id] = h;
    }

    void Cancel(const std::string& execution_id) override {
        ProcessSupervisor::Handle h = 0;
        {
            std::lock_guard lock(mu_);
            auto it = handles_.find(execution_id);
            if (it == handles_.end()) return;
            h = it->second;
        }
        supervisor_.Cancel(h);
    }

private:
    static std::map<std::string, std::string> BaseEnv() {
        std::map<std::string, std::string> env;
        for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME", "SHELL", "TMPDIR"}) {
            if (const char* v = std::getenv(name)) env[name] = v;  // NOLINT(concurrency-mt-unsafe): read-only env
        }
        if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        return env;
    }

    static core::ExecutionResult Interpret(const ProcessOutcome& o, const std::string& cmd, double timeout_s) {
        core::ExecutionResult r;
        if (o.spawn_error) {
            r.status = core::status::kFailed;
            r.result = {
                {"stdout", ""},
                {"stderr", ""},
                {"return_code", -1},
                {"succeeded", false},
                {"failed", true},
                {"error", "could not start `" + cmd + "`: " + o.spawn_error->message}};
            return r;
        }
        const bool ok = !o.timed_out && !o.canceled && o.exit_code == 0;
        r.result = {
            {"stdout", o.stdout_data},
            {"stderr", o.stderr_data},
            {"return_code", o.exit_code},
            {"succeeded", ok},
            {"failed", !ok},
        };
        // Drop the single trailing newline, as StackStorm's shell runner does.
        for (const char* k : {"stdout", "stderr"}) {
            std::string s = r.result[k];
            if (!s.empty() && s.back() == '\n') s.pop_back();
            r.result[k] = s;
        }
        if (o.timed_out) {
            r.status = core::status::kTimeout;
            char buf[64];
            std::snprintf(buf, sizeof(buf), "%g", timeout_s);
            r.result["error"] = "Action failed to complete in " + std::string(buf) + " seconds: `" + cmd +
                                "` was killed (process group) with exit code -9";
        } else if (o.canceled) {
            r.status = core::status::kCanceled;
            r.result["error"] = "`" + cmd + "` was canceled";
        } else if (!ok) {
            r.status = core::status::kFailed;
            std::string err = "`" + cmd + "` exited with code " + std::to_string(o.exit_code);
            const std::string tail = Tail(o.stderr_data);
            if (!tail.empty()) err += "; stderr (last lines):\n" + tail;
            r.result["error"] = err;
        } else {
            r.status = core::status::kSucceeded;
        }
        return r;
    }

    ProcessSupervisor& supervisor_;
    std::mutex mu_;
    std::map<std::string, ProcessSupervisor::Handle> handles_;
};

}  // namespace

RunnerFactory LocalShellCmdFactory() {
    RunnerFactory f;
    f.info.name = "local-shell-cmd";
    f.info.description = "A runner to execute local actions as a fixed user.";
    f.info.parameters = {
        {"cmd", {{"type", "string"}, {"description", "Arbitrary Linux command to be executed on the host."}}},
        {"cwd", {{"type", "string"}, {"description", "Working directory where the command will be executed in."}}},
        {"env", {{"type", "object"}, {"description", "Environment variables which will be available to the command."}}},
        {"kwarg_op",
         {{"type", "string"}, {"default", "--"}, {"description", "Operator to use in front of keyword args."}}},
        {"sudo", {{"type", "boolean"}, {"default", false}, {"description", "The command will be executed with sudo."}}},
        {"sudo_password",
         {{"type", "string"}, {"secret", true}, {"required", false}, {"description", "Sudo password."}}},
        {"timeout", {{"type", "integer"}, {"default", 60}, {"description", "Action timeout in seconds."}}},
    };
    f.create = [](RunnerServices& s) { return std::make_unique<LocalShellCmdRunner>(s.supervisor); };
    return f;
}

}  // namespace squall::actionrunners
