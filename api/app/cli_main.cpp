// The CLI client (SPEC §10): mirrors `st2` for the commands it has; every command is an ApiClient call.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kUsage = R"(usage: squall <command> [args]

  server [--config FILE] [--data-dir DIR] [--listen HOST:PORT] [--redis URL] [--roles LIST]
         [--pool NAME] [--workers N] [--log-level L] [--log-format text|json]
                                  run the server (see deploy/squall.sample.yaml)
  run <action-ref> [k=v ...] [-a] [-j] [--tail]
                                  run an action and wait for its result (-a: do not wait; --tail: follow
                                  its output as it comes, as execution tail, then print the result)
  execution list [--action REF] [--status S] [-n N] [-j]
  execution get <id> [-j]
  execution tail <id> [--type stdout|stderr] [--include-metadata]
                                  follow a running execution's output (a workflow's: its tasks') until it
                                  ends, as st2 execution tail
  execution cancel <id>           execution re-run <id> [k=v ...] [-a]
  execution re-run <id> --tasks T ... [--no-reset T ...]
                                  re-run a finished workflow from tasks (--no-reset: failed items only)
  execution pause <id>            execution resume <id>
  deadletter list [-n N] [-j]     stream entries no consumer could handle, with the reason
  action list [-p PACK] [-j]      action get <ref> [-j]
  policy list [-p PACK] [--resource-ref REF] [-j]   policy get <ref> [-j]   policy-type list|get <ref>
  service-registry list [-j]      the live server processes: roles, pool, last heartbeat
  service-registry group list     service-registry member list [--group-id ROLE]   (st2's shapes)
  pool list [-j]                  runner pools and their live runners
  rule list [-p PACK] [-j]        rule get <ref> [-j]
  rule create <file.yaml|json>    rule delete <ref>
  rule test <rule.yaml> (--payload FILE | --trigger-instance ID)
                                  does the rule match? (exit 0 yes, 1 no, 2 load error)
  trigger-instance list [--trigger REF] [--status S] [-n N] [-j]   trigger-instance get <id> [-j]
  trigger-instance re-emit <id>   emit a stored trigger instance again (rules see it as new)
  trace list [--trace-tag T] [-j]   trace get <id> [-j]
                                  what a trigger instance caused: rule decisions (and why a rule missed),
                                  executions and their workflow tasks, as a tree
  alias list|get|create FILE|delete|match "TEXT"|execute "TEXT"
                                  action aliases (ChatOps) from a terminal
  inquiry list [-j]   inquiry get <id> [-j]
  inquiry respond <id> -r '{"continue": true}'
                                  answer a pending inquiry (core.ask)
  pack install <git-url|path>[=ref]... [--force]    pack remove <ref>...
  pack list [-j]   pack get <ref> [-j]   pack register [<ref>...]
  pack config <pack> key=value...  install/remove follow the execution (exit 1 on failure)
  execution get ID --show-tasks [-j]   a workflow with its task executions and their timing
  workflow inspect FILE [-j]     check an Orquesta workflow (bad do, unreachable task, undefined variable)
  template render [--context FILE.json] [--json] TEMPLATE
                                  render a template locally (exit 2 on a template error)
  key set <name> <value> [--scope system|user] [--secret] [--ttl S]   key get <name> [--decrypt] [-j]
  key list [--prefix P] [--scope S] [--decrypt] [-j]   key delete <name>   key load <file.json|yaml>
  user add NAME [--admin] [--update]   user list [-j]   user delete NAME   [--data-dir DIR]
                                  users who log in (st2 login, POST /auth/v1/tokens); password from stdin
  login USER [-p PASSWORD] [--ttl S]   logout   whoami [-j]
                                  log in as a user (as st2 login): the token is saved in the CLI config (0600)
                                  and sent by later commands
  version

Environment: SQUALL_API_URL (default: the URL `squall login` saved, else http://127.0.0.1:9101/api/v1),
SQUALL_API_KEY, SQUALL_AUTH_TOKEN (instead of a saved login), SQUALL_CLI_CONFIG, COLUMNS (table width).
)";

struct Cli {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  // --action → value
    bool json = false;
    bool yaml = false;
    bool async = false;
    bool tail = false;        ///< run --tail: follow the output as `execution tail` does, then print the result
    bool show_tasks = false;  ///< execution get --show-tasks: the workflow's task executions
    /// execution re-run --tasks t2 t3 [--no-reset t3]: re-run a workflow from these tasks (names until the next
    /// option or k=v; commas also separate).
    std::vector<std::string> tasks;
    std::vector<std::string> no_reset;
};

Result<Cli> ParseArgs(const std::vector<std::string>& args, size_t start) {
    Cli cli;
    for (size_t i = start; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-j" || a == "--json") {
            cli.json = true;
        } else if (a == "-y" || a == "--yaml") {
            cli.yaml = true;
        } else if (a == "-a" || a == "--async") {
            cli.async = true;
        } else if (a == "--tail") {
            cli.tail = true;
        } else if (a == "--show-tasks") {
            cli.show_tasks = true;
        } else if (a == "--include-metadata") {  // execution tail: each output line's timestamp and stream
            cli.options["include-metadata"] = "1";
        } else if (a == "--tasks" || a == "--no-reset") {
            std::vector<std::string>& names = a == "--tasks" ? cli.tasks : cli.no_reset;
            while (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-' &&
                   args[i + 1].find('=') == std::string::npos) {
                std::stringstream ss(args[++i]);
                for (std::string n; std::getline(ss, n, ',');) {
                    if (!n.empty()) names.push_back(n);
                }
            }
            if (names.empty()) return InvalidArgument("option " + a + " needs task names");
        } else if (a.size() > 1 && a[0] == '-' && a.find('=') == std::string::npos) {
            std::string name = a.substr(a[1] == '-' ? 2 : 1);
            if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
            cli.options[name] = args[++i];
        } else {
            cli.positional.push_back(a);
        }
    }
    return cli;
}

