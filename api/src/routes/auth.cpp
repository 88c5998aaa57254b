// Auth (reference §2.2, SPEC §10): tokens from HTTP Basic against DATA/users.json, token validation and
// revocation, the authenticated user, and API keys CRUD. Secrets are shown once, in the answer that creates them;
// only their SHA-256 is stored.
#include <algorithm>

#include "http.hpp"
#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"

namespace squall::api {
namespace {

/// The (user, password) of an `Authorization: Basic` header.
Result<std::pair<std::string, std::string>> BasicCredentials(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) {
        return Error(ErrorCode::kUnauthenticated, "Unauthorized - Authorization header (HTTP Basic) is required.");
    }
    if (header.size() < 6 || header.substr(0, 6) != "Basic ") {
        return Error(ErrorCode::kUnauthenticated, "Unauthorized - the Authorization header is not HTTP Basic.");
    }
    Result<std::string> decoded = core::Base64Decode(header.substr(6));
    const size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
        return Error(ErrorCode::kUnauthenticated, "Unauthorized - the Basic credentials are malformed.");
    }
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

/// A hash of no password anyone has, checked when the user is unknown, so that an unknown user takes as long to
/// refuse as a wrong password (no user enumeration through timing).
const std::string& DummyHash() {
    static const std::string kHash = core::HashPasswordBlocking(core::RandomToken());
    return kHash;
}

/// The requested token lifetime: body `ttl` (positive integer, at most the maximum) or the default.
Result<int64_t> TokenTtl(const Json& body, const ApiOptions& options) {
    if (!body.contains("ttl")) return options.token_ttl;
    const Json& ttl = body["ttl"];
    if (!ttl.is_number_integer() || ttl.get<int64_t>() <= 0) {
        return InvalidArgument("body: \"ttl\" must be a positive whole number of seconds");
    }
    if (ttl.get<int64_t>() > options.token_max_ttl) {
        return InvalidArgument(
            "body: \"ttl\": TTL specified " + std::to_string(ttl.get<int64_t>()) + " is greater than max allowed " +
            std::to_string(options.token_max_ttl)
        );
    }
    return ttl.get<int64_t>();
}

/// An API key as StackStorm shows it (`key_hash` masked unless show_secrets, which the router keeps to admins).
Json ApiKeyJson(const std::string& hash, const Json& meta, bool show_secrets) {
    const std::string id = meta.value("id", hash.substr(0, 24));
    return {
        {"id", id},
        {"uid", "api_key:" + id},
        {"user", meta.value("user", "")},
        {"key_hash", show_secrets ? hash : std::string("********")},
        {"metadata", meta.value("metadata", Json::object())},
        {"created_at", meta.value("created_at", "")},
        {"enabled", meta.value("enabled", true)}};
}

bool ShowSecrets(const httplib::Request& req) {
    const std::string v = req.get_param_value("show_secrets");
    return req.has_param("show_secrets") && v != "false" && v != "False" && v != "0";
}

/// Every stored key: (hash, metadata), oldest first.
Result<std::vector<std::pair<std::string, Json>>> AllKeys(core::RedisClient& redis) {
    Result<core::RedisReply> all = redis.CommandBlocking({"HGETALL", redis.Key("apikeys")});
    if (!all) return all.error();
    if (all->IsError()) return Unavailable("redis: " + all->str);
    std::vector<std::pair<std::string, Json>> out;
    for (size_t i = 0; i + 1 < all->elements.size(); i += 2) {
        Json meta = Json::parse(all->elements[i + 1].str, nullptr, false);
        if (meta.is_object()) out.emplace_back(all->elements[i].str, std::move(meta));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.second.value("created_at", "") < b.second.value("created_at", "");
    });
    return out;
}

/// The key whose id is `id_or_key`, or whose key is it (StackStorm accepts both); kNotFound otherwise.
Result<std::pair<std::string, Json>> FindKey(core::RedisClient& redis, const std::string& id_or_key) {
    Result<std::vector<std::pair<std::string, Json>>> all = AllKeys(redis);
    if (!all) return all.error();
    const std::string hash = core::Sha256Hex(id_or_key);
    for (auto& [h, meta] : *all) {
        if (meta.value("id", "") == id_or_key || h == hash) return std::make_pair(h, meta);
    }
    return NotFound("API key \"" + id_or_key + "\" not found");
}

Status PutKey(core::RedisClient& redis, const std::string& hash, const Json& meta) {
    Result<core::RedisReply> r = redis.CommandBlocking({"HSET", redis.Key("apikeys"), hash, meta.dump()});
    if (!r) return r.error();
    if (r->IsError()) return Unavailable("redis: " + r->str);
    return {};
}

