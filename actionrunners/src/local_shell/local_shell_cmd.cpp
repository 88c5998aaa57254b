#include "builtin_runners.hpp"
#include "common/shell_common.hpp"
#include "squall/core/process/supervisor.hpp"

namespace squall::actionrunners {
namespace {

class LocalShellCmdRunner final : public Runner {
public:
    explicit LocalShellCmdRunner(core::ProcessSupervisor& supervisor) : supervisor_(supervisor) {}

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        std::string cmd = p.contains("cmd") ? ParamString(p["cmd"]) : std::string();
        core::ProcessSpec spec;
        spec.env = ActionEnv(req);
        // A command holding a secret (`echo {{ password }}` rendered) would show it in `ps`: the shell then gets
        // it through its environment and evaluates it, and `ps` shows only `eval "$ST2_ACTION_CMD"`.
        std::string argv_cmd = cmd;
        if (HoldsSecret(cmd, req.secret_values)) {
            spec.env["ST2_ACTION_CMD"] = cmd;
            argv_cmd = "eval \"$ST2_ACTION_CMD\"";
        }
        // As StackStorm runs it: its own user's command through Python's shell=True (`/bin/sh -c`), a sudo one as
        // `sudo -E -- bash -c` (st2's ShellCommandAction). A bashism that fails under StackStorm fails here too, and
        // a command costs a dash start-up rather than a bash one.
        const bool sudo = core::BoolOr(p, "sudo", false);
        // A simple command of plain words runs as sh would run it, without the shell's own process
        // (PlainCommandArgv; docs/decisions.md).
        std::vector<std::string> plain =
            sudo || argv_cmd != cmd ? std::vector<std::string>() : PlainCommandArgv(cmd, spec.env);
        spec.argv = sudo             ? std::vector<std::string>{"sudo", "-E", "--", "/bin/bash", "-c", argv_cmd}
                    : !plain.empty() ? std::move(plain)
                                     : std::vector<std::string>{"/bin/sh", "-c", argv_cmd};
        if (sudo && p.contains("sudo_password") && p["sudo_password"].is_string()) {
            spec.argv = {"sudo", "-S", "-E", "--", "/bin/bash", "-c", argv_cmd};
            spec.stdin_data = p["sudo_password"].get<std::string>() + "\n";
        }
        spec.cwd = p.contains("cwd") && p["cwd"].is_string() ? p["cwd"].get<std::string>() : std::string();
        const double timeout_s = TimeoutSeconds(p, 60.0);
        spec.timeout = ToMillis(timeout_s);
        spec.secrets = req.secret_values;
        const std::string shown_cmd = core::MaskSecrets(cmd, req.secret_values);
        const std::string id = req.execution_id;
        runs_.Begin(id);
        core::ProcessSupervisor::Handle h = supervisor_.Start(
            std::move(spec),
            std::move(cb.on_output),
            [this, id, shown_cmd, timeout_s, on_done = std::move(cb.on_done)](core::ProcessOutcome o) {
                runs_.Forget(id);
                on_done(ShellResult(o, shown_cmd, timeout_s));
            }
        );
        if (!runs_.Add(id, h)) supervisor_.Cancel(h);
    }

    void Cancel(const std::string& execution_id) override { runs_.CancelAll(execution_id, supervisor_); }

private:
    core::ProcessSupervisor& supervisor_;
    RunHandles runs_;
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
