#include "auth.hpp"

#include "squall/core/action_token.hpp"
#include "squall/core/id.hpp"

namespace squall::api {

using core::Json;

Status RequireAdmin(const Identity& who, const std::string& what) {
    if (who.admin) return {};
    return Error(
        ErrorCode::kPermissionDenied,
        what + " is for admins only (user \"" + who.user +
            "\" is not an admin; an admin adds admins with "
            "`squall user add NAME --admin`)"
    );
}

namespace {

Error Unauthenticated(const std::string& why) {
    return Error(ErrorCode::kUnauthenticated, "Unauthorized - " + why);
}

int64_t UnixSeconds(std::chrono::system_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

}  // namespace

Result<Json> TokenStore::CreateBlocking(const std::string& user, int64_t ttl_seconds, const Json& metadata) {
    const std::string token = core::RandomToken();
    const std::string hash = core::Sha256Hex(token);
    const std::string id = core::NewId();
    const auto expiry = clock_.Now() + std::chrono::seconds(ttl_seconds);
    const Json record = {
        {"id", id}, {"user", user}, {"expiry", core::FormatIsoTimestamp(expiry)}, {"metadata", metadata}};
    const std::string ttl = std::to_string(ttl_seconds);
    Result<core::RedisReply> r =
        redis_.CommandBlocking({"SET", redis_.Key("auth:token:" + hash), record.dump(), "EX", ttl});
    if (!r) return r.error();
    if (r->IsError()) return Unavailable("redis: " + r->str);
    r = redis_.CommandBlocking({"SET", redis_.Key("auth:token-id:" + id), hash, "EX", ttl});
    if (!r) return r.error();
    if (r->IsError()) return Unavailable("redis: " + r->str);
    Json out = record;
    out["token"] = token;
    return out;
}

Result<Json> TokenStore::LookupBlocking(const std::string& token) {
    Result<core::RedisReply> r = redis_.CommandBlocking({"GET", redis_.Key("auth:token:" + core::Sha256Hex(token))});
    if (!r) return r.error();
    if (r->IsError()) return Unavailable("redis: " + r->str);
    if (r->IsNil()) return Unauthenticated("Token is not valid (unknown, expired or revoked).");
    Json record = Json::parse(r->str, nullptr, false);
    if (!record.is_object()) return Unauthenticated("Token is not valid.");
    std::chrono::system_clock::time_point expiry;
    if (!core::ParseIsoTimestamp(record.value("expiry", ""), &expiry) || expiry <= clock_.Now()) {
        return Unauthenticated("Token has expired.");
    }
    return record;
}

Result<Json> TokenStore::RevokeBlocking(const std::string& token_or_id) {
    std::string hash;
    Result<core::RedisReply> by_id = redis_.CommandBlocking({"GET", redis_.Key("auth:token-id:" + token_or_id)});
    if (!by_id) return by_id.error();
    if (by_id->IsError()) return Unavailable("redis: " + by_id->str);
    hash = by_id->IsNil() ? core::Sha256Hex(token_or_id) : by_id->str;
    Result<core::RedisReply> got = redis_.CommandBlocking({"GET", redis_.Key("auth:token:" + hash)});
    if (!got) return got.error();
    if (got->IsError()) return Unavailable("redis: " + got->str);
    if (got->IsNil()) return NotFound("token not found (unknown, expired or already revoked)");
    Json record = Json::parse(got->str, nullptr, false);
    if (!record.is_object()) record = Json::object();
    Result<core::RedisReply> del = redis_.CommandBlocking(
        {"DEL", redis_.Key("auth:token:" + hash), redis_.Key("auth:token-id:" + record.value("id", std::string()))}
    );
    if (!del) return del.error();
    if (del->IsError()) return Unavailable("redis: " + del->str);
    return record;
}

Authenticator::Authenticator(
    core::RedisClient& redis,
    const core::Clock& clock,
    UserDirectory& users,
    executions::ExecutionStore* executions,
    std::string action_token_key
)
    : redis_(redis),
      clock_(clock),
      users_(users),
      executions_(executions),
      action_token_key_(std::move(action_token_key)),
      tokens_(redis, clock) {}

Result<Identity> Authenticator::Check(const httplib::Request& req) {
    Identity id;
    std::string token = req.get_header_value("X-Auth-Token");
    id.location = "header";
    if (token.empty() && req.has_param("x-auth-token")) {
        token = req.get_param_value("x-auth-token");
        id.location = "query";
    }
    Identity key_id;
    std::string key = req.get_header_value("St2-Api-Key");
    key_id.location = "header";
    if (key.empty() && req.has_param("st2-api-key")) {
        key = req.get_param_value("st2-api-key");
        key_id.location = "query";
    }
    if (!token.empty()) {
        // Both given (StackStorm's clients send one): a token that is not valid leaves the key to decide.
        Result<Identity> by_token = CheckToken(token, std::move(id));
        if (by_token || key.empty() || by_token.error().code != ErrorCode::kUnauthenticated) return by_token;
    }
    if (!key.empty()) return CheckKey(key, std::move(key_id));
    return Unauthenticated("One of Token or API key required.");
}

Result<Identity> Authenticator::CheckToken(const std::string& token, Identity id) {
    if (token.rfind(core::kActionTokenPrefix, 0) == 0) {
        std::optional<core::ActionTokenClaims> claims = core::VerifyActionToken(action_token_key_, token);
        if (!claims || executions_ == nullptr) return Unauthenticated("Token is not valid.");
        if (claims->expiry_unix <= UnixSeconds(clock_.Now())) return Unauthenticated("Token has expired.");
        Result<Json> execution = executions_->GetBlocking(claims->execution_id);
        if (!execution) {
            if (execution.error().code == ErrorCode::kNotFound) return Unauthenticated("Token is not valid.");
            return execution.error();
        }
        const std::string status = execution->value("status", "");
        if (core::status::IsCompleted(status)) {
            return Unauthenticated("Token has expired (its execution ended: " + status + ").");
        }
        const Json& context = execution->contains("context") ? (*execution)["context"] : Json::object();
        const Json user = context.is_object() ? context.value("user", Json("squall")) : Json("squall");
        id.user = user.is_string() ? user.get<std::string>() : "squall";
        id.method = "action token";
        id.execution_id = claims->execution_id;
        id.token_expire =
            core::FormatIsoTimestamp(std::chrono::system_clock::time_point(std::chrono::seconds(claims->expiry_unix)));
        id.admin = users_.IsAdmin(id.user);
        return id;
    }
    Result<Json> record = tokens_.LookupBlocking(token);
    if (!record) return record.error();
    id.user = record->value("user", "");
    id.method = "authentication token";
    id.token_expire = record->value("expiry", "");
    id.admin = users_.IsAdmin(id.user);
    return id;
}

Result<Identity> Authenticator::CheckKey(const std::string& key, Identity id) {
    const std::string hash = core::Sha256Hex(key);
    const auto now = clock_.SteadyNow();
    id.method = "api_key";
    {
        std::lock_guard lock(mu_);
        auto it = cache_.find(hash);
        if (it != cache_.end() && it->second.until > now) {
            id.user = it->second.user;
            id.admin = users_.IsAdmin(id.user);
            return id;
        }
    }
    Result<core::RedisReply> r = redis_.CommandBlocking({"HGET", redis_.Key("apikeys"), hash});
    if (!r) return r.error();
    // An error reply (LOADING while Redis starts) is no answer about the key: never read it as a key record.
    if (r->IsError()) return Unavailable("redis: " + r->str);
    if (r->IsNil()) return Unauthenticated("API key is not valid.");
    Json meta = Json::parse(r->str, nullptr, false);
    if (!meta.is_object()) return Unauthenticated("API key is not valid.");
    if (!meta.value("enabled", true)) return Unauthenticated("API key is disabled.");
    id.user = meta.value("user", "admin");
    id.admin = users_.IsAdmin(id.user);
    std::lock_guard lock(mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[hash] = {id.user, now + kKeyCacheTtl};
    return id;
}

bool Authenticator::HasCachedKey(const httplib::Request& req) {
    if (req.has_header("X-Auth-Token") || !req.params.empty()) return false;
    const std::string key = req.get_header_value("St2-Api-Key");
    if (key.empty()) return false;
    const std::string hash = core::Sha256Hex(key);
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    return it != cache_.end() && it->second.until > clock_.SteadyNow();
}

void Authenticator::ForgetKey(const std::string& key_hash) {
    std::lock_guard lock(mu_);
    cache_.erase(key_hash);
}

}  // namespace squall::api
