// `squall pack ...` (st2 pack, reference §9): install/remove follow the execution the API starts and print its
// output as it arrives; list/get/register/config are single API calls.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/config.hpp"
#include "squall/core/input.hpp"
#include "squall/core/model/model.hpp"
#include "squall/packs/content.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kPackUsage = R"(usage:
  squall pack install <source>[=<ref>]... [--force]
                                  source: https://, ssh://, file:// URL or a local git repo path;
                                  ref: branch, tag, commit or X.Y.Z (tag vX.Y.Z)
  squall pack remove <ref>...
  squall pack list [-j]
  squall pack get <ref> [-j]
  squall pack register [<ref>...]
  squall pack config <pack> key=value...
                                  values are JSON when they parse as JSON, else strings
)";

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

int Usage(const std::string& what) {
    std::cerr << "squall pack: " << what << "\n\n" << kPackUsage;
    return 2;
}

std::string Str(const Json& v) {
    if (v.is_null()) return "";
    return v.is_string() ? v.get<std::string>() : v.dump();
}

/// Polls the execution until it completes, printing new output as it arrives. 0 on success, 1 otherwise.
int Follow(api::ApiClient& client, const std::string& id) {
    size_t printed = 0;
    auto delay = std::chrono::milliseconds(50);
    auto print_new = [&]() -> Status {
        Result<api::ApiResponse> out = client.Get("/executions/" + id + "/output");
        if (!out) return out.error();
        if (out->text.size() > printed) {
            std::cout << out->text.substr(printed) << std::flush;
            printed = out->text.size();
        }
        return {};
    };
    Json e;
    while (true) {
        Result<api::ApiResponse> r = client.Get("/executions/" + id);
        if (!r) return Fail(r.error());
        e = r->body;
        if (Status st = print_new(); !st) return Fail(st.error());
        if (core::status::IsCompleted(e.value("status", ""))) break;
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(500));
    }
    if (Status st = print_new(); !st) return Fail(st.error());  // lines stored just before the status moved
    const std::string status = e.value("status", "");
    if (status == core::status::kSucceeded) return 0;
    const Json result = e.value("result", Json::object());
    std::cerr << "ERROR: execution " << id << " " << status;
    if (result.is_object() && result.contains("errors") && result["errors"].is_array() && !result["errors"].empty()) {
        std::cerr << ":\n";
        for (const auto& err : result["errors"]) std::cerr << "  " << Str(err) << "\n";
    } else if (result.is_object() && result.contains("error")) {
        std::cerr << ": " << Str(result["error"]) << "\n";
    } else {
        std::cerr << "\n";
    }
    return 1;
}

int StartAndFollow(api::ApiClient& client, const std::string& path, const Json& body) {
    Result<api::ApiResponse> r = client.Post(path, body);
    if (!r) return Fail(r.error());
    const std::string id = r->body.is_object() ? r->body.value("execution_id", "") : "";
    if (id.empty()) return Fail(Internal("the API answered without an execution_id: " + r->text));
    std::cout << "execution " << id << "\n" << std::flush;
    return Follow(client, id);
}

void PrintPacks(const Json& list) {
    Json rows = Json::array();
    for (const auto& p : list) {
        const Json errors = p.value("load_errors", Json::array());
        Json row = p;
        row["errors"] = errors.is_array() ? errors.size() : 0;
        rows.push_back(std::move(row));
    }
    PrintTable(
        rows,
        {{"ref", "ref"},
         {"version", "version"},
         {"actions", "actions"},
         {"rules", "rules"},
         {"errors", "errors"},
         {"description", "description"}}
    );
}

