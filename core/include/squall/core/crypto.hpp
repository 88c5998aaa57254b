#pragma once

#include <string>
#include <string_view>

#include "squall/core/error.hpp"

namespace squall::core {

/// Authenticated encryption of datastore secrets: AES-256-GCM (OpenSSL EVP) under one 32-byte key.
///
/// Ciphertext format (a printable string, safe in JSON and in Redis):
///   "sqv1:" + base64( iv[12] | ciphertext[n] | tag[16] )
/// The IV is random per encryption; the 16-byte GCM tag authenticates the IV-bound ciphertext, so any change to
/// the text (or a different key) makes Decrypt fail instead of returning garbage. The "sqv1:" prefix names the
/// version of this layout, so that a later format (or key rotation) can be told apart.
///
/// Immutable after construction; Encrypt and Decrypt are thread-safe.
class SecretBox {
public:
    static constexpr size_t kKeySize = 32;
    static constexpr const char* kPrefix = "sqv1:";

    /// A box over a raw 32-byte key; kInvalidArgument when the size is wrong.
    static Result<SecretBox> FromKey(std::string key);
    /// Reads the key file (64 hex digits), creating it with a fresh random key on first use: the file gets mode
    /// 0600 and its directory 0700. Creation is atomic (a temporary file linked into place), so two processes
    /// starting together agree on one key. Blocking (file I/O).
    static Result<SecretBox> LoadOrCreateBlocking(const std::string& path);

    /// The "sqv1:…" form of `plaintext`.
    Result<std::string> Encrypt(std::string_view plaintext) const;
    /// The plaintext of a "sqv1:…" value; kInvalidArgument when the text is malformed, was tampered with or was
    /// encrypted under another key. Messages never contain key material or plaintext.
    Result<std::string> Decrypt(std::string_view ciphertext) const;

    /// True when `text` looks like a value Encrypt produced (the version prefix).
    static bool LooksEncrypted(std::string_view text);

private:
    explicit SecretBox(std::string key) : key_(std::move(key)) {}
    std::string key_;
};

/// Standard base64 with padding.
std::string Base64Encode(std::string_view data);
/// Decodes standard base64 (padding optional); kInvalidArgument on any other character.
Result<std::string> Base64Decode(std::string_view text);

/// Password hashing for users (`squall user add`): PBKDF2-HMAC-SHA256 (OpenSSL) with a random 16-byte salt, in
/// the self-describing form "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>", so that the iteration count
/// can be raised later without invalidating stored hashes. CPU-heavy by design (tens of milliseconds): call it on
/// a worker thread, never on an event loop.
constexpr int kPasswordIterations = 100000;
std::string HashPasswordBlocking(std::string_view password, int iterations = kPasswordIterations);
/// True when `password` matches `encoded` (constant-time compare); false for a malformed `encoded` too.
bool VerifyPasswordBlocking(std::string_view password, std::string_view encoded);

/// Creates `path` holding `content`, once: written to a private temporary file (mode 0600 from its creation,
/// never wider), fsynced, and linked into place. kAlreadyExists when `path` exists (it is never replaced).
/// The one way secret files (the admin API key, the datastore key) are written. Blocking (file I/O).
Status CreateSecretFileBlocking(const std::string& path, std::string_view content);

}  // namespace squall::core
