#include "common/shell_common.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string_view>

namespace squall::actionrunners {

std::string Tail(const std::string& text, size_t max_lines) {
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

std::string ParamString(const Json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

std::map<std::string, std::string> BaseEnv() {
    std::map<std::string, std::string> env;
    for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME", "SHELL", "TMPDIR"}) {
        if (const char* v = std::getenv(name)) env[name] = v;  // NOLINT(concurrency-mt-unsafe): read-only env
    }
    if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    return env;
}

std::map<std::string, std::string> ActionEnv(const RunRequest& req) {
    std::map<std::string, std::string> env = BaseEnv();
    const Json& p = req.parameters;
    if (p.contains("env") && p["env"].is_object()) {
        for (const auto& [k, v] : p["env"].items()) env[k] = ParamString(v);
    }
    env["ST2_ACTION_PACK_NAME"] = req.action.value("pack", "");
    env["ST2_ACTION_EXECUTION_ID"] = req.execution_id;
    env["ST2_ACTION_API_URL"] = req.api_url;
    if (!req.auth_token.empty()) env["ST2_ACTION_AUTH_TOKEN"] = req.auth_token;
    return env;
}

double TimeoutSeconds(const Json& parameters, double fallback) {
    if (parameters.contains("timeout") && parameters["timeout"].is_number()) return parameters["timeout"].get<double>();
    return fallback;
}

std::chrono::milliseconds ToMillis(double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string FormatSeconds(double seconds) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", seconds);
    return buf;
}

std::string PackPath(const RunRequest& req) {
    return req.action.value("pack_path", "");
}

bool HoldsSecret(const std::string& text, const std::vector<std::string>& secrets) {
    return std::any_of(secrets.begin(), secrets.end(), [&](const std::string& v) {
        return !v.empty() && text.find(v) != std::string::npos;
    });
}

core::ExecutionResult ShellResult(const core::ProcessOutcome& o, const std::string& shown, double timeout_s) {
    core::ExecutionResult r;
    if (o.spawn_error) {
        r.status = core::status::kFailed;
        r.result = {
            {"stdout", ""},
            {"stderr", ""},
            {"return_code", -1},
            {"succeeded", false},
            {"failed", true},
            {"error", "could not start `" + shown + "`: " + o.spawn_error->message}};
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
    // Output past ProcessSpec::max_output_bytes was read and dropped; the stored text ends with the marker.
    if (o.stdout_truncated || o.stderr_truncated) r.result["result_truncated"] = true;
    if (o.timed_out) {
        r.status = core::status::kTimeout;
        std::string err = "Action failed to complete in " + FormatSeconds(timeout_s) + " seconds: `" + shown +
                          "` was killed (process group) with exit code -9";
        // What it said before it was killed often says why it hung (a prompt, a host that does not answer).
        const std::string tail = Tail(o.stderr_data);
        if (!tail.empty()) err += "; stderr (last lines):\n" + tail;
        r.result["error"] = err;
    } else if (o.canceled) {
        r.status = core::status::kCanceled;
        r.result["error"] = "`" + shown + "` was canceled";
    } else if (!ok) {
        r.status = core::status::kFailed;
        std::string err = "`" + shown + "` exited with code " + std::to_string(o.exit_code);
        const std::string tail = Tail(o.stderr_data);
        if (!tail.empty()) err += "; stderr (last lines):\n" + tail;
        r.result["error"] = err;
    } else {
        r.status = core::status::kSucceeded;
    }
    return r;
}

namespace {
/// StackStorm's serialize_positional_argument (top level only).
std::string PositionalValue(const std::string& type, const Json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean() && (type == "boolean" || type.empty())) return v.get<bool>() ? "1" : "0";
    if (v.is_array()) {
        std::string out;
        for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ",";
            out += ParamString(v[i]);
        }
        return out;
    }
    return v.dump();  // numbers, objects (JSON)
}
}  // namespace

std::vector<std::string> ScriptArguments(
    const Json& action, const Json& parameters, const std::set<std::string>& runner_params, const std::string& kwarg_op
) {
    Json schema = action.value("parameters", Json::object());
    if (!schema.is_object()) schema = Json::object();
    std::map<int64_t, std::string> positional;  // position → name
    for (const auto& [name, meta] : schema.items()) {
        if (runner_params.count(name) || !meta.is_object()) continue;
        if (meta.contains("position") && meta["position"].is_number_integer()) {
            positional[meta["position"].get<int64_t>()] = name;
        }
    }
    std::set<std::string> positional_names;
    for (const auto& [pos, name] : positional) positional_names.insert(name);

    std::vector<std::string> args;
    if (!parameters.is_object()) return args;
    // Name order, whatever order the parameters were given in: the command line stays the same for the same
    // parameters (docs/decisions.md, "Insertion-ordered JSON objects").
    std::map<std::string_view, const Json*> by_name;
    for (auto it = parameters.begin(); it != parameters.end(); ++it) by_name.emplace(it.key(), &*it);
    for (const auto& [name_view, value] : by_name) {
        const std::string name(name_view);
        const Json& v = *value;
        if (runner_params.count(name) || positional_names.count(name)) continue;
        if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) continue;
        if (v.is_boolean()) {
            if (v.get<bool>()) args.push_back(kwarg_op + name);
            continue;
        }
        args.push_back(kwarg_op + name + "=" + ParamString(v));
    }
    for (const auto& [pos, name] : positional) {
        const Json& meta = schema[name];
        const std::string type =
            meta.contains("type") && meta["type"].is_string() ? meta["type"].get<std::string>() : "";
        args.push_back(PositionalValue(type, parameters.contains(name) ? parameters[name] : Json()));
    }
    return args;
}