std::string Str(const Json& v) {
    if (v.is_null()) return "";
    return v.is_string() ? v.get<std::string>() : v.dump();
}

void PrintYamlish(const Json& v, int indent = 0) {
    const std::string pad(static_cast<size_t>(indent), ' ');
    for (const auto& [k, val] : v.items()) {
        if (val.is_object() && !val.empty()) {
            std::cout << pad << k << ":\n";
            PrintYamlish(val, indent + 2);
        } else if (val.is_string() && val.get<std::string>().find('\n') != std::string::npos) {
            std::cout << pad << k << ": |\n";
            std::stringstream ss(val.get<std::string>());
            std::string line;
            while (std::getline(ss, line)) std::cout << pad << "  " << line << "\n";
        } else {
            std::cout << pad << k << ": " << Str(val) << "\n";
        }
    }
}

void PrintExecution(const Json& e, const Cli& cli) {
    if (cli.json) {
        std::cout << e.dump(2) << "\n";
        return;
    }
    Json shown = {
        {"id", e.value("id", "")},
        {"action.ref", e.contains("action") ? e["action"].value("ref", "") : ""},
        {"status", e.value("status", "")},
        {"start_timestamp", e.value("start_timestamp", "")},
        {"end_timestamp", e.value("end_timestamp", "")}};
    if (e.contains("parameters") && !e["parameters"].empty()) shown["parameters"] = e["parameters"];
    if (e.contains("result") && !e["result"].empty()) shown["result"] = e["result"];
    PrintYamlish(shown);
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

std::string Query(const Cli& cli, const std::vector<std::pair<std::string, std::string>>& map) {
    std::string q;
    for (const auto& [opt, param] : map) {
        auto it = cli.options.find(opt);
        if (it == cli.options.end()) continue;
        q += (q.empty() ? "?" : "&") + param + "=" + it->second;
    }
    return q;
}

int List(
    api::ApiClient& client,
    const std::string& path,
    const Cli& cli,
    const std::vector<std::pair<std::string, std::string>>& columns
) {
    Result<api::ApiResponse> r = client.Get(path);
    if (!r) return Fail(r.error());
    if (cli.json) {
        std::cout << r->body.dump(2) << "\n";
        return 0;
    }
    PrintTable(r->body, columns);
    if (r->total >= 0 && static_cast<size_t>(r->total) > r->body.size()) {
        std::cout << "(" << r->body.size() << " of " << r->total << "; use -n to see more)\n";
    }
    return 0;
}

int Get(api::ApiClient& client, const std::string& path, const Cli& cli) {
    Result<api::ApiResponse> r = client.Get(path);
    if (!r) return Fail(r.error());
    if (cli.json) {
        std::cout << r->body.dump(2) << "\n";
    } else {
        PrintYamlish(r->body);
    }
    return 0;
}

/// Parses k=v arguments from positional[first] on; kInvalidArgument naming the first malformed one.
Result<Json> ParamArgs(const Cli& cli, size_t first) {
    Json params = Json::object();
    for (size_t i = first; i < cli.positional.size(); ++i) {
        const std::string& kv = cli.positional[i];
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) return InvalidArgument("parameter \"" + kv + "\": expected name=value");
        params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return params;
}

int FollowExecution(api::ApiClient& client, const Cli& cli, const Json& created);

/// An execution event's task: its id, its parent's id (context.parent.execution_id; empty: none) and its task's name
/// (context.orquesta.task_name or context.chain.name), as st2's tail reads them.
struct TailTask {
    std::string id;
    std::string parent;
    std::string name;
};

TailTask TailTaskOf(const Json& e) {
    const Json ctx = e.value("context", Json::object());
    const auto at = [&](const char* key, const char* field) {
        return ctx.contains(key) && ctx[key].is_object() ? Str(ctx[key].value(field, Json())) : std::string();
    };
    std::string name = ctx.contains("orquesta") ? at("orquesta", "task_name") : at("chain", "name");
    return {e.value("id", ""), at("parent", "execution_id"), name.empty() ? "unknown" : name};
}

/// `squall execution tail ID [--type stdout|stderr] [--include-metadata]`, as st2 execution tail: an execution that
/// has ended prints its output and that it has completed. Otherwise its output (and that of the tasks of a workflow,
/// at any depth) is written as it comes: the start and end of each task are announced, and the command ends with the
/// execution's final update. Tailing a task of a workflow ends with that task.
int Tail(api::ApiClient& client, const Cli& cli, const std::string& id) {
    Result<api::ApiResponse> r = client.Get("/executions/" + id);
    if (!r) return Fail(r.error());
    // As st2: `all` (or nothing) keeps both streams.
    std::string output_type = cli.options.count("type") ? cli.options.at("type") : "";
    if (output_type == "all") output_type.clear();
    const bool metadata = cli.options.count("include-metadata") != 0;
    const std::string status = r->body.value("status", "");
    if (core::status::IsCompleted(status)) {
        Result<api::ApiResponse> out =
            client.Get("/executions/" + id + "/output" + (output_type.empty() ? "" : "?output_type=" + output_type));
        if (!out) return Fail(out.error());
        std::cout << out->text << "\n"
                  << "Execution " << id << " has completed (status=" << status << ").\n";
        return 0;
    }
    const bool tailing_task = !TailTaskOf(r->body).parent.empty() || !Str(r->body.value("parent", Json())).empty();
    // The workflow's executions: it and its tasks, and theirs, as they appear.
    std::set<std::string> ids = {id};
    if (r->body.contains("children") && r->body["children"].is_array()) {
        for (const auto& c : r->body["children"]) ids.insert(Str(c));
    }
    std::string ended;
    // What the execution printed before the stream opened (`run --tail` of a quick action: most of it) comes from its
    // stored output once the subscription is in place; the stream then brings only what was not stored yet, and
    // what it brings twice (stored between the two) is recognised by its entry and left out.
    std::multiset<std::string> replayed;
    const auto entry_key = [](const Json& l) {
        return l.value("timestamp", "") + '\n' + l.value("output_type", "") + '\n' + l.value("data", "");
    };
    const auto print = [&](const Json& l) {
        if (metadata) std::cout << "[" << l.value("timestamp", "") << "][" << l.value("output_type", "") << "] ";
        std::cout << l.value("data", "") << std::flush;
    };
    api::ApiClient replay_client = client.Clone();
    const auto replay = [&] {
        Result<api::ApiResponse> stored = replay_client.Get(
            "/executions/" + id + "/output?format=json" + (output_type.empty() ? "" : "&output_type=" + output_type)
        );
        if (!stored || !stored->body.is_array()) return;  // the stream still brings what comes next
        for (const Json& l : stored->body) {
            if (!l.is_object()) continue;
            replayed.insert(entry_key(l));
            print(l);
        }
    };
    Status st = client.Stream(
        "/stream/v1/stream?events=st2.execution__update,st2.execution.output__create"
        "&end_event=st2.execution__update&end_execution_id=" +
            id,
        [&](const std::string& event, const std::string& data) {
            const Json d = Json::parse(data, nullptr, false);
            if (!d.is_object()) return true;
            if (event == "st2.execution__update") {
                const std::string now = d.value("status", "");
                const TailTask task = TailTaskOf(d);
                const bool child = !task.parent.empty();
                if (!ids.count(child && !tailing_task ? task.parent : task.id)) return true;
                ids.insert(task.id);
                if (child && now == core::status::kRunning) {
                    std::cout << "Child execution (task=" << task.name << ") " << task.id << " has started.\n\n"
                              << std::flush;
                } else if (child && core::status::IsCompleted(now)) {
                    std::cout << "\nChild execution (task=" << task.name << ") " << task.id
                              << " has finished (status=" << now << ").\n"
                              << std::flush;
                    if (tailing_task && task.id == id) {
                        ended = now;
                        return false;
                    }
                } else if (!child && now == core::status::kRunning && d.value("children", Json::array()).empty()) {
                    std::cout << "Execution " << id << " has started.\n\n" << std::flush;
                } else if (!child && task.id == id && core::status::IsCompleted(now)) {
                    ended = now;
                    std::cout << "\nExecution " << id << " has completed (status=" << now << ").\n";
                    return false;
                }
                return true;
            }
            if (event != "st2.execution.output__create" || !ids.count(d.value("execution_id", ""))) return true;
            if (!output_type.empty() && d.value("output_type", "") != output_type) return true;
            if (d.value("execution_id", "") == id && !replayed.empty()) {
                if (auto seen = replayed.find(entry_key(d)); seen != replayed.end()) {
                    replayed.erase(seen);
                    return true;
                }
            }
            print(d);
            return true;
        },
        replay
    );
    if (!st) return Fail(st.error());
    if (ended.empty()) {
        std::cerr << "squall: the event stream ended before execution " << id << " did\n";
        return 1;
    }
    return 0;
}

int Run(api::ApiClient& client, const Cli& cli) {
    if (cli.positional.empty()) return Fail(InvalidArgument("usage: squall run <action-ref> [k=v ...]"));
    Result<Json> params = ParamArgs(cli, 1);
    if (!params) return Fail(params.error());
    Result<api::ApiResponse> created =
        client.Post("/executions", {{"action", cli.positional[0]}, {"parameters", *params}});
    if (!created) {
        Error e = created.error();
        // A parameter the server refused: say where the action's parameters are listed.
        if (e.code == ErrorCode::kInvalidArgument && e.message.rfind("parameter \"", 0) == 0)
            e.message += "\n(the parameters of " + cli.positional[0] + ": squall action get " + cli.positional[0] + ")";
        return Fail(e);
    }
    return FollowExecution(client, cli, created->body);
}

/// After a create: -a prints how to follow it; otherwise waits for the end (or `pending`) and prints it.
int FollowExecution(api::ApiClient& client, const Cli& cli, const Json& created) {
    const std::string id = created.value("id", "");
    if (cli.async) {
        if (cli.json) {
            std::cout << created.dump(2) << "\n";
        } else {
            std::cout << "To get the results, execute:\n squall execution get " << id << "\n";
        }
        return 0;
    }
    Json e = created;
    if (cli.tail) {
        // As `st2 run --tail`: the output as it comes (execution tail), then the execution as without --tail.
        std::cout << "Tailing execution \"" << id << "\"\n" << std::flush;
        if (const int rc = Tail(client, cli, id); rc != 0) return rc;
        std::cout << "\n";
    }
    auto delay = std::chrono::milliseconds(20);
    // As `st2 run`: stop waiting at `pending` too (core.ask waits for an answer that this command cannot give).
    while (!core::status::IsCompleted(e.value("status", "")) && e.value("status", "") != core::status::kPending) {
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(500));
        Result<api::ApiResponse> r = client.Get("/executions/" + id);
        if (!r) return Fail(r.error());
        e = r->body;
    }
    PrintExecution(e, cli);
    if (e.value("status", "") == core::status::kPending) {
        if (!cli.json) std::cout << "Waiting for a response: squall inquiry respond " << id << " -r '{...}'\n";
        return 0;
    }
    return e.value("status", "") == core::status::kSucceeded ? 0 : 1;
}

