// The datastore API (reference §2 "keys", §8): /keys CRUD in StackStorm's shapes. A secret's value is shown as
// "********" unless the request says decrypt=true (docs/decisions.md "Datastore").

#include "http.hpp"
#include "squall/core/store/kv_store.hpp"

namespace squall::api {
namespace {

/// Who the request acts for and how it wants values shown.
struct KeyRequest {
    std::string scope;  ///< "system", "user" or (lists only) "all"
    std::string user;   ///< owner of user-scoped keys: ?user= or the authenticated user
    bool decrypt = false;
};

Result<bool> QueryBool(const httplib::Request& req, const std::string& name) {
    if (!req.has_param(name.c_str())) return false;
    const std::string v = req.get_param_value(name.c_str());
    if (v == "true" || v == "True" || v == "1" || v.empty()) return true;
    if (v == "false" || v == "False" || v == "0") return false;
    return InvalidArgument("query parameter \"" + name + "\": \"" + v + "\" is not true or false");
}

/// Non-admins: their own user-scoped keys; system-scoped keys to read, not to decrypt (reference §8).
Result<KeyRequest> ParseKeyRequest(
    const httplib::Request& req, const Identity& who, const std::string& default_scope, bool allow_all
) {
    KeyRequest out;
    const std::string scope = req.has_param("scope") ? req.get_param_value("scope") : default_scope;
    Result<std::string> parsed = core::ParseKvScope(scope, allow_all);
    if (!parsed) return InvalidArgument("query parameter \"scope\": " + parsed.error().message.substr(7));
    out.scope = *parsed;
    Result<bool> decrypt = QueryBool(req, "decrypt");
    if (!decrypt) return decrypt.error();
    out.decrypt = *decrypt;
    out.user = req.has_param("user") && !req.get_param_value("user").empty() ? req.get_param_value("user") : who.user;
    if (out.user != who.user && out.scope != "system") {
        if (Status st = RequireAdmin(who, "another user's keys (user=" + out.user + ")"); !st) return st.error();
    }
    if (out.decrypt && out.scope != "user") {
        if (Status st = RequireAdmin(who, "decrypting system-scoped keys"); !st) return st.error();
    }
    return out;
}

/// The API JSON of a stored pair: a secret is masked, or in clear with decrypt.
Result<Json> Shown(core::KvStore& kv, const core::KeyValuePair& p, bool decrypt) {
    if (!p.secret) return p.ToApiJson(p.value, false);
    if (!decrypt) return p.ToApiJson(core::kKvMask, true);
    Result<std::string> clear = kv.ClearValue(p);
    if (!clear) return clear.error();
    return p.ToApiJson(*clear, false);
}

Result<core::KeyValuePair> PairFromBody(const Json& body, const std::string& name, const std::string& user) {
    if (!body.is_object()) return InvalidArgument("body: must be a JSON object");
    core::KeyValuePair p;
    p.name = name;
    if (body.contains("name") && !body["name"].is_null()) {
        if (!body["name"].is_string()) return InvalidArgument("name: must be a string");
        if (body["name"] != name) {
            return InvalidArgument(
                "name: \"" + body["name"].get<std::string>() + "\" differs from the URL's \"" + name + "\""
            );
        }
    }
    if (!body.contains("value") || !body["value"].is_string()) {
        return InvalidArgument("value: is required and must be a string");
    }
    p.value = body["value"];
    if (body.contains("scope") && !body["scope"].is_null()) {
        if (!body["scope"].is_string()) return InvalidArgument("scope: must be a string");
        Result<std::string> scope = core::ParseKvScope(body["scope"].get<std::string>());
        if (!scope) return scope.error();
        p.scope = *scope;
    }
    if (body.contains("secret") && !body["secret"].is_null()) {
        if (!body["secret"].is_boolean()) return InvalidArgument("secret: must be true or false");
        p.secret = body["secret"];
    }
    if (body.contains("encrypted") && body["encrypted"] == true) {
        return InvalidArgument(
            "encrypted: loading values encrypted elsewhere is not supported; send the clear value "
            "with secret=true"
        );
    }
    if (body.contains("ttl") && !body["ttl"].is_null()) {
        const Json& ttl = body["ttl"];
        if (!ttl.is_number_integer() || (ttl.is_number_unsigned() && ttl.get<uint64_t>() > INT64_MAX) ||
            ttl.get<int64_t>() <= 0 || ttl.get<int64_t>() > core::kMaxKvTtlSeconds) {
            return InvalidArgument(
                "ttl: " + ttl.dump() + " is not a whole number of seconds from 1 to " +
                std::to_string(core::kMaxKvTtlSeconds) + " (100 years)"
            );
        }
        p.ttl = ttl.get<int64_t>();
    }
    if (body.contains("description") && !body["description"].is_null()) {
        if (!body["description"].is_string()) return InvalidArgument("description: must be a string");
        p.description = body["description"];
    }
    p.user = user;
    if (body.contains("user") && body["user"].is_string() && !body["user"].get<std::string>().empty()) {
        p.user = body["user"];
    }
    return p;
}

}  // namespace

void RegisterKeyRoutes(Router& r, ApiDeps& d) {
    if (!d.kv) return;
    core::KvStore& kv = *d.kv;

    r.Get("/keys", [&kv](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        // Without a scope, StackStorm's get_all lists the system scope (a `user` implies the user scope); the st2 CLI
        // asks for `all` itself, but `st2 key delete_by_prefix` lists without one and deletes what it finds there.
        Result<KeyRequest> kr = ParseKeyRequest(req, who, req.has_param("user") ? "user" : "system", true);
        if (!kr) return SendError(res, kr.error());
        Result<std::vector<core::KeyValuePair>> pairs =
            kv.ListBlocking(kr->scope, kr->user, req.get_param_value("prefix"));
        if (!pairs) return SendError(res, pairs.error());
        std::vector<Json> items;
        for (size_t i = page->offset; i < pairs->size() && items.size() < page->limit; ++i) {
            Result<Json> shown = Shown(kv, (*pairs)[i], kr->decrypt);
            if (!shown) return SendError(res, shown.error());
            items.push_back(std::move(*shown));
        }
        SendList(res, items, pairs->size(), page->limit);
    });

    r.Get(R"(/keys/(.+))", [&kv](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<KeyRequest> kr = ParseKeyRequest(req, who, "system", false);
        if (!kr) return SendError(res, kr.error());
        Result<core::KeyValuePair> p = kv.GetBlocking(kr->scope, kr->user, req.matches[1]);
        if (!p) return SendError(res, p.error());
        Result<Json> shown = Shown(kv, *p, kr->decrypt);
        if (!shown) return SendError(res, shown.error());
        SendJson(res, 200, *shown);
    });

    r.Put(R"(/keys/(.+))", [&kv](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        Result<core::KeyValuePair> p = PairFromBody(*body, req.matches[1], who.user);
        if (!p) return SendError(res, p.error());
        if (p->scope != "user") {
            if (Status st = RequireAdmin(who, "writing system-scoped keys"); !st) return SendError(res, st.error());
        } else if (p->user != who.user) {
            if (Status st = RequireAdmin(who, "writing another user's keys"); !st) return SendError(res, st.error());
        }
        Result<core::KeyValuePair> stored = kv.SetBlocking(std::move(*p));
        if (!stored) return SendError(res, stored.error());
        Result<Json> shown = Shown(kv, *stored, false);
        if (!shown) return SendError(res, shown.error());
        SendJson(res, 200, *shown);
    });

    r.Delete(R"(/keys/(.+))", [&kv](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<KeyRequest> kr = ParseKeyRequest(req, who, "system", false);
        if (!kr) return SendError(res, kr.error());
        if (kr->scope != "user") {
            if (Status st = RequireAdmin(who, "deleting system-scoped keys"); !st) return SendError(res, st.error());
        }
        Result<core::KeyValuePair> old = kv.DeleteBlocking(kr->scope, kr->user, req.matches[1]);
        if (!old) return SendError(res, old.error());
        res.status = 204;
    });
}

}  // namespace squall::api
