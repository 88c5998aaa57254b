#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "squall/core/error.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::core {

/// Action tokens (StackStorm's ST2_ACTION_AUTH_TOKEN): the credential an action gets for calling the API back
/// (datastore, inject_trigger). Signed, not stored: "sqx1.<execution id>.<expiry unix seconds>.<hex HMAC-SHA256>"
/// under a key every role of an installation shares (kept in Redis, created on first start). Minting costs no
/// Redis round trip on the run path; the API accepts such a token only while the HMAC matches, the expiry is in
/// the future and the execution is not in a completed status, so the token dies with the execution (revoked
/// when it ends, whichever process ends it) and with the key.
inline constexpr std::string_view kActionTokenPrefix = "sqx1.";

struct ActionTokenClaims {
    std::string execution_id;
    int64_t expiry_unix = 0;
};

std::string MintActionToken(std::string_view key, const std::string& execution_id, int64_t expiry_unix);
/// The claims of a well-formed token whose HMAC matches `key` (constant-time); nullopt otherwise. The expiry
/// and the execution's status are the caller's to check.
std::optional<ActionTokenClaims> VerifyActionToken(std::string_view key, std::string_view token);
/// The installation's action-token key (64 hex digits at `<prefix>auth:action-token-key`), created with SET NX
/// by whichever process comes first. Blocking (one or two round trips, at start).
Result<std::string> LoadOrCreateActionTokenKeyBlocking(RedisClient& redis);

}  // namespace squall::core