int RuleCreate(api::ApiClient& client, const Cli& cli) {
    if (cli.positional.size() < 2) return Fail(InvalidArgument("usage: squall rule create <file.yaml|json>"));
    Result<core::YamlDocument> doc = core::LoadYamlFile(cli.positional[1]);  // JSON is YAML too
    if (!doc) return Fail(doc.error());
    Result<api::ApiResponse> r = client.Post("/rules", doc->value);
    if (!r) {
        // The API names the field ("action.ref: action ... does not exist"); the file says where it is: at the value
        // when it has a position of its own (`ref: ops.gret` points at `ops.gret`), else at the key.
        Error e = r.error();
        if (const size_t colon = e.message.find(": "); colon != std::string::npos) {
            const std::string field = e.message.substr(0, colon);
            auto at = doc->marks.find(field + "=");
            if (at == doc->marks.end()) at = doc->marks.find(field);
            if (at != doc->marks.end()) e.location = at->second;
        }
        return Fail(e);
    }
    if (cli.json) {
        std::cout << r->body.dump(2) << "\n";
    } else {
        PrintYamlish(r->body);
    }
    return 0;
}

/// `squall <command> [<sub>] --help`: the lines of kUsage that name the command (and subcommand, when one is
/// given), each with its continuation lines. 0, or 2 with the whole usage when the command is unknown.
int HelpFor(const std::string& cmd, const std::string& sub) {
    const std::string want = cmd + (sub.empty() || sub[0] == '-' ? "" : " " + sub);
    std::istringstream in(kUsage);
    std::string line;
    std::string out;
    bool in_entry = false;
    while (std::getline(in, line)) {
        const size_t indent = line.find_first_not_of(' ');
        const bool continuation = indent != std::string::npos && indent > 4 && in_entry;
        if (continuation) {
            out += line + "\n";
            continue;
        }
        in_entry = false;
        if (indent != 2) continue;
        const std::string text = line.substr(2);
        const bool named = text.rfind(want + " ", 0) == 0 || text == want ||
                           text.find("  " + want + " ") != std::string::npos ||
                           text.find("   " + want) != std::string::npos;
        if (!named) continue;
        out += line + "\n";
        in_entry = true;
    }
    if (out.empty()) {
        std::cerr << "squall: unknown command \"" << want << "\"\n\n" << kUsage;
        return 2;
    }
    std::cout << "usage: squall " << want << " ...\n\n" << out;
    return 0;
}

}  // namespace