void RegisterTokenRoutes(Router& r, const ApiOptions& options) {
    Authenticator& auth = r.auth();
    // POST /auth/v1/tokens: HTTP Basic → 201 {user, token, expiry, id, metadata}. Public: the Basic credentials
    // are its authentication. PBKDF2 runs here, on an HTTP worker thread (never an event loop).
    auto create = [&auth, options](const httplib::Request& req, httplib::Response& res, const Identity&) {
        Result<std::pair<std::string, std::string>> creds = BasicCredentials(req);
        if (!creds) return SendError(res, creds.error());
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        Result<int64_t> ttl = TokenTtl(*body, options);
        if (!ttl) return SendError(res, ttl.error());
        std::optional<UserRecord> user = auth.users().Find(creds->first);
        const bool ok = core::VerifyPasswordBlocking(creds->second, user ? user->password_hash : DummyHash());
        if (!user || !ok) {
            return SendError(res, Error(ErrorCode::kUnauthenticated, "Unauthorized - Invalid or missing credentials"));
        }
        Result<Json> token = auth.tokens().CreateBlocking(user->name, *ttl, Json::object());
        if (!token) return SendError(res, token.error());
        SendJson(res, 201, *token);
    };
    // POST /auth/v1/tokens/validate {token} → {valid}: whether the token would be accepted now.
    auto validate = [&auth](const httplib::Request& req, httplib::Response& res, const Identity&) {
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        if (!body->contains("token") || !(*body)["token"].is_string()) {
            return SendError(res, InvalidArgument("body: \"token\" (a string) is required"));
        }
        httplib::Request probe;
        probe.headers.emplace("X-Auth-Token", (*body)["token"].get<std::string>());
        Result<Identity> who = auth.Check(probe);
        if (!who && who.error().code != ErrorCode::kUnauthenticated) return SendError(res, who.error());
        SendJson(res, 200, {{"valid", static_cast<bool>(who)}});
    };
    // DELETE /auth/v1/tokens/{token or id}: revokes a token. Users revoke their own; admins anyone's.
    auto revoke = [&auth](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        const std::string target = req.matches[1];
        Result<Json> record = auth.tokens().LookupBlocking(target);
        if (record && record->value("user", "") != who.user) {
            if (Status st = RequireAdmin(who, "revoking another user's token"); !st) return SendError(res, st.error());
        }
        if (!record && !who.admin) {
            // By id: only admins may revoke what they cannot show they hold.
            if (Status st = RequireAdmin(who, "revoking a token by its id"); !st) return SendError(res, st.error());
        }
        Result<Json> revoked = auth.tokens().RevokeBlocking(target);
        if (!revoked) return SendError(res, revoked.error());
        res.status = 204;
    };
    for (const std::string prefix : {"/auth/v1", "/auth"}) {
        r.PostAt(prefix + "/tokens", create, /*needs_auth=*/false);
        r.PostAt(prefix + "/tokens/validate", validate);
        r.DeleteAt(prefix + R"(/tokens/([^/]+))", revoke);
    }
}

}  // namespace

