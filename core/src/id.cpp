#include "squall/core/id.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

#include <openssl/evp.h>
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

std::string Sha256Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return Hex(md, len);
}

}  // namespace squall::core