std::set<std::string> ParameterNames(const Json& runner_schema) {
    std::set<std::string> out;
    for (const auto& [k, v] : runner_schema.items()) out.insert(k);
    return out;
}

void RunHandles::Begin(const std::string& execution_id) {
    std::lock_guard lock(mu_);
    runs_[execution_id] = false;
}

bool RunHandles::Add(const std::string& execution_id, core::ProcessSupervisor::Handle h) {
    std::lock_guard lock(mu_);
    auto run = runs_.find(execution_id);
    if (run == runs_.end()) return true;  // already finished (its callback ran before Start returned)
    if (run->second) return false;
    handles_.emplace(execution_id, h);
    return true;
}

void RunHandles::Remove(const std::string& execution_id, core::ProcessSupervisor::Handle h) {
    std::lock_guard lock(mu_);
    auto [b, e] = handles_.equal_range(execution_id);
    for (auto it = b; it != e; ++it) {
        if (it->second == h) {
            handles_.erase(it);
            return;
        }
    }
}

void RunHandles::CancelAll(const std::string& execution_id, core::ProcessSupervisor& supervisor) {
    std::vector<core::ProcessSupervisor::Handle> victims;
    {
        std::lock_guard lock(mu_);
        auto run = runs_.find(execution_id);
        if (run == runs_.end()) return;
        run->second = true;
        auto [b, e] = handles_.equal_range(execution_id);
        for (auto it = b; it != e; ++it) victims.push_back(it->second);
    }
    for (auto h : victims) supervisor.Cancel(h);
}

bool RunHandles::Canceled(const std::string& execution_id) const {
    std::lock_guard lock(mu_);
    auto run = runs_.find(execution_id);
    return run != runs_.end() && run->second;
}

void RunHandles::Forget(const std::string& execution_id) {
    std::lock_guard lock(mu_);
    runs_.erase(execution_id);
    handles_.erase(execution_id);
}

namespace {

bool PlainChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.' || c == '/' ||
           c == ':' || c == '@' || c == '%' || c == '+' || c == ',' || c == '=';
}

bool AssignmentWord(const std::string& w) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    if (std::isdigit(static_cast<unsigned char>(w[0])) != 0) return false;
    for (size_t i = 0; i < eq; ++i) {
        if (std::isalnum(static_cast<unsigned char>(w[i])) == 0 && w[i] != '_') return false;
    }
    return true;
}

bool Executable(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::vector<std::string> PlainCommandArgv(const std::string& cmd, std::map<std::string, std::string>& env) {
    // dash's builtins and keywords: these behave differently from (or have no) programs of the same name.
    static const std::set<std::string, std::less<>> kShellWords = {
        "!",      ".",    ":",      "[",        "alias",   "bg",    "break", "case", "cd",   "command", "continue",
        "do",     "done", "echo",   "elif",     "else",    "esac",  "eval",  "exec", "exit", "export",  "false",
        "fc",     "fg",   "fi",     "for",      "getopts", "hash",  "if",    "in",   "jobs", "kill",    "local",
        "printf", "pwd",  "read",   "readonly", "return",  "set",   "shift", "test", "then", "times",   "trap",
        "true",   "type", "ulimit", "umask",    "unalias", "unset", "until", "wait", "while"};
    std::vector<std::string> words;
    std::string word;
    for (char c : cmd) {
        if (c == ' ' || c == '\t') {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else if (PlainChar(c)) {
            word += c;
        } else {
            return {};
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    size_t first = 0;
    std::vector<std::pair<std::string, std::string>> assigned;
    while (first < words.size() && AssignmentWord(words[first])) {
        const size_t eq = words[first].find('=');
        assigned.emplace_back(words[first].substr(0, eq), words[first].substr(eq + 1));
        first += 1;
    }
    if (first == words.size() || words[first].find('=') != std::string::npos) return {};
    const std::string& program = words[first];
    if (kShellWords.count(program) > 0) return {};
    std::string path;
    if (program.find('/') != std::string::npos) {
        if (program[0] != '/' || !Executable(program)) return {};  // relative to the cwd: left to the shell
        path = program;
    } else {
        auto p = env.find("PATH");
        const char* own = std::getenv("PATH");
        const std::string search = p != env.end() ? p->second : own != nullptr ? own : "/usr/bin:/bin";
        size_t start = 0;
        while (start <= search.size()) {
            const size_t colon = std::min(search.find(':', start), search.size());
            const std::string dir = search.substr(start, colon - start);
            if (dir.empty() || dir[0] != '/') {
                if (!dir.empty() || colon < search.size()) return {};  // a relative entry: the shell decides
            } else if (Executable(dir + "/" + program)) {
                path = dir + "/" + program;
                break;
            }
            start = colon + 1;
        }
        if (path.empty()) return {};
    }
    for (auto& [name, value] : assigned) env[name] = std::move(value);
    std::vector<std::string> argv(words.begin() + static_cast<std::ptrdiff_t>(first), words.end());
    argv[0] = path;
    return argv;
}

}  // namespace squall::actionrunners