void RegisterAuthRoutes(Router& r, ApiDeps& d, const ApiOptions& options) {
    RegisterTokenRoutes(r, options);
    Authenticator& auth = r.auth();

    // The authenticated user, as StackStorm's /user (`st2 whoami`).
    r.Get("/user", [](const httplib::Request&, httplib::Response& res, const Identity& who) {
        Json roles = who.admin ? Json::array({"admin"}) : Json::array();
        Json auth_info = {{"method", who.method}, {"location", who.location}};
        if (!who.token_expire.empty()) auth_info["token_expire"] = who.token_expire;  // `st2 whoami` prints it
        if (!who.execution_id.empty()) auth_info["execution_id"] = who.execution_id;
        SendJson(
            res,
            200,
            {{"username", who.user},
             {"authentication", auth_info},
             {"rbac", {{"enabled", true}, {"roles", roles}, {"is_admin", who.admin}}}}
        );
    });

    // API keys: admins only (StackStorm's api_key_* permissions, which only admin roles hold by default).
    r.Get("/apikeys", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        if (Status st = RequireAdmin(who, "listing API keys"); !st) return SendError(res, st.error());
        Result<std::vector<std::pair<std::string, Json>>> all = AllKeys(*d.redis);
        if (!all) return SendError(res, all.error());
        Result<Page> page = QueryPage(req, 100000);
        if (!page) return SendError(res, page.error());
        std::vector<Json> items;
        for (size_t i = page->offset; i < all->size() && items.size() < page->limit; ++i) {
            items.push_back(ApiKeyJson((*all)[i].first, (*all)[i].second, ShowSecrets(req)));
        }
        SendList(res, items, all->size(), page->limit);
    });
    r.Get(R"(/apikeys/([^/]+))", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        if (Status st = RequireAdmin(who, "reading API keys"); !st) return SendError(res, st.error());
        Result<std::pair<std::string, Json>> key = FindKey(*d.redis, req.matches[1]);
        if (!key) return SendError(res, key.error());
        SendJson(res, 200, ApiKeyJson(key->first, key->second, ShowSecrets(req)));
    });
    // POST {user?, metadata?, enabled?} → 201 with the key (the only time it is shown); or, as `st2 apikey load`,
    // {user, key_hash, ...} to store an existing key's hash (no key in the answer).
    r.Post("/apikeys", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        if (Status st = RequireAdmin(who, "creating API keys"); !st) return SendError(res, st.error());
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        const std::string user = body->value("user", who.user);
        if (Status st = ValidateUserName(user); !st)
            return SendError(res, InvalidArgument("body: \"user\": " + st.error().message));
        if (body->contains("metadata") && !(*body)["metadata"].is_object()) {
            return SendError(res, InvalidArgument("body: \"metadata\" must be an object"));
        }
        std::string key;
        std::string hash;
        if (body->contains("key_hash")) {
            hash = body->value("key_hash", "");
            if (!core::ParseSha256Hex(hash)) {
                return SendError(res, InvalidArgument("body: \"key_hash\" must be a SHA-256 (64 hex digits)"));
            }
        } else {
            key = core::RandomToken();
            hash = core::Sha256Hex(key);
        }
        Json meta = {
            {"user", user},
            {"id", body->value("id", core::NewId())},
            {"created_at", core::FormatIsoTimestamp(d.clock.Now())},
            {"enabled", body->value("enabled", true)},
            {"metadata", body->value("metadata", Json::object())}};
        Result<core::RedisReply> r2 = d.redis->CommandBlocking({"HSETNX", d.redis->Key("apikeys"), hash, meta.dump()});
        if (!r2) return SendError(res, r2.error());
        if (r2->IsError()) return SendError(res, Unavailable("redis: " + r2->str));
        if (r2->integer == 0)
            return SendError(res, Error(ErrorCode::kAlreadyExists, "an API key with this key_hash exists"));
        Json out = ApiKeyJson(hash, meta, false);
        out.erase("key_hash");
        if (!key.empty()) out["key"] = key;
        SendJson(res, 201, out);
    });
    // PUT {enabled?, metadata?, user?}: `st2 apikey enable|disable` sends the whole object back.
    r.Put(R"(/apikeys/([^/]+))", [&d, &auth](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        if (Status st = RequireAdmin(who, "changing API keys"); !st) return SendError(res, st.error());
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        Result<std::pair<std::string, Json>> key = FindKey(*d.redis, req.matches[1]);
        if (!key) return SendError(res, key.error());
        Json meta = key->second;
        if (body->contains("enabled")) {
            if (!(*body)["enabled"].is_boolean())
                return SendError(res, InvalidArgument("body: \"enabled\" must be true or false"));
            meta["enabled"] = (*body)["enabled"];
        }
        if (body->contains("metadata")) {
            if (!(*body)["metadata"].is_object())
                return SendError(res, InvalidArgument("body: \"metadata\" must be an object"));
            meta["metadata"] = (*body)["metadata"];
        }
        if (body->contains("user")) {
            const std::string user = body->value("user", "");
            if (Status st = ValidateUserName(user); !st)
                return SendError(res, InvalidArgument("body: \"user\": " + st.error().message));
            meta["user"] = user;
        }
        if (Status st = PutKey(*d.redis, key->first, meta); !st) return SendError(res, st.error());
        auth.ForgetKey(key->first);
        SendJson(res, 200, ApiKeyJson(key->first, meta, false));
    });
    r.Delete(
        R"(/apikeys/([^/]+))",
        [&d, &auth](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            if (Status st = RequireAdmin(who, "deleting API keys"); !st) return SendError(res, st.error());
            Result<std::pair<std::string, Json>> key = FindKey(*d.redis, req.matches[1]);
            if (!key) return SendError(res, key.error());
            Result<core::RedisReply> del = d.redis->CommandBlocking({"HDEL", d.redis->Key("apikeys"), key->first});
            if (!del) return SendError(res, del.error());
            if (del->IsError()) return SendError(res, Unavailable("redis: " + del->str));
            auth.ForgetKey(key->first);
            res.status = 204;
        }
    );
}

}  // namespace squall::api
