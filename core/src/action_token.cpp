#include "squall/core/action_token.hpp"

#include "squall/core/id.hpp"

namespace squall::core {

std::string MintActionToken(std::string_view key, const std::string& execution_id, int64_t expiry_unix) {
    const std::string claims = std::string(kActionTokenPrefix) + execution_id + "." + std::to_string(expiry_unix);
    return claims + "." + HmacSha256Hex(key, claims);
}

std::optional<ActionTokenClaims> VerifyActionToken(std::string_view key, std::string_view token) {
    if (key.empty() || token.substr(0, kActionTokenPrefix.size()) != kActionTokenPrefix) return std::nullopt;
    const size_t mac_dot = token.rfind('.');
    if (mac_dot == std::string_view::npos || mac_dot < kActionTokenPrefix.size()) return std::nullopt;
    const std::string_view claims = token.substr(0, mac_dot);
    std::optional<Sha256Digest> mac = ParseSha256Hex(token.substr(mac_dot + 1));
    if (!mac || !HmacSha256Equals(key, claims, *mac)) return std::nullopt;
    const std::string_view body = claims.substr(kActionTokenPrefix.size());
    const size_t dot = body.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 >= body.size()) return std::nullopt;
    ActionTokenClaims out;
    out.execution_id = std::string(body.substr(0, dot));
    for (char c : body.substr(dot + 1)) {
        if (c < '0' || c > '9' || out.expiry_unix > INT64_MAX / 100) return std::nullopt;
        out.expiry_unix = out.expiry_unix * 10 + (c - '0');
    }
    return out;
}

Result<std::string> LoadOrCreateActionTokenKeyBlocking(RedisClient& redis) {
    const std::string name = redis.Key("auth:action-token-key");
    Result<RedisReply> set = redis.CommandBlocking({"SET", name, RandomToken(), "NX"});
    if (!set) return set.error();
    if (set->IsError()) return Unavailable("redis: " + set->str);
    Result<RedisReply> got = redis.CommandBlocking({"GET", name});
    if (!got) return got.error();
    if (got->IsError()) return Unavailable("redis: " + got->str);
    if (got->IsNil() || got->str.size() != 64) return Internal("the action token key in Redis is missing or malformed");
    return got->str;
}

}  // namespace squall::core
