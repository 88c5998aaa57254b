#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "builtin_runners.hpp"
#include "common/shell_common.hpp"
#include "squall/core/input.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/process/supervisor.hpp"

#ifndef SQUALL_PYTHON_WRAPPER_DIR
#error "SQUALL_PYTHON_WRAPPER_DIR must point at actionrunners/python"
#endif

namespace squall::actionrunners {
namespace {

/// StackStorm's ACTION_OUTPUT_RESULT_DELIMITER: the wrapper prints the result JSON between two of these.
constexpr std::string_view kDelimiter = "%%%%%~=~=~=************=~=~=~%%%%";
constexpr int kExitLoadError = 2;  // squall_python_wrapper.py: the action could not be loaded

std::string WrapperDir() {
    if (const char* d = std::getenv("SQUALL_PYTHON_WRAPPER_DIR"); d && *d) return d;  // NOLINT(concurrency-mt-unsafe)
    return SQUALL_PYTHON_WRAPPER_DIR;
}

/// Drops the wrapper's result line from the streamed stdout (it can span several delivered lines when huge).
class ResultLineFilter {
public:
    explicit ResultLineFilter(core::ProcessSupervisor::LineCallback out) : out_(std::move(out)) {}
    void operator()(std::string_view stream, std::string line) {
        if (stream != "stdout") return out_(stream, std::move(line));
        if (line.find(kDelimiter) == std::string::npos) {
            if (!inside_) out_(stream, std::move(line));
            return;
        }
        std::string kept;  // what the action printed on the same line before the result
        size_t pos = 0;
        while (true) {
            const size_t d = line.find(kDelimiter, pos);
            if (!inside_) kept += line.substr(pos, d == std::string::npos ? std::string::npos : d - pos);
            if (d == std::string::npos) break;
            inside_ = !inside_;
            pos = d + kDelimiter.size();
        }
        if (!kept.empty()) out_(stream, std::move(kept));
    }

private:
    core::ProcessSupervisor::LineCallback out_;
    bool inside_ = false;
};

class PythonScriptRunner final : public Runner {
public:
    PythonScriptRunner(core::ProcessSupervisor& supervisor, std::string data_dir, std::set<std::string> runner_params)
        : supervisor_(supervisor), data_dir_(std::move(data_dir)), runner_params_(std::move(runner_params)) {}

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        const std::string entry = req.action.value("entry_point", "");
        const std::string pack = req.action.value("pack", "");
        const std::string pack_path = PackPath(req);
        const double timeout_s = TimeoutSeconds(p, 600.0);
        if (entry.empty() || pack_path.empty()) {
            return cb.on_done(Failure(
                "action \"" + req.action_ref + "\" has no " + (entry.empty() ? "entry_point" : "pack path") +
                " (runner python-script)"
            ));
        }
        const std::string file = pack_path + "/actions/" + entry;
        Json action_params = Json::object();
        for (const auto& [k, v] : p.items()) {
            if (!runner_params_.count(k)) action_params[k] = v;
        }
        // StackStorm calls run() with every parameter the action declares: one with no value and no default is
        // None (st2common/util/param.py gives each declared parameter a value), which overrides run()'s own default.
        if (const auto it = req.action.find("parameters"); it != req.action.end() && it->is_object()) {
            for (const auto& [k, schema] : it->items()) {
                if (!runner_params_.count(k) && !action_params.contains(k)) action_params[k] = nullptr;
            }
        }
        const Json input = {
            {"pack", pack},
            {"pack_path", pack_path},
            {"file_path", file},
            {"parameters", action_params},
            {"config", req.config},
            {"log_level", p.value("log_level", "DEBUG")},
            {"user", req.context.value("user", "")},
        };

        core::ProcessSpec spec;
        spec.argv = {Interpreter(pack), "-u", WrapperDir() + "/squall_python_wrapper.py"};
        spec.env = ActionEnv(req);
        spec.env.erase("PYTHONPATH");  // as StackStorm: the wrapper's path, not the user's
        spec.env["PYTHONPATH"] = WrapperDir();
        spec.env["PYTHONDONTWRITEBYTECODE"] = "1";
        spec.stdin_data = input.dump(-1, ' ', false, Json::error_handler_t::replace);
        spec.cwd = p.contains("cwd") && p["cwd"].is_string() ? p["cwd"].get<std::string>() : std::string();
        spec.timeout = ToMillis(timeout_s);
        spec.secrets = req.secret_values;
        if (!req.auth_token.empty()) spec.secrets.push_back(req.auth_token);
        spec.keep_raw_stdout = true;  // the result is parsed from it, then masked

        const std::string id = req.execution_id;
        const std::vector<std::string> secrets = spec.secrets;
        const std::string shown = "python action " + pack + "/actions/" + entry;
        auto filter = std::make_shared<ResultLineFilter>(std::move(cb.on_output));
        runs_.Begin(id);
        auto h = supervisor_.Start(
            std::move(spec),
            [filter](std::string_view stream, std::string line) { (*filter)(stream, std::move(line)); },
            [this, id, shown, timeout_s, secrets, on_done = std::move(cb.on_done)](core::ProcessOutcome o) {
                runs_.Forget(id);
                on_done(Interpret(o, shown, timeout_s, core::SecretMasker(secrets)));
            }
        );
        if (!runs_.Add(id, h)) supervisor_.Cancel(h);
    }

    void Cancel(const std::string& execution_id) override { runs_.CancelAll(execution_id, supervisor_); }

