// Pack management (StackStorm's packs API, reference §2): install and uninstall are executions of the bundled
// `packs` pack's actions (202 {"execution_id": ...}); register re-reads packs from disk synchronously.
#include <filesystem>
#include <set>

#include "http.hpp"
#include "squall/core/id.hpp"
#include "squall/packs/loader.hpp"
#include "squall/packs/parameters.hpp"
#include "squall/rules/engine.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/sensors/timers.hpp"
#include "squall/workflows/pack_check.hpp"

namespace squall::api {
namespace {

namespace fs = std::filesystem;

/// body.packs as a list of strings; kInvalidArgument naming the field otherwise.
Result<Json> PacksField(const Json& body, bool required) {
    if (!body.is_object()) return InvalidArgument("body: must be an object");
    if (!body.contains("packs")) {
        if (required) return InvalidArgument("body: \"packs\" (a list of packs) is required");
        return Json::array();
    }
    const Json& p = body["packs"];
    if (!p.is_array()) return InvalidArgument("body: \"packs\" must be a list of strings");
    for (size_t i = 0; i < p.size(); ++i) {
        if (!p[i].is_string() || p[i].get<std::string>().empty()) {
            return InvalidArgument("body: \"packs[" + std::to_string(i) + "]\" must be a non-empty string");
        }
    }
    if (required && p.empty()) return InvalidArgument("body: \"packs\" must name at least one pack");
    return p;
}

/// Creates an execution of `ref` (a packs.* action) through the execution service, as POST /executions does.
Result<std::string> CreateExecution(ApiDeps& d, const std::string& ref, const Json& given, const std::string& user) {
    executions::ExecutionSpec spec;
    spec.action_ref = ref;
    spec.parameters = given;
    spec.user = user;
    spec.api_user = user;
    Result<std::string> id = d.execution_service.RequestBlocking(spec);
    if (!id && id.error().code == ErrorCode::kNotFound) {
        return Unavailable("action \"" + ref + "\" is not registered (the bundled packs pack did not load)");
    }
    return id;
}

/// Folders to re-read: every registered pack's folder (bundled packs included) and DATA/packs/*.
std::vector<std::string> PackFolders(const ApiDeps& d, const packs::ContentSnapshot& snap) {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& [ref, pack] : snap.packs) {
        const std::string path = pack.value("path", "");
        if (!path.empty() && fs::exists(fs::path(path) / "pack.yaml", ec)) out.insert(path);
    }
    if (!d.data_dir.empty()) {
        const fs::path base = fs::path(d.data_dir) / "packs";
        if (fs::is_directory(base, ec)) {
            for (const auto& entry : fs::directory_iterator(base, ec)) {
                if (entry.is_directory() && fs::exists(entry.path() / "pack.yaml", ec)) {
                    out.insert(fs::absolute(entry.path()).string());
                }
            }
        }
    }
    return {out.begin(), out.end()};
}

}  // namespace

void RegisterPackManageRoutes(Router& r, ApiDeps& d) {
    r.Post("/packs/install", AdminOnly("installing packs", [&d](const httplib::Request& req, httplib::Response& res) {
               Result<Json> body = ParseObjectBody(req);
               if (!body) return SendError(res, body.error());
               Result<Json> packs_list = PacksField(*body, true);
               if (!packs_list) return SendError(res, packs_list.error());
               Json given = {{"packs", *packs_list}};
               if (body->contains("force")) {
                   if (!(*body)["force"].is_boolean())
                       return SendError(res, InvalidArgument("body: \"force\" must be a boolean"));
                   given["force"] = (*body)["force"];
               }
               Result<std::string> id = CreateExecution(d, "packs.install", given, "admin");
               if (!id) return SendError(res, id.error());
               SendJson(res, 202, {{"execution_id", *id}});
           }));

    r.Post("/packs/uninstall", AdminOnly("removing packs", [&d](const httplib::Request& req, httplib::Response& res) {
               Result<Json> body = ParseObjectBody(req);
               if (!body) return SendError(res, body.error());
               Result<Json> packs_list = PacksField(*body, true);
               if (!packs_list) return SendError(res, packs_list.error());
               Result<std::string> id = CreateExecution(d, "packs.uninstall", {{"packs", *packs_list}}, "admin");
               if (!id) return SendError(res, id.error());
               SendJson(res, 202, {{"execution_id", *id}});
           }));

    // Synchronous: loads each pack folder, checks runner types and rule operators (as at start-up), registers.
    r.Post("/packs/register", AdminOnly("registering packs", [&d](const httplib::Request& req, httplib::Response& res) {
               Result<Json> body = ParseObjectBody(req);
               if (!body) return SendError(res, body.error());
               Result<Json> packs_list = PacksField(*body, false);
               if (!packs_list) return SendError(res, packs_list.error());
               std::set<std::string> wanted;  // empty: every pack
               for (const auto& p : *packs_list) wanted.insert(p.get<std::string>());
               std::set<std::string> missing = wanted;
               Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
               if (!snap) return SendError(res, snap.error());
               packs::PackLoaderOptions options;
               if (!d.data_dir.empty()) options.configs_dir = (fs::path(d.data_dir) / "configs").string();
               for (const auto& [name, rt] : (*snap)->runner_types) {
                   options.runner_types.insert(name);
                   options.runner_parameters[name] = rt.value("runner_parameters", Json::object());
               }
               options.check_rule = sensors::WithTimerCheck(rules::MakeRuleCheck(d.operators));
               options.check_workflow = workflows::MakeWorkflowCheck();
               packs::PackLoader loader(options);
               Json registered = Json::array();
               Json errors = Json::array();
               Json warnings = Json::array();
               size_t actions = 0;
               size_t rules_count = 0;
               for (const auto& dir : PackFolders(d, **snap)) {
                   Result<packs::LoadedPack> pack = loader.LoadPackBlocking(dir);
                   if (!pack) {
                       if (wanted.empty()) errors.push_back(pack.error().What());
                       continue;
                   }
                   if (!wanted.empty() && !wanted.count(pack->meta.ref)) continue;
                   missing.erase(pack->meta.ref);
                   std::vector<std::string> merged;  // built-in content of a system pack that wins
                   if (Status st = d.content.RegisterPackBlocking(*pack, false, &merged); !st)
                       return SendError(res, st.error());
                   for (const auto& w : merged) warnings.push_back(w);
                   registered.push_back(pack->meta.ref);
                   actions += pack->actions.size();
                   rules_count += pack->rules.size();
                   for (const auto& e : pack->errors) errors.push_back(e.What());
                   for (const auto& w : pack->warnings) warnings.push_back(w.What());
               }
               if (!missing.empty()) {
                   return SendError(res, NotFound("pack \"" + *missing.begin() + "\" not found on disk"));
               }
               d.content_cache.Invalidate();
               SendJson(
                   res,
                   200,
                   {{"packs", registered},
                    {"actions", actions},
                    {"rules", rules_count},
                    {"load_errors", errors},
                    {"load_warnings", warnings}}
               );
           }));
}

}  // namespace squall::api
