#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>

#include "builtin_runners.hpp"
#include "common/shell_common.hpp"
#include "squall/core/process/supervisor.hpp"

namespace squall::actionrunners {
namespace {

std::string Quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string Trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

std::string CurrentUser() {
    if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;  // NOLINT(concurrency-mt-unsafe)
    return "root";
}

std::string Str(const Json& p, const char* name) {
    return p.contains(name) && p[name].is_string() ? p[name].get<std::string>() : std::string();
}

/// A heredoc terminator that does not occur in `text`.
std::string Terminator(const std::string& text) {
    std::random_device rd;
    while (true) {
        std::string t = "SQUALL_EOF_" + std::to_string(rd()) + std::to_string(rd());
        if (text.find(t) == std::string::npos) return t;
    }
}

/// One remote run: every host's result, and which host starts next when they run one after another.
struct RemoteRun {
    std::string execution_id;
    std::vector<std::string> hosts;
    std::string script;  ///< what `bash -s` reads on each host (stdin of ssh)
    double timeout_s = 60;
    bool parallel = true;
    std::vector<std::string> secrets;
    std::string key_file_to_remove;
    std::function<core::ProcessSpec(const std::string& host)> make_spec;
    core::ProcessSupervisor::LineCallback on_output;
    std::function<void(core::ExecutionResult)> on_done;
    // Exit callbacks (supervisor strand) and Run (starting parallel hosts) meet here.
    std::mutex mu;
    size_t next = 0;
    size_t remaining = 0;
    Json results = Json::object();
    bool any_timeout = false;
    bool any_canceled = false;
    bool any_failed = false;
};

/// remote-shell-cmd / remote-shell-script over the OpenSSH client: one `ssh host bash -s` per host, the command (or
/// the script, shipped in a heredoc, run and removed) written to its stdin, so that neither the command nor any
/// argument shows in this host's `ps`. Passwords and key passphrases go to sshpass through SSHPASS (env), key
/// material to a 0600 temp file removed after the run.
class RemoteShellRunner final : public Runner {
public:
    RemoteShellRunner(core::ProcessSupervisor& supervisor, bool script_mode, std::set<std::string> runner_params)
        : supervisor_(supervisor), script_mode_(script_mode), runner_params_(std::move(runner_params)) {}

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        auto run = std::make_shared<RemoteRun>();
        run->execution_id = req.execution_id;
        run->timeout_s = TimeoutSeconds(p, 60.0);
        run->parallel = core::BoolOr(p, "parallel", true);
        run->secrets = req.secret_values;
        for (const char* s : {"password", "private_key", "passphrase", "sudo_password"}) {
            if (!Str(p, s).empty()) run->secrets.push_back(Str(p, s));
        }
        run->on_output = std::move(cb.on_output);
        run->on_done = std::move(cb.on_done);
        std::stringstream hosts(p.contains("hosts") ? ParamString(p["hosts"]) : "");
        for (std::string h; std::getline(hosts, h, ',');) {
            if (!Trim(h).empty()) run->hosts.push_back(Trim(h));
        }
        if (run->hosts.empty()) return Fail(*run, "parameter \"hosts\" is required: a comma-separated list of hosts");

        Result<std::string> body = RemoteBody(req);
        if (!body) return Fail(*run, body.error().message);
        run->script = "{\nexec </dev/null\n" + *body + "\n}\n";

