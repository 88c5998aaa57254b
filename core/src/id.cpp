#include "squall/core/id.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "squall/core/error.hpp"

namespace squall::core {
namespace {

std::string Hex(const unsigned char* data, size_t n) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0xf];
    }
    return out;
}

struct ProcessIdState {
    unsigned char random[5];
    std::atomic<uint32_t> counter;
    ProcessIdState() {
        std::random_device rd;
        for (unsigned char& b : random) b = static_cast<unsigned char>(rd());
        counter = rd();
    }
};

}  // namespace

std::string NewId() {
    static ProcessIdState state;  // immutable after construction except the atomic counter
    unsigned char bytes[12];
    const auto secs = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()
    );
    bytes[0] = static_cast<unsigned char>(secs >> 24);
    bytes[1] = static_cast<unsigned char>(secs >> 16);
    bytes[2] = static_cast<unsigned char>(secs >> 8);
    bytes[3] = static_cast<unsigned char>(secs);
    for (int i = 0; i < 5; ++i) bytes[4 + i] = state.random[i];
    const uint32_t c = state.counter.fetch_add(1);
    bytes[9] = static_cast<unsigned char>(c >> 16);
    bytes[10] = static_cast<unsigned char>(c >> 8);
    bytes[11] = static_cast<unsigned char>(c);
    return Hex(bytes, sizeof(bytes));
}

std::string RandomToken() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) throw Exception(Internal("cannot read random bytes from OpenSSL"));
    return Hex(bytes, sizeof(bytes));
}

namespace {

/// SHA-256 looked up once. With EVP_sha256(), OpenSSL 3 looks the implementation up again on every digest (an
/// "implicit fetch": a lock and a table lookup), which was half the cost of hashing an id on the hot path (the
/// enforcement and execution ids of every event, the API key of every request).
const EVP_MD* Sha256Md() {
    static EVP_MD* const kMd = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return kMd != nullptr ? kMd : EVP_sha256();
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, Sha256Md(), nullptr);
    return Hex(md, len);
}

std::optional<Sha256Digest> ParseSha256Hex(std::string_view hex) {
    Sha256Digest out{};
    if (hex.size() != 2 * out.size()) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < out.size(); ++i) {
        const int hi = nibble(hex[2 * i]);
        const int lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return out;
}

bool HmacSha256Equals(std::string_view key, std::string_view data, const Sha256Digest& given) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int len = 0;
    if (HMAC(
            EVP_sha256(),
            key.data(),
            static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()),  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
            data.size(),
            mac.data(),
            &len
        ) == nullptr ||
        len != given.size()) {
        return false;
    }
    return CRYPTO_memcmp(mac.data(), given.data(), given.size()) == 0;
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int len = 0;
    if (HMAC(
            EVP_sha256(),
            key.data(),
            static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()),  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
            data.size(),
            mac.data(),
            &len
        ) == nullptr) {
        throw Exception(Internal("HMAC-SHA256 failed in OpenSSL"));
    }
    return Hex(mac.data(), len);
}

}  // namespace squall::core
