#pragma once

// Who a request acts for (SPEC §10, reference §2.2): API keys, tokens from POST /auth/v1/tokens, and the action
// tokens actions get as ST2_ACTION_AUTH_TOKEN. Every credential is stored hashed (SHA-256 of a 256-bit random
// value: no salt or stretching needed for random secrets) or, for action tokens, not stored at all (signed).

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "squall/api/users.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/executions/store.hpp"

namespace squall::api {

/// The authenticated caller of a request.
struct Identity {
    std::string user;
    bool admin = false;
    std::string method;        ///< "api_key", "authentication token" or "action token" (empty: no credentials)
    std::string location;      ///< "header" or "query"
    std::string execution_id;  ///< action tokens: the execution the token belongs to
    std::string token_expire;  ///< tokens: when the token expires (ISO 8601)
    bool authenticated() const { return !method.empty(); }
};

/// kPermissionDenied "<what> is for admins only (user \"bob\" is not one)" unless `who` is an admin.
Status RequireAdmin(const Identity& who, const std::string& what);

/// Tokens of POST /auth/v1/tokens: `auth:token:<sha256>` → {id, user, expiry, metadata} expiring with the token,
/// and `auth:token-id:<id>` → the hash, so that a token can be revoked by its id. Thread-safe.
class TokenStore {
public:
    TokenStore(core::RedisClient& redis, const core::Clock& clock) : redis_(redis), clock_(clock) {}
    /// A new token for `user`: {user, token, expiry, id, metadata} — the only time the token is shown.
    Result<core::Json> CreateBlocking(const std::string& user, int64_t ttl_seconds, const core::Json& metadata);
    /// The stored record {id, user, expiry, metadata}; kUnauthenticated when unknown or expired.
    Result<core::Json> LookupBlocking(const std::string& token);
    /// Revokes by the token itself or its id; returns the record it had, or kNotFound.
    Result<core::Json> RevokeBlocking(const std::string& token_or_id);

private:
    core::RedisClient& redis_;
    const core::Clock& clock_;
};

/// Checks a request's credentials: `X-Auth-Token` header or `?x-auth-token=` (tokens and action tokens), else
/// `St2-Api-Key` header or `?st2-api-key=` (also when a token given with it is not valid). API keys are cached for a
/// few seconds (the webhook hot path costs no Redis round trip); tokens are looked up each time, so a revoked token is
/// refused at once. Thread-safe.
class Authenticator {
public:
    Authenticator(
        core::RedisClient& redis,
        const core::Clock& clock,
        UserDirectory& users,
        executions::ExecutionStore* executions,
        std::string action_token_key
    );
    /// The identity, or kUnauthenticated saying what is missing or wrong.
    Result<Identity> Check(const httplib::Request& req);
    /// For a caller that cannot wait for Redis (the webhook lane, whose route acts for nobody in particular): true
    /// when the request's only credential is an `St2-Api-Key` header holding a key cached as valid, so that Check
    /// would accept it without a round trip. False for anything else (a token, a query parameter, a key not cached or
    /// not valid), which Check then decides.
    bool HasCachedKey(const httplib::Request& req);
    /// Drops a cached API key (after it was deleted or disabled here; other API processes see it within the cache
    /// time, kKeyCacheTtl).
    void ForgetKey(const std::string& key_hash);
    TokenStore& tokens() { return tokens_; }
    UserDirectory& users() { return users_; }

    static constexpr std::chrono::seconds kKeyCacheTtl{10};

private:
    Result<Identity> CheckToken(const std::string& token, Identity id);
    Result<Identity> CheckKey(const std::string& key, Identity id);

    struct CachedKey {
        std::string user;
        std::chrono::steady_clock::time_point until;
    };
    core::RedisClient& redis_;
    const core::Clock& clock_;
    UserDirectory& users_;
    executions::ExecutionStore* executions_;
    const std::string action_token_key_;
    TokenStore tokens_;
    std::mutex mu_;
    std::unordered_map<std::string, CachedKey> cache_;
};

}  // namespace squall::api