        Result<std::vector<std::string>> ssh = SshPrefix(p, *run);
        if (!ssh) return Fail(*run, ssh.error().message);
        std::map<std::string, std::string> env = BaseEnv();
        const std::string secret = !Str(p, "password").empty() ? Str(p, "password") : Str(p, "passphrase");
        if (!secret.empty()) env["SSHPASS"] = secret;
        const int default_port = p.contains("port") && p["port"].is_number_integer() ? p["port"].get<int>() : 22;
        run->make_spec = [run_ptr = run.get(), prefix = *ssh, env, default_port](const std::string& host) {
            core::ProcessSpec spec;
            spec.argv = prefix;
            std::string name = host;
            int port = default_port;
            // host:port (one colon; IPv6 literals go in brackets: [::1]:2222)
            if (const size_t colon = host.rfind(':');
                colon != std::string::npos && (host.find(':') == colon || host[0] == '[')) {
                name = host.substr(0, colon);
                port = std::atoi(host.c_str() + colon + 1);
            }
            if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
            spec.argv.insert(spec.argv.end(), {"-p", std::to_string(port), "--", name, "bash", "-s"});
            spec.env = env;
            spec.stdin_data = run_ptr->script;
            spec.timeout = ToMillis(run_ptr->timeout_s);
            spec.secrets = run_ptr->secrets;
            return spec;
        };
        runs_.Begin(run->execution_id);
        run->remaining = run->hosts.size();
        const size_t first_batch = run->parallel ? run->hosts.size() : 1;
        for (size_t i = 0; i < first_batch; ++i) StartNext(run);
    }

    void Cancel(const std::string& execution_id) override { runs_.CancelAll(execution_id, supervisor_); }

private:
    static void Fail(RemoteRun& run, const std::string& error) {
        core::ExecutionResult r;
        r.status = core::status::kFailed;
        r.result = {{"error", error + " (runner remote-shell)"}};
        run.on_done(std::move(r));
    }

