#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "builtin_runners.hpp"
#include "common/shell_common.hpp"
#include "squall/core/process/supervisor.hpp"

namespace squall::actionrunners {
namespace {

/// The words of `script`'s `#!` line (interpreter and options); empty without one. Reads at most one line.
std::vector<std::string> Shebang(const std::string& script) {
    std::ifstream in(script);
    std::string first;
    std::vector<std::string> words;
    if (!in || !std::getline(in, first) || first.rfind("#!", 0) != 0) return words;
    std::istringstream line(first.substr(2));
    for (std::string w; line >> w;) words.push_back(w);
    return words;
}

/// How to start `script`: itself when executable, else its `#!` interpreter (StackStorm packs often lose the
/// execute bit in git checkouts), else bash.
std::vector<std::string> ScriptCommand(const std::string& script) {
    if (::access(script.c_str(), X_OK) == 0) return {script};
    std::vector<std::string> argv = Shebang(script);
    if (argv.empty()) return {"/bin/bash", script};
    argv.push_back(script);
    return argv;
}

/// The shell a script names in its `#!` line (`/bin/bash -e`, `/usr/bin/env bash`, `/bin/sh`), with its options;
/// none for other interpreters or without a `#!` line.
std::optional<std::vector<std::string>> ShellOf(const std::string& script) {
    std::vector<std::string> tokens = Shebang(script);
    if (tokens.empty()) return std::nullopt;
    auto is_shell = [](const std::string& path) {
        const std::string name = std::filesystem::path(path).filename().string();
        return name == "bash" || name == "sh" || name == "dash";
    };
    if (is_shell(tokens[0])) return tokens;
    if (std::filesystem::path(tokens[0]).filename() == "env" && tokens.size() >= 2 && is_shell(tokens[1]) &&
        std::find(tokens.begin(), tokens.end(), "-S") == tokens.end())
        return tokens;
    return std::nullopt;
}

/// `s` single-quoted for sh.
std::string ShellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// local-shell-script: runs the action's entry_point (under the pack's actions/ folder) with the action
/// parameters as arguments (ScriptArguments), as StackStorm does. When an argument holds a secret and the script is
/// a shell script (bash/sh `#!`), the arguments travel in the environment instead (`ST2_ACTION_ARGS`, quoted), and
/// the shell sets them as `$@` before it sources the script, so that `ps` shows no secret; other interpreters get
/// them as arguments (visible in `ps` on this host while the script runs). Secrets are masked in everything the
/// run produces.
class LocalShellScriptRunner final : public Runner {
public:
    LocalShellScriptRunner(core::ProcessSupervisor& supervisor, std::set<std::string> runner_params)
        : supervisor_(supervisor), runner_params_(std::move(runner_params)) {}

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        const std::string entry = req.action.value("entry_point", "");
        const std::string pack_path = PackPath(req);
        const double timeout_s = TimeoutSeconds(p, 60.0);
        const std::string script = pack_path + "/actions/" + entry;
        if (entry.empty() || pack_path.empty() || ::access(script.c_str(), F_OK) != 0) {
            core::ExecutionResult r;
            r.status = core::status::kFailed;
            r.result = {
                {"stdout", ""},
                {"stderr", ""},
                {"return_code", -1},
                {"succeeded", false},
                {"failed", true},
                {"error",
                 entry.empty() || pack_path.empty()
                     ? "action \"" + req.action_ref + "\" has no " + (entry.empty() ? "entry_point" : "pack path") +
                           " (runner local-shell-script)"
                     : "script " + script + " (entry_point of action \"" + req.action_ref + "\") does not exist"}};
            return cb.on_done(std::move(r));
        }
        const std::string kwarg_op =
            p.contains("kwarg_op") && p["kwarg_op"].is_string() ? p["kwarg_op"].get<std::string>() : std::string("--");
        core::ProcessSpec spec;
        const std::vector<std::string> args = ScriptArguments(req.action, p, runner_params_, kwarg_op);
        spec.argv = BuildArgv(script, args, p, spec.stdin_data);
        spec.env = ActionEnv(req);
        spec.cwd = p.contains("cwd") && p["cwd"].is_string() ? p["cwd"].get<std::string>() : std::string();
        spec.timeout = ToMillis(timeout_s);
        spec.secrets = req.secret_values;
        std::string shown;
        for (const auto& a : spec.argv) shown += (shown.empty() ? "" : " ") + a;
        shown = core::MaskSecrets(shown, req.secret_values);
        const bool secret_arg = std::any_of(args.begin(), args.end(), [&](const std::string& a) {
            return HoldsSecret(a, req.secret_values);
        });
        if (secret_arg && !core::BoolOr(p, "sudo", false)) {
            if (std::optional<std::vector<std::string>> shell = ShellOf(script)) {
                std::string quoted;
                for (const auto& a : args) quoted += (quoted.empty() ? "" : " ") + ShellQuote(a);
                spec.env["ST2_ACTION_ARGS"] = quoted;
                spec.argv = std::move(*shell);
                spec.argv.insert(
                    spec.argv.end(),
                    {"-c", "eval \"set -- $ST2_ACTION_ARGS\"; . \"$0\"", std::filesystem::absolute(script).string()}
                );
            }
        }
        const std::string id = req.execution_id;
        runs_.Begin(id);
        auto h = supervisor_.Start(
            std::move(spec),
            std::move(cb.on_output),
            [this, id, shown, timeout_s, on_done = std::move(cb.on_done)](core::ProcessOutcome o) {
                runs_.Forget(id);
                on_done(ShellResult(o, shown, timeout_s));
            }
        );
        if (!runs_.Add(id, h)) supervisor_.Cancel(h);
    }