int CliMain(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::cout << "squall 0.1.0\n";
        return 0;
    }
    const std::string cmd = args[0];
    if (std::any_of(args.begin() + 1, args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; })) {
        // `squall pack install --help` as `st2 ... --help`: the command's own usage, never "needs a value".
        if (cmd == "login" || cmd == "logout" || cmd == "whoami") return LoginCommand({cmd, "--help"});
        if (cmd == "alias" || cmd == "action-alias") return AliasCommand({cmd, "--help"});
        if (cmd == "template" || cmd == "key" || cmd == "pack" || cmd == "inquiry" || cmd == "trace" ||
            cmd == "trigger-instance" || cmd == "user") {
            const std::vector<std::string> help = {cmd, "--help"};
            if (cmd == "trace") return TraceCommand(help);
            if (cmd == "trigger-instance") return TriggerInstanceCommand(help);
            if (cmd == "template") return TemplateRenderCommand(help);
            if (cmd == "key") return KeyCommand(help);
            if (cmd == "pack") return PackCommand(help);
            if (cmd == "user") return UserCommand(help);
            return InquiryCommand(help);
        }
        return HelpFor(cmd, args.size() > 1 ? args[1] : "");
    }
    if (cmd == "login") return LoginCommand(args);
    if (cmd == "logout") return LogoutCommand(args);
    if (cmd == "whoami") return WhoamiCommand(args);
    if (cmd == "template") return TemplateRenderCommand(args);
    if (cmd == "workflow") return WorkflowCommand(args);
    if (cmd == "key") return KeyCommand(args);
    if (cmd == "user") return UserCommand(args);
    if (cmd == "pack") return PackCommand(args);
    if (cmd == "inquiry") return InquiryCommand(args);
    if (cmd == "trace") return TraceCommand(args);
    if (cmd == "trigger-instance") return TriggerInstanceCommand(args);
    if (cmd == "alias" || cmd == "action-alias") return AliasCommand(args);
    const std::string sub = args.size() > 1 ? args[1] : "";
    Result<Cli> parsed = ParseArgs(args, cmd == "run" ? 1 : 2);
    if (!parsed) return Fail(parsed.error());
    Cli& cli = *parsed;
    if (cmd == "rule" && sub == "test") return RuleTestCommand(args);
    api::ApiClient client = CliClient();
    const std::string n = cli.options.count("n") ? cli.options["n"] : "50";

    if (cmd == "run") return Run(client, cli);
    if (cmd == "execution") {
        if (sub == "list") {
            cli.options["n"] = n;
            return List(
                client,
                "/executions" + Query(cli, {{"action", "action"}, {"status", "status"}, {"n", "limit"}}),
                cli,
                {{"id", "id"},
                 {"action.ref", "action.ref"},
                 {"status", "status"},
                 {"start_timestamp", "start_timestamp"},
                 {"end_timestamp", "end_timestamp"}}
            );
        }
        if (sub == "tail" && !cli.positional.empty()) return Tail(client, cli, cli.positional[0]);
        if (sub == "get" && !cli.positional.empty()) {
            Result<api::ApiResponse> r = client.Get("/executions/" + cli.positional[0]);
            if (!r) return Fail(r.error());
            if (!cli.show_tasks) {
                PrintExecution(r->body, cli);
                return 0;
            }
            // The workflow's task executions (its children), each with its task name and timing.
            Json tasks = Json::array();
            for (const auto& child : r->body.value("children", Json::array())) {
                Result<api::ApiResponse> c = client.Get("/executions/" + child.get<std::string>());
                if (!c) return Fail(c.error());
                const Json& e = c->body;
                // Orquesta tasks carry context.orquesta, action-chain tasks context.chain (no items).
                const Json ctx = e.contains("context") ? e["context"] : Json::object();
                const bool chain = ctx.is_object() && !ctx.contains("orquesta") && ctx.contains("chain");
                const Json o =
                    ctx.is_object() ? ctx.value(chain ? "chain" : "orquesta", Json::object()) : Json::object();
                tasks.push_back(
                    {{"id", e.value("id", "")},
                     {"task", o.value("task_name", "")},
                     {"item", !chain && o.value("item_id", -1) >= 0 ? Json(o.value("item_id", -1)) : Json("")},
                     {"action", e.contains("action") ? e["action"].value("ref", "") : ""},
                     {"status", e.value("status", "")},
                     {"start_timestamp", e.value("start_timestamp", "")},
                     {"elapsed_seconds", e.value("elapsed_seconds", Json())}}
                );
            }
            if (cli.json) {
                Json out = r->body;
                out["tasks"] = tasks;
                std::cout << out.dump(2) << "\n";
                return 0;
            }
            PrintExecution(r->body, cli);
            std::cout << "+ tasks:\n";
            PrintTable(
                tasks,
                {{"id", "id"},
                 {"task", "task"},
                 {"item", "item"},
                 {"action", "action"},
                 {"status", "status"},
                 {"start", "start_timestamp"},
                 {"elapsed", "elapsed_seconds"}}
            );
            return 0;
        }
        if (sub == "cancel" && !cli.positional.empty()) {
            Result<api::ApiResponse> r = client.Delete("/executions/" + cli.positional[0]);
            if (!r) return Fail(r.error());
            if (r->body.is_object() && r->body.contains("faultstring")) {
                // It had ended otherwise: nothing was canceled.
                std::cerr << "execution " << cli.positional[0] << ": " << r->body.value("faultstring", "") << "\n";
                return 1;
            }
            if (cli.json) {
                std::cout << r->body.dump(2) << "\n";
            } else {
                std::cout << "execution " << cli.positional[0] << ": " << r->body.value("status", "") << "\n";
            }
            return 0;
        }
        if (sub == "re-run" && !cli.positional.empty()) {
            Result<Json> params = ParamArgs(cli, 1);
            if (!params) return Fail(params.error());
            Json body = {{"parameters", *params}};
            if (!cli.tasks.empty()) {
                // As st2's CLI: every task given is reset (a with-items task re-runs all its items) but those named
                // by --no-reset (which re-run only their failed items).
                Json reset = Json::array();
                for (const auto& t : cli.tasks) {
                    if (std::find(cli.no_reset.begin(), cli.no_reset.end(), t) == cli.no_reset.end())
                        reset.push_back(t);
                }
                body["tasks"] = cli.tasks;
                body["reset"] = std::move(reset);
            }
            Result<api::ApiResponse> r = client.Post("/executions/" + cli.positional[0] + "/re_run", body);
            if (!r) return Fail(r.error());
            return FollowExecution(client, cli, r->body);
        }
        if ((sub == "pause" || sub == "resume") && !cli.positional.empty()) {
            Result<api::ApiResponse> r =
                client.Put("/executions/" + cli.positional[0], {{"status", sub == "pause" ? "pausing" : "resuming"}});
            if (!r) return Fail(r.error());
            std::cout << "execution " << cli.positional[0] << ": " << r->body.value("status", "") << "\n";
            return 0;
        }
    }
    if (cmd == "deadletter" && sub == "list") {
        cli.options["n"] = n;
        return List(
            client,
            "/deadletters" + Query(cli, {{"n", "limit"}}),
            cli,
            {{"at", "at"}, {"stream", "stream"}, {"group", "group"}, {"deliveries", "deliveries"}, {"reason", "reason"}}
        );
    }
    if (cmd == "service-registry") {
        const std::string what = cli.positional.empty() ? "" : cli.positional[0];
        if (sub == "list") {
            return List(
                client,
                "/service-registry",
                cli,
                {{"id", "id"},
                 {"roles", "roles"},
                 {"pool", "pool"},
                 {"started_at", "started_at"},
                 {"last_beat", "last_beat"}}
            );
        }
        if ((sub == "group" || sub == "groups") && what == "list") {
            Result<api::ApiResponse> r = client.Get("/service_registry/groups");
            if (!r) return Fail(r.error());
            Json rows = Json::array();
            for (const auto& g : r->body.value("groups", Json::array())) rows.push_back({{"group_id", g}});
            if (cli.json) {
                std::cout << r->body.dump(2) << "\n";
                return 0;
            }
            PrintTable(rows, {{"group_id", "group_id"}});
            return 0;
        }
        if ((sub == "member" || sub == "members") && what == "list") {
            std::vector<std::string> groups;
            if (auto it = cli.options.find("group-id"); it != cli.options.end()) {
                groups.push_back(it->second);
            } else {
                Result<api::ApiResponse> r = client.Get("/service_registry/groups");
                if (!r) return Fail(r.error());
                for (const auto& g : r->body.value("groups", Json::array())) groups.push_back(g.get<std::string>());
            }
            Json rows = Json::array();
            for (const auto& g : groups) {
                Result<api::ApiResponse> r = client.Get("/service_registry/groups/" + g + "/members");
                if (!r) return Fail(r.error());
                for (const auto& m : r->body.value("members", Json::array())) rows.push_back(m);
            }
            if (cli.json) {
                std::cout << rows.dump(2) << "\n";
                return 0;
            }
            PrintTable(
                rows,
                {{"group_id", "group_id"},
                 {"member_id", "member_id"},
                 {"pool", "capabilities.pool"},
                 {"last_beat", "capabilities.last_beat"}}
            );
            return 0;
        }
    }
    if (cmd == "pool" && sub == "list") {
        return List(
            client, "/pools", cli, {{"name", "name"}, {"live_runners", "live_runners"}, {"runners", "runners"}}
        );
    }
    if (cmd == "policy") {
        if (sub == "list") {
            return List(
                client,
                "/policies" + Query(cli, {{"p", "pack"}, {"pack", "pack"}, {"resource-ref", "resource_ref"}}),
                cli,
                {{"ref", "ref"},
                 {"resource_ref", "resource_ref"},
                 {"policy_type", "policy_type"},
                 {"enabled", "enabled"}}
            );
        }
        if (sub == "get" && !cli.positional.empty()) return Get(client, "/policies/" + cli.positional[0], cli);
    }
    if (cmd == "policy-type") {
        if (sub == "list") {
            return List(client, "/policytypes", cli, {{"ref", "ref"}, {"description", "description"}});
        }
        if (sub == "get" && !cli.positional.empty()) return Get(client, "/policytypes/" + cli.positional[0], cli);
    }
    if (cmd == "action") {
        if (sub == "list") {
            return List(
                client,
                "/actions" + Query(cli, {{"p", "pack"}, {"pack", "pack"}}),
                cli,
                {{"ref", "ref"}, {"pack", "pack"}, {"runner_type", "runner_type"}, {"description", "description"}}
            );
        }
        if (sub == "get" && !cli.positional.empty()) return Get(client, "/actions/" + cli.positional[0], cli);
    }
    if (cmd == "rule") {
        if (sub == "list") {
            return List(
                client,
                "/rules" + Query(cli, {{"p", "pack"}, {"pack", "pack"}}),
                cli,
                {{"ref", "ref"}, {"trigger", "trigger.type"}, {"action", "action.ref"}, {"enabled", "enabled"}}
            );
        }
        if (sub == "get" && !cli.positional.empty()) return Get(client, "/rules/" + cli.positional[0], cli);
        if (sub == "create") {
            cli.positional.insert(cli.positional.begin(), "create");
            return RuleCreate(client, cli);
        }
        if (sub == "delete" && !cli.positional.empty()) {
            Result<api::ApiResponse> r = client.Delete("/rules/" + cli.positional[0]);
            if (!r) return Fail(r.error());
            std::cout << "Resource with id \"" << cli.positional[0] << "\" has been successfully deleted.\n";
            return 0;
        }
    }
    std::cerr << "squall: unknown command \"" << cmd << (sub.empty() ? "" : " " + sub) << "\"\n\n" << kUsage;
    return 2;
}

}  // namespace squall::app