    /// The shell text run on each host: cd, exports, then the command or the shipped script.
    Result<std::string> RemoteBody(const RunRequest& req) const {
        const Json& p = req.parameters;
        std::string setup;  // cd and exports, run in the command's subshell
        const std::string cwd = Str(p, "cwd");
        if (!cwd.empty()) setup += "cd " + Quote(cwd) + " || exit 1\n";
        std::map<std::string, std::string> env;
        if (p.contains("env") && p["env"].is_object()) {
            for (const auto& [k, v] : p["env"].items()) env[k] = ParamString(v);
        }
        env["ST2_ACTION_PACK_NAME"] = req.action.value("pack", "");
        env["ST2_ACTION_EXECUTION_ID"] = req.execution_id;
        env["ST2_ACTION_API_URL"] = req.api_url;
        for (const auto& [k, v] : env) {
            const bool valid_name = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
            });
            if (!valid_name) return InvalidArgument("parameter \"env\": \"" + k + "\" is not a variable name");
            setup += "export " + k + "=" + Quote(v) + "\n";
        }
        const bool sudo = core::BoolOr(p, "sudo", false);
        if (!script_mode_) {
            std::string command = p.contains("cmd") ? ParamString(p["cmd"]) : std::string();
            if (Trim(command).empty()) return InvalidArgument("parameter \"cmd\" is required");
            if (sudo) command = "sudo -E -- bash -c " + Quote(command);
            return "(\n" + setup + command + "\n)";
        }
        const std::string entry = req.action.value("entry_point", "");
        const std::string pack_path = PackPath(req);
        if (entry.empty() || pack_path.empty()) {
            return InvalidArgument("action \"" + req.action_ref + "\" has no entry_point or pack path");
        }
        const std::string file = pack_path + "/actions/" + entry;
        std::ifstream in(file, std::ios::binary);  // a small local script, read once per run
        if (!in) return InvalidArgument("cannot read script " + file);
        std::stringstream content;
        content << in.rdbuf();
        std::string text = content.str();
        if (!text.empty() && text.back() != '\n') text += "\n";
        std::string dir = Str(p, "dir");
        if (dir.empty()) dir = "/tmp";
        const std::string term = Terminator(text);
        const std::string kwarg_op =
            p.contains("kwarg_op") && p["kwarg_op"].is_string() ? p["kwarg_op"].get<std::string>() : std::string("--");
        std::string command = "\"$squall_script\"";
        for (const auto& a : ScriptArguments(req.action, p, runner_params_, kwarg_op)) command += " " + Quote(a);
        if (sudo) command = "sudo -E -- " + command;
        return "squall_script=$(mktemp " + Quote(dir + "/squall-XXXXXXXX") + ") || exit 1\n" +
               "cat > \"$squall_script\" <<'" + term + "'\n" + text + term + "\n" + "chmod 700 \"$squall_script\"\n" +
               "(\n" + setup + command + "\n)\n" + "squall_rc=$?\nrm -f \"$squall_script\"\nexit $squall_rc";
    }

    /// ssh (behind sshpass for a password or key passphrase) with its options; host, port and command are added
    /// per host.
    static Result<std::vector<std::string>> SshPrefix(const Json& p, RemoteRun& run) {
        std::vector<std::string> argv;
        const std::string password = Str(p, "password");
        const std::string passphrase = Str(p, "passphrase");
        if (!password.empty()) {
            argv = {"sshpass", "-e"};
        } else if (!passphrase.empty()) {
            argv = {"sshpass", "-P", "passphrase", "-e"};
        }
        const int connect_timeout = std::max(1, std::min(30, static_cast<int>(run.timeout_s)));
        argv.insert(
            argv.end(),
            {"ssh",
             "-T",
             "-o",
             "StrictHostKeyChecking=no",
             "-o",
             "UserKnownHostsFile=/dev/null",
             "-o",
             "LogLevel=ERROR",
             "-o",
             "ConnectTimeout=" + std::to_string(connect_timeout)}
        );
        if (!password.empty()) {
            argv.insert(
                argv.end(),
                {"-o",
                 "PubkeyAuthentication=no",
                 "-o",
                 "PreferredAuthentications=password,keyboard-interactive",
                 "-o",
                 "NumberOfPasswordPrompts=1"}
            );
        } else if (passphrase.empty()) {
            argv.insert(argv.end(), {"-o", "BatchMode=yes"});
        }
        const std::string key = Str(p, "private_key");
        if (!key.empty()) {
            std::string path = key;
            if (key.find("PRIVATE KEY") != std::string::npos) {
                // Key material: into a file only we can read, removed when the run ends.
                const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read-only env
                std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/squall-key-XXXXXX";
                const int fd = ::mkstemp(templ.data());
                if (fd < 0) return Internal("cannot create a temporary file for private_key");
                std::string material = key;
                if (material.back() != '\n') material += "\n";
                const bool written = ::fchmod(fd, 0600) == 0 && ::write(fd, material.data(), material.size()) ==
                                                                    static_cast<ssize_t>(material.size());
                ::close(fd);
                if (!written) {
                    ::unlink(templ.c_str());
                    return Internal("cannot write private_key to a temporary file");
                }
                path = templ;
                run.key_file_to_remove = templ;
            }
            argv.insert(argv.end(), {"-i", path, "-o", "IdentitiesOnly=yes"});
        }
        std::string user = Str(p, "username");
        if (user.empty()) user = CurrentUser();
        argv.insert(argv.end(), {"-l", user});
        return argv;
    }

    /// Starts the next host (called once per slot; sequential runs start the next host when one ends).
    void StartNext(const std::shared_ptr<RemoteRun>& run) {
        std::string host;
        {
            std::lock_guard lock(run->mu);
            if (run->next >= run->hosts.size()) return;
            host = run->hosts[run->next++];
        }
        if (runs_.Canceled(run->execution_id)) {
            core::ProcessOutcome o;
            o.canceled = true;
            return HostDone(run, host, o);
        }
        core::ProcessSpec spec = run->make_spec(host);
        std::string shown = "ssh " + host;
        auto h = supervisor_.Start(std::move(spec), run->on_output, [this, run, host](core::ProcessOutcome o) {
            HostDone(run, host, std::move(o));
        });
        if (!runs_.Add(run->execution_id, h)) supervisor_.Cancel(h);
    }

    void HostDone(const std::shared_ptr<RemoteRun>& run, const std::string& host, const core::ProcessOutcome& o) {
        core::ExecutionResult r = ShellResult(o, "ssh " + host, run->timeout_s);
        if (!o.spawn_error && !o.timed_out && !o.canceled && o.exit_code == 255) {
            r.result["error"] = "ssh to " + host + " failed (exit code 255: connection or authentication)" +
                                (Tail(o.stderr_data).empty() ? "" : ": " + Tail(o.stderr_data));
        } else if (!o.spawn_error && !o.timed_out && !o.canceled && o.exit_code == 5 && !run->secrets.empty() &&
                   o.stderr_data.empty()) {
            r.result["error"] = "ssh to " + host + " failed: sshpass reports an invalid password (exit code 5)";
        }
        bool last = false;
        {
            std::lock_guard lock(run->mu);
            run->any_timeout |= r.status == core::status::kTimeout;
            run->any_canceled |= r.status == core::status::kCanceled;
            run->any_failed |= r.status != core::status::kSucceeded;
            run->results[host] = std::move(r.result);
            last = --run->remaining == 0;
        }
        if (!last) {
            if (!run->parallel) StartNext(run);  // one after another: this host is done, start the next
            return;
        }
        runs_.Forget(run->execution_id);
        if (!run->key_file_to_remove.empty()) ::unlink(run->key_file_to_remove.c_str());
        core::ExecutionResult out;
        out.result = std::move(run->results);
        out.status = run->any_canceled  ? core::status::kCanceled
                     : run->any_timeout ? core::status::kTimeout
                     : run->any_failed  ? core::status::kFailed
                                        : core::status::kSucceeded;
        run->on_done(std::move(out));
    }

    core::ProcessSupervisor& supervisor_;
    const bool script_mode_;
    const std::set<std::string> runner_params_;
    RunHandles runs_;
};