void PrintPack(const Json& p) {
    for (const auto& [k, v] : p.items()) {
        if (k == "load_errors" || k == "load_warnings") continue;
        if (v.is_object() || (v.is_array() && !v.empty())) {
            std::cout << k << ": " << v.dump() << "\n";
        } else {
            std::cout << k << ": " << Str(v) << "\n";
        }
    }
    const Json errors = p.value("load_errors", Json::array());
    if (errors.is_array() && !errors.empty()) {
        std::cout << "load_errors:\n";
        for (const auto& e : errors) std::cout << "  - " << Str(e) << "\n";
    } else {
        std::cout << "load_errors: none\n";
    }
    const Json warnings = p.value("load_warnings", Json::array());
    if (warnings.is_array() && !warnings.empty()) {
        std::cout << "load_warnings:\n";
        for (const auto& w : warnings) std::cout << "  - " << Str(w) << "\n";
    }
}

/// A relative local path means a path on this machine: the server resolves paths against its own cwd, so it
/// gets the absolute path (the `=ref` part is kept).
std::string AbsoluteIfLocalPath(const std::string& spec) {
    if (spec.find("://") != std::string::npos) return spec;
    const auto eq = spec.rfind('=');
    const std::string path = eq == std::string::npos ? spec : spec.substr(0, eq);
    std::error_code ec;
    if (path.empty() || path[0] == '/' || !std::filesystem::exists(path, ec)) return spec;
    const std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
    if (ec) return spec;
    return eq == std::string::npos ? abs : abs + spec.substr(eq);
}

/// Warns (on stderr) about the pack's rules that render trigger data into a shell command.
void WarnTriggerDataInShell(api::ApiClient& client, const std::string& pack) {
    Result<api::ApiResponse> rules = client.Get("/rules?pack=" + pack + "&limit=1000");
    if (!rules || !rules->body.is_array()) return;
    for (const Json& r : rules->body) {
        if (!r.is_object()) continue;
        packs::RuleMeta rule;
        rule.name = r.value("name", "");
        rule.pack = r.value("pack", pack);
        const Json action = r.value("action", Json::object());
        rule.action_ref = action.is_object() ? action.value("ref", "") : "";
        rule.action_parameters = action.is_object() ? action.value("parameters", Json::object()) : Json::object();
        Result<api::ApiResponse> a = client.Get("/actions/" + rule.action_ref);
        const Json action_meta = a && a->body.is_object() ? a->body : Json();
        for (const auto& w : packs::TriggerDataInShellWarnings(rule, action_meta))
            std::cerr << "warning: " << w << "\n";
    }
}

}  // namespace