    void Cancel(const std::string& execution_id) override { runs_.CancelAll(execution_id, supervisor_); }

    /// The argv for `script` with `args`: `sudo -E --` in front when the `sudo` parameter is true (`-S` with the
    /// password on stdin when `sudo_password` is given, never in argv).
    static std::vector<std::string> BuildArgv(
        const std::string& script,
        const std::vector<std::string>& args,
        const Json& p,
        std::optional<std::string>& stdin_data
    ) {
        std::vector<std::string> argv;
        if (core::BoolOr(p, "sudo", false)) {
            argv = {"sudo"};
            if (p.contains("sudo_password") && p["sudo_password"].is_string()) {
                argv.push_back("-S");
                stdin_data = p["sudo_password"].get<std::string>() + "\n";
            }
            argv.insert(argv.end(), {"-E", "--"});
        }
        for (auto& a : ScriptCommand(script)) argv.push_back(std::move(a));
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

private:
    core::ProcessSupervisor& supervisor_;
    const std::set<std::string> runner_params_;
    RunHandles runs_;
};

}  // namespace

std::vector<std::string> LocalShellScriptArgvForTest(
    const std::string& script, const std::vector<std::string>& args, const Json& parameters
) {
    std::optional<std::string> stdin_data;
    return LocalShellScriptRunner::BuildArgv(script, args, parameters, stdin_data);
}

RunnerFactory LocalShellScriptFactory() {
    RunnerFactory f;
    f.info.name = "local-shell-script";
    f.info.description = "A runner to execute local actions as a fixed user.";
    f.info.parameters = {
        {"cwd", {{"type", "string"}, {"description", "Working directory where the script will be executed in."}}},
        {"env", {{"type", "object"}, {"description", "Environment variables which will be available to the script."}}},
        {"kwarg_op",
         {{"type", "string"}, {"default", "--"}, {"description", "Operator to use in front of keyword args."}}},
        {"sudo", {{"type", "boolean"}, {"default", false}, {"description", "The script will be executed with sudo."}}},
        {"sudo_password",
         {{"type", "string"}, {"secret", true}, {"required", false}, {"description", "Sudo password."}}},
        {"timeout", {{"type", "integer"}, {"default", 60}, {"description", "Action timeout in seconds."}}},
    };
    f.create = [names = ParameterNames(f.info.parameters)](RunnerServices& s) {
        return std::make_unique<LocalShellScriptRunner>(s.supervisor, names);
    };
    return f;
}

}  // namespace squall::actionrunners