Json RemoteParameters(bool script) {
    Json params = {
        {"hosts",
         {{"type", "string"},
          {"required", true},
          {"description", "A comma delimited string of a list of hosts where the remote command will be executed."}}},
        {"username", {{"type", "string"}, {"description", "Username used to log-in. Default: the runner's user."}}},
        {"password",
         {{"type", "string"},
          {"secret", true},
          {"description", "Password used to log in (through sshpass). If not provided, key based auth is used."}}},
        {"private_key",
         {{"type", "string"},
          {"secret", true},
          {"description", "Private key material or path to the private key file used to log in."}}},
        {"passphrase", {{"type", "string"}, {"secret", true}, {"description", "Passphrase for the private key."}}},
        {"port", {{"type", "integer"}, {"default", 22}, {"description", "SSH port (hosts may also say host:port)."}}},
        {"parallel",
         {{"type", "boolean"}, {"default", true}, {"description", "Run on all hosts at once (else one by one)."}}},
        {"cwd", {{"type", "string"}, {"description", "Working directory where the command will be executed."}}},
        {"env", {{"type", "object"}, {"description", "Environment variables which will be available to the command."}}},
        {"sudo", {{"type", "boolean"}, {"default", false}, {"description", "The command will be executed with sudo."}}},
        {"kwarg_op",
         {{"type", "string"}, {"default", "--"}, {"description", "Operator to use in front of keyword args."}}},
        {"timeout", {{"type", "integer"}, {"default", 60}, {"description", "Action timeout in seconds."}}},
    };
    if (script) {
        params["dir"] = {
            {"type", "string"},
            {"default", "/tmp"},
            {"description", "The remote directory in which the script is placed (and removed after the run)."}};
    } else {
        params["cmd"] = {
            {"type", "string"}, {"description", "Arbitrary Linux command to be executed on the remote host(s)."}};
    }
    return params;
}

}  // namespace

RunnerFactory RemoteShellCmdFactory() {
    RunnerFactory f;
    f.info.name = "remote-shell-cmd";
    f.info.description = "A remote execution runner that executes commands on remote hosts concurrently.";
    f.info.parameters = RemoteParameters(false);
    f.create = [names = ParameterNames(f.info.parameters)](RunnerServices& s) {
        return std::make_unique<RemoteShellRunner>(s.supervisor, false, names);
    };
    return f;
}

RunnerFactory RemoteShellScriptFactory() {
    RunnerFactory f;
    f.info.name = "remote-shell-script";
    f.info.description = "A remote execution runner that copies a script to remote hosts and runs it concurrently.";
    f.info.parameters = RemoteParameters(true);
    f.create = [names = ParameterNames(f.info.parameters)](RunnerServices& s) {
        return std::make_unique<RemoteShellRunner>(s.supervisor, true, names);
    };
    return f;
}

}  // namespace squall::actionrunners