    /// The python-script result (reference §4): {result, stdout, stderr, exit_code}, plus `error` when it failed.
    /// The result is read from the unmasked stdout and masked once parsed (`masker`), so that a secret never
    /// breaks the JSON the wrapper printed nor hides in its escapes.
    static core::ExecutionResult Interpret(
        const core::ProcessOutcome& o, const std::string& shown, double timeout_s, const core::SecretMasker& masker
    ) {
        if (o.spawn_error) return Failure("could not start " + shown + ": " + o.spawn_error->message);
        core::ExecutionResult r;
        std::string out = o.stdout_raw;
        Json result;  // null when the wrapper printed none (crash, timeout)
        bool action_status = false;
        const size_t first = out.find(kDelimiter);
        const size_t second = first == std::string::npos ? first : out.find(kDelimiter, first + kDelimiter.size());
        if (second != std::string::npos) {
            const std::string payload = out.substr(first + kDelimiter.size(), second - first - kDelimiter.size());
            std::string rest = out.substr(second + kDelimiter.size());
            if (!rest.empty() && rest.front() == '\n') rest.erase(0, 1);
            out = out.substr(0, first) + rest;
            // The action's output is input like any other: depth and numbers bounded (a result nested 100,000
            // deep would overflow the stack when the record is serialized).
            Result<Json> read =
                core::ParseJsonLimited(payload, "action result", {core::JsonLimits::kDefaultMaxDepth, SIZE_MAX});
            const Json parsed = read ? std::move(*read) : Json();
            if (parsed.is_object()) {
                result = parsed.value("result", Json());
                action_status = core::BoolOr(parsed, "status", false);
            } else {
                result = payload;  // as StackStorm: an unparsable result is kept as a string
            }
            masker.Value(result);
            out = masker.Text(std::move(out));
        } else {
            out = o.stdout_data;  // no result printed: the supervisor's masked capture (truncation marker included)
        }
        r.result = {{"result", result}, {"stdout", out}, {"stderr", o.stderr_data}, {"exit_code", o.exit_code}};
        if (o.stdout_truncated || o.stderr_truncated) r.result["result_truncated"] = true;
        const std::string tail = Tail(o.stderr_data);
        if (o.timed_out) {
            r.status = core::status::kTimeout;
            r.result["error"] = "Action failed to complete in " + FormatSeconds(timeout_s) + " seconds: " + shown +
                                " was killed (process group) with exit code -9";
        } else if (o.canceled) {
            r.status = core::status::kCanceled;
            r.result["error"] = shown + " was canceled";
        } else if (o.exit_code == kExitLoadError) {
            r.status = core::status::kFailed;
            r.result["error"] = shown + " could not be loaded: " + Tail(o.stderr_data, 1);
        } else if (o.exit_code != 0) {
            r.status = core::status::kFailed;
            r.result["error"] = shown + " raised an exception (exit code " + std::to_string(o.exit_code) +
                                "): " + Tail(o.stderr_data, 1) + "\nTraceback (last lines):\n" + tail;
        } else if (second == std::string::npos) {
            r.status = core::status::kFailed;
            r.result["error"] = shown + " exited without printing its result";
        } else {
            r.status = action_status ? core::status::kSucceeded : core::status::kFailed;
        }
        return r;
    }

private:
    static core::ExecutionResult Failure(const std::string& error) {
        core::ExecutionResult r;
        r.status = core::status::kFailed;
        r.result = {{"result", nullptr}, {"stdout", ""}, {"stderr", ""}, {"exit_code", -1}, {"error", error}};
        return r;
    }

    /// The pack's virtualenv interpreter when there is one (<data_dir>/virtualenvs/<pack>/bin/python), else
    /// $SQUALL_PYTHON, else python3 on PATH.
    std::string Interpreter(const std::string& pack) const {
        if (!data_dir_.empty() && !pack.empty()) {
            const std::string venv = data_dir_ + "/virtualenvs/" + pack + "/bin/python";
            if (::access(venv.c_str(), X_OK) == 0) return venv;
        }
        if (const char* py = std::getenv("SQUALL_PYTHON"); py && *py) return py;  // NOLINT(concurrency-mt-unsafe)
        return "python3";
    }

    core::ProcessSupervisor& supervisor_;
    const std::string data_dir_;
    const std::set<std::string> runner_params_;
    RunHandles runs_;
};

}  // namespace

RunnerFactory PythonScriptFactory() {
    RunnerFactory f;
    f.info.name = "python-script";
    f.info.description = "A runner for launching python actions.";
    f.info.parameters = {
        {"env", {{"type", "object"}, {"description", "Environment variables which will be available to the script."}}},
        {"timeout", {{"type", "integer"}, {"default", 600}, {"description", "Action timeout in seconds."}}},
        {"log_level",
         {{"type", "string"},
          {"default", "DEBUG"},
          {"enum", {"AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}},
          {"description", "Default log level for Python runner actions."}}},
        {"debug", {{"type", "boolean"}, {"default", false}, {"description", "Enable runner debug mode."}}},
        {"content_version",
         {{"type", "string"}, {"description", "Git revision of the pack content to use for this action execution."}}},
    };
    f.create = [names = ParameterNames(f.info.parameters)](RunnerServices& s) {
        return std::make_unique<PythonScriptRunner>(s.supervisor, s.data_dir, names);
    };
    return f;
}

}  // namespace squall::actionrunners
