#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace squall::core {

/// A new 24-hex-digit id shaped like StackStorm's ObjectIds: 4 bytes of seconds since the epoch, 5 random
/// bytes fixed per process, 3 bytes of a counter. Ids made later sort later (to the second). Thread-safe.
std::string NewId();

/// 32 random bytes as 64 hex digits, from OpenSSL's CSPRNG (API keys, secrets).
std::string RandomToken();

/// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

using Sha256Digest = std::array<unsigned char, 32>;

/// The 32 bytes written as exactly 64 hex digits (either case); nullopt for anything else.
std::optional<Sha256Digest> ParseSha256Hex(std::string_view hex);

/// True when HMAC-SHA256(key, data) equals `given`, compared in constant time (CRYPTO_memcmp): how webhook
/// signatures (GitHub's X-Hub-Signature-256, Slack's X-Slack-Signature) are checked.
bool HmacSha256Equals(std::string_view key, std::string_view data, const Sha256Digest& given);

/// Lowercase hex HMAC-SHA256(key, data) (signed action tokens; checked with HmacSha256Equals).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace squall::core
