// Action aliases and alias executions (StackStorm's actionalias and aliasexecution controllers): create, replace
// and delete aliases (the list and get routes are in packs_content.cpp), match a command, help strings, and run an
// alias. docs/chatops.md.
#include "chatops/alias_service.hpp"
#include "http.hpp"
#include "squall/core/input.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::api {
namespace {

constexpr const char* kRefPattern = R"(/actionalias/([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+))";

/// An alias from a request body, validated as a pack's aliases/*.yaml is (errors name the field).
Result<packs::AliasMeta> AliasFromBody(const Json& body) {
    core::YamlDocument doc;
    doc.file = "body";
    doc.value = body;
    const std::string pack = body.value("pack", Json("")).is_string() ? body.value("pack", "") : "";
    // Checked as a rule's pack is (`../../etc`, `a/b`, 5,000 characters: an alias stored under such a ref could not
    // be deleted through the API, and still took part in matching).
    if (!pack.empty()) {
        if (Status st = core::CheckPackName("body: pack", pack); !st) return st.error();
    }
    return packs::AliasMeta::FromDocument(doc, pack.empty() ? "default" : pack);
}

Status Store(ApiDeps& d, const packs::AliasMeta& alias, bool create_only) {
    Result<core::RedisReply> r = d.redis->CommandBlocking(
        {create_only ? "HSETNX" : "HSET", d.content.AliasesKey(), alias.Ref(), alias.ToJson().dump()}
    );
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (create_only && r->integer == 0)
        return Error(ErrorCode::kAlreadyExists, "action alias \"" + alias.Ref() + "\" already exists");
    Result<core::RedisReply> v =
        d.redis->CommandBlocking({"INCR", packs::ContentKeys(d.redis->Key("")).ContentVersion()});
    if (!v) return v.error();
    return {};
}

/// `command` of a match body: a non-empty string.
Result<std::string> Command(const Json& body) {
    auto it = body.find("command");
    if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
        return InvalidArgument("body: \"command\" (the text to match) is required");
    return it->get<std::string>();
}

std::string OptionalString(const Json& body, const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

chatops::AliasCaller Caller(const Json& body, const std::string& requester) {
    chatops::AliasCaller c;
    c.requester = requester;
    c.user = OptionalString(body, "user");
    c.source_channel = OptionalString(body, "source_channel");
    c.source_context = body.value("source_context", Json());
    c.notification_route = OptionalString(body, "notification_route");
    if (c.notification_route.empty()) c.notification_route = OptionalString(body, "notification_channel");
    return c;
}

/// StackStorm answers both "no alias" and "more than one" with 400.
Error AsBadRequest(Error e) {
    if (e.code == ErrorCode::kNotFound) e.code = ErrorCode::kInvalidArgument;
    return e;
}

}  // namespace

void RegisterChatOpsAliasRoutes(Router& r, ApiDeps& d) {
    r.Post(
        "/actionalias",
        AdminOnly(
            "creating action aliases",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                Result<packs::AliasMeta> alias = AliasFromBody(*body);
                if (!alias) return SendError(res, alias.error());
                if (Status s = Store(d, *alias, true); !s) return SendError(res, s.error());
                d.content_cache.Invalidate();
                SendJson(res, 201, alias->ToJson());
            }
        )
    );
    r.Put(kRefPattern, AdminOnly("changing action aliases", [&d](const httplib::Request& req, httplib::Response& res) {
              Result<Json> body = ParseObjectBody(req);
              if (!body) return SendError(res, body.error());
              Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
              if (!snap) return SendError(res, snap.error());
              const std::string ref = req.matches[1];
              if (!(*snap)->aliases.contains(ref))
                  return SendError(res, NotFound("action alias \"" + ref + "\" not found"));
              Result<packs::AliasMeta> alias = AliasFromBody(*body);
              if (!alias) return SendError(res, alias.error());
              if (alias->Ref() != ref)
                  return SendError(
                      res, InvalidArgument("body: pack and name make \"" + alias->Ref() + "\", not \"" + ref + "\"")
                  );
              if (Status s = Store(d, *alias, false); !s) return SendError(res, s.error());
              d.content_cache.Invalidate();
              SendJson(res, 200, alias->ToJson());
          }));
    r.Delete(
        kRefPattern,
        AdminOnly(
            "deleting action aliases",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<core::RedisReply> del =
                    d.redis->CommandBlocking({"HDEL", d.content.AliasesKey(), req.matches[1]});
                if (!del) return SendError(res, del.error());
                if (del->integer == 0)
                    return SendError(res, NotFound("action alias \"" + std::string(req.matches[1]) + "\" not found"));
                (void)d.redis->CommandBlocking({"INCR", packs::ContentKeys(d.redis->Key("")).ContentVersion()});
                d.content_cache.Invalidate();
                res.status = 204;
            }
        )
    );

    // {command} → {actionalias, display, representation}; no match and ambiguity are 400 as in StackStorm.
    r.Post("/actionalias/match", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        Result<std::string> command = Command(*body);
        if (!command) return SendError(res, command.error());
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        Result<aliases::AliasMatch> m = chatops::IndexFor(**snap)->Match(*command);
        if (!m) return SendError(res, AsBadRequest(m.error()));
        SendJson(res, 200, {{"actionalias", m->alias}, {"display", m->display}, {"representation", m->representation}});
    });

    r.Get("/actionalias/help", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<size_t> limit = QueryCount(req, "limit", 0, 1000000);
        if (!limit) return SendError(res, limit.error());
        Result<size_t> offset = QueryCount(req, "offset", 0, 1000000000);
        if (!offset) return SendError(res, offset.error());
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        Result<Json> help = aliases::HelpStrings(
            (*snap)->aliases, req.get_param_value("filter"), req.get_param_value("pack"), *limit, *offset
        );
        if (!help) return SendError(res, help.error());
        SendJson(res, 200, *help);
    });

    // {name, format, command, user, source_channel, ...} → 201 {execution, actionalias, message?, extra?}.
    r.Post("/aliasexecution", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        const std::string name = OptionalString(*body, "name");
        if (name.empty()) return SendError(res, InvalidArgument("Alias execution \"name\" is required"));
        const std::string* requester = &who.user;
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        Result<Json> alias = chatops::AliasByName(**snap, name);
        if (!alias) return SendError(res, alias.error());
        Result<chatops::AliasRun> run = chatops::ExecuteAlias(
            d, *alias, OptionalString(*body, "format"), OptionalString(*body, "command"), Caller(*body, *requester)
        );
        if (!run) return SendError(res, run.error());
        SendJson(res, 201, run->body);
    });

    // {command, user, source_channel, ...} → 201 {results: [{execution, actionalias, message?}]}.
    r.Post(
        "/aliasexecution/match_and_execute",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            Result<Json> body = ParseObjectBody(req);
            if (!body) return SendError(res, body.error());
            Result<std::string> command = Command(*body);
            if (!command) return SendError(res, command.error());
            const std::string* requester = &who.user;
            Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
            if (!snap) return SendError(res, snap.error());
            Result<aliases::AliasMatch> m = chatops::IndexFor(**snap)->Match(*command);
            if (!m) return SendError(res, AsBadRequest(m.error()));
            Result<chatops::AliasRun> run =
                chatops::ExecuteAlias(d, m->alias, m->representation, *command, Caller(*body, *requester));
            if (!run) return SendError(res, run.error());
            SendJson(res, 201, {{"results", Json::array({run->body})}});
        }
    );
}

}  // namespace squall::api