int PackCommand(const std::vector<std::string>& args) {
    // args[0] == "pack"
    if (args.size() < 2 || args[1] == "-h" || args[1] == "--help") {
        std::cout << kPackUsage;
        return args.size() < 2 ? 2 : 0;
    }
    const std::string sub = args[1];
    std::vector<std::string> positional;
    bool json = false;
    bool force = false;
    for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "-j" || args[i] == "--json") {
            json = true;
        } else if (args[i] == "--force" || args[i] == "-f") {
            force = true;
        } else if (args[i].size() > 1 && args[i][0] == '-') {
            return Usage("unknown option " + args[i]);
        } else {
            positional.push_back(args[i]);
        }
    }
    api::ApiClient client = CliClient();

    if (sub == "install") {
        if (positional.empty()) return Usage("install: give at least one pack source");
        for (auto& p : positional) p = AbsoluteIfLocalPath(p);
        return StartAndFollow(client, "/packs/install", {{"packs", positional}, {"force", force}});
    }
    if (sub == "remove" || sub == "uninstall") {
        if (positional.empty()) return Usage("remove: give at least one pack ref");
        return StartAndFollow(client, "/packs/uninstall", {{"packs", positional}});
    }
    if (sub == "list") {
        Result<api::ApiResponse> r = client.Get("/packs?limit=1000");
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
        } else {
            PrintPacks(r->body);
        }
        return 0;
    }
    if (sub == "get") {
        if (positional.size() != 1) return Usage("get: give one pack ref");
        Result<api::ApiResponse> r = client.Get("/packs/" + positional[0]);
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
        } else {
            PrintPack(r->body);
        }
        WarnTriggerDataInShell(client, positional[0]);
        return 0;
    }
    if (sub == "register") {
        Json body = Json::object();
        if (!positional.empty()) body["packs"] = positional;
        Result<api::ApiResponse> r = client.Post("/packs/register", body);
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
            return 0;
        }
        std::cout << "registered " << r->body.value("packs", Json::array()).size()
                  << " packs: " << r->body.value("actions", Json(0)).dump() << " actions, "
                  << r->body.value("rules", Json(0)).dump() << " rules\n";
        for (const auto& e : r->body.value("load_errors", Json::array()))
            std::cout << "  load error: " << Str(e) << "\n";
        for (const auto& w : r->body.value("load_warnings", Json::array()))
            std::cout << "  warning: " << Str(w) << "\n";
        return 0;
    }
    if (sub == "config") {
        if (positional.size() < 2) return Usage("config: give a pack and at least one key=value");
        const std::string pack = positional[0];
        Json values = Json::object();
        Result<api::ApiResponse> current = client.Get("/configs/" + pack);
        if (current) {
            const Json& b = current->body;
            values = b.is_object() && b.contains("values") && b["values"].is_object() ? b["values"] : b;
            if (!values.is_object()) values = Json::object();
        } else if (current.error().code != ErrorCode::kNotFound) {
            return Fail(current.error());
        }
        // The schema decides how a value is read: text for `type: string`, JSON (falling back to text) otherwise.
        Json schema = Json::object();
        if (Result<api::ApiResponse> s = client.Get("/config_schemas/" + pack);
            s && s->body.is_object() && s->body.contains("attributes") && s->body["attributes"].is_object()) {
            schema = s->body["attributes"];
        }
        for (size_t i = 1; i < positional.size(); ++i) {
            const std::string& kv = positional[i];
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) return Usage("config: \"" + kv + "\": expected key=value");
            const std::string text = kv.substr(eq + 1);
            // `a.b=1` sets b inside object a.
            std::vector<std::string> path;
            for (size_t start = 0;;) {
                const size_t dot = kv.find('.', start);
                if (dot == std::string::npos || dot > eq) {
                    path.push_back(kv.substr(start, eq - start));
                    break;
                }
                path.push_back(kv.substr(start, dot - start));
                start = dot + 1;
            }
            const Json* props = &schema;
            const Json* spec = nullptr;
            for (const std::string& part : path) {
                spec = props && props->is_object() && props->contains(part) ? &(*props)[part] : nullptr;
                props = spec && spec->contains("properties") ? &(*spec)["properties"] : nullptr;
            }
            if (!schema.empty() && !schema.contains(path[0])) {
                std::vector<std::string> names;
                for (const auto& [k, v] : schema.items()) names.push_back(k);
                const std::string close = core::ClosestMatch(path[0], names);
                std::cerr << "warning: \"" << path[0] << "\" is not in " << pack << "'s config.schema.yaml"
                          << (close.empty() ? "" : " (did you mean \"" + close + "\"?)") << "\n";
            }
            const bool text_type = spec && spec->is_object() && spec->value("type", Json()) == "string";
            Result<Json> read = core::ParseJsonLimited(text, path[0]);
            Json parsed = text_type || !read ? Json(text) : *read;
            Json* slot = &values;
            for (size_t k = 0; k + 1 < path.size(); ++k) {
                if (!slot->contains(path[k]) || !(*slot)[path[k]].is_object()) (*slot)[path[k]] = Json::object();
                slot = &(*slot)[path[k]];
            }
            (*slot)[path.back()] = parsed;
        }
        Result<api::ApiResponse> r = client.Put("/configs/" + pack, values);
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
        } else {
            const Json shown = r->body.is_object() && r->body.contains("values") ? r->body["values"] : r->body;
            std::cout << "config of " << pack << ":\n";
            for (const auto& [k, v] : shown.items()) std::cout << "  " << k << ": " << Str(v) << "\n";
        }
        return 0;
    }
    return Usage("unknown subcommand \"" + sub + "\"");
}

}  // namespace squall::app
