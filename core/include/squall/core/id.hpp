#pragma once

#include <string>

namespace squall::core {

/// A new 24-hex-digit id shaped like StackStorm's ObjectIds: 4 bytes of seconds since the epoch, 5 random
/// bytes fixed per process, 3 bytes of a counter. Ids made later sort later (to the second). Thread-safe.
std::string NewId();

/// 32 random bytes as 64 hex digits, from OpenSSL's CSPRNG (API keys, secrets).
std::string RandomToken();

/// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

}  // namespace squall::core
