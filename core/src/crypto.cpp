#include "squall/core/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "squall/core/id.hpp"

namespace squall::core {
namespace {

constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

constexpr const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::string ToHex(std::string_view data) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out += kDigits[c >> 4];
        out += kDigits[c & 0xf];
    }
    return out;
}

Result<std::string> FromHex(std::string_view hex) {
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (hex.size() % 2 != 0) return InvalidArgument("odd number of hex digits");
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = digit(hex[i]);
        const int lo = digit(hex[i + 1]);
        if (hi < 0 || lo < 0) return InvalidArgument("not a hex digit");
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

Result<std::string> ReadKeyFile(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return Unavailable("cannot read the datastore key " + path);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    Result<std::string> key = FromHex(line);
    if (!key || key->size() != SecretBox::kKeySize) {
        return InvalidArgument(
            "the datastore key " + path + " is not " + std::to_string(SecretBox::kKeySize * 2) + " hex digits"
        );
    }
    return key;
}

}  // namespace

std::string Base64Encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const auto n = (static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2]));
        out += kB64[(n >> 18) & 63];
        out += kB64[(n >> 12) & 63];
        out += kB64[(n >> 6) & 63];
        out += kB64[n & 63];
    }
    if (i < data.size()) {
        uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
        if (i + 1 < data.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
        out += kB64[(n >> 18) & 63];
        out += kB64[(n >> 12) & 63];
        out += i + 1 < data.size() ? kB64[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<std::string> Base64Decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = B64Value(c);
        if (v < 0) return InvalidArgument("not base64");
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6) return InvalidArgument("truncated base64");
    return out;
}

Result<SecretBox> SecretBox::FromKey(std::string key) {
    if (key.size() != kKeySize) return InvalidArgument("the datastore key must be 32 bytes");
    return SecretBox(std::move(key));
}

Result<SecretBox> SecretBox::LoadOrCreateBlocking(const std::string& path) {
    namespace fs = std::filesystem;
    if (fs::exists(path)) {
        Result<std::string> key = ReadKeyFile(path);
        if (!key) return key.error();
        return SecretBox(std::move(*key));
    }
    const fs::path dir = fs::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) {
        fs::create_directories(dir, ec);
        if (ec) return Unavailable("cannot create " + dir.string() + ": " + ec.message());
        chmod(dir.c_str(), 0700);
    }
    std::string key(kKeySize, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
        return Internal("cannot generate a datastore key: no randomness");
    }
    Status created = CreateSecretFileBlocking(path, ToHex(key) + "\n");
    if (!created) {
        if (created.error().code != ErrorCode::kAlreadyExists) return created.error();
        // Another process created the key first: both use that one.
        Result<std::string> existing = ReadKeyFile(path);
        if (!existing) return existing.error();
        return SecretBox(std::move(*existing));
    }
    return SecretBox(std::move(key));
}

bool SecretBox::LooksEncrypted(std::string_view text) {
    return text.substr(0, std::strlen(kPrefix)) == kPrefix;
}

Result<std::string> SecretBox::Encrypt(std::string_view plaintext) const {
    unsigned char iv[kIvSize];
    if (RAND_bytes(iv, sizeof(iv)) != 1) return Internal("encrypt: no randomness for the IV");
    CtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return Internal("encrypt: out of memory");
    std::string out(kIvSize + plaintext.size() + kTagSize, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    std::memcpy(o, iv, kIvSize);
    int len = 0;
    int total = 0;
    const auto* k = reinterpret_cast<const unsigned char*>(key_.data());
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k, iv) != 1) {
        return Internal("encrypt: cannot initialise AES-256-GCM");
    }
    if (!plaintext.empty() && EVP_EncryptUpdate(
                                  ctx.get(),
                                  o + kIvSize,
                                  &len,
                                  reinterpret_cast<const unsigned char*>(plaintext.data()),
                                  static_cast<int>(plaintext.size())
                              ) != 1) {
        return Internal("encrypt: AES-256-GCM failed");
    }
    total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), o + kIvSize + total, &len) != 1) return Internal("encrypt: AES-256-GCM failed");
    total += len;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, o + kIvSize + total) != 1) {
        return Internal("encrypt: cannot read the GCM tag");
    }
    out.resize(kIvSize + static_cast<size_t>(total) + kTagSize);
    return std::string(kPrefix) + Base64Encode(out);
}

Result<std::string> SecretBox::Decrypt(std::string_view ciphertext) const {
    if (!LooksEncrypted(ciphertext)) return InvalidArgument("decrypt: the value is not an encrypted datastore value");
    Result<std::string> raw = Base64Decode(ciphertext.substr(std::strlen(kPrefix)));
    if (!raw) return InvalidArgument("decrypt: the encrypted value is malformed (" + raw.error().message + ")");
    if (raw->size() < kIvSize + kTagSize) return InvalidArgument("decrypt: the encrypted value is too short");
    auto* r = reinterpret_cast<unsigned char*>(raw->data());
    const size_t n = raw->size() - kIvSize - kTagSize;
    CtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return Internal("decrypt: out of memory");
    const auto* k = reinterpret_cast<const unsigned char*>(key_.data());
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, k, r) != 1) {
        return Internal("decrypt: cannot initialise AES-256-GCM");
    }
    std::string out(n, '\0');
    int len = 0;
    int total = 0;
    if (n > 0 && EVP_DecryptUpdate(
                     ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, r + kIvSize, static_cast<int>(n)
                 ) != 1) {
        return InvalidArgument("decrypt: the encrypted value is corrupt");
    }
    total = len;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, r + kIvSize + n) != 1) {
        return Internal("decrypt: cannot set the GCM tag");
    }
    // Final checks the tag: a modified value or another key fails here, and nothing decrypted is returned.
    if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) != 1) {
        return InvalidArgument(
            "decrypt: authentication failed (the value was modified or encrypted with another datastore key)"
        );
    }
    total += len;
    out.resize(static_cast<size_t>(total));
    return out;
}

Status CreateSecretFileBlocking(const std::string& path, std::string_view content) {
    // A private temporary file (mode 0600 from open(), never wider), written and synced, then linked into place:
    // link() fails with EEXIST when the file is there already, so a file is written once and never replaced,
    // and readers never see it half-written.
    const std::string tmp = path + ".tmp." + RandomToken().substr(0, 12);
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable("cannot create " + tmp + ": " + std::strerror(errno));  // NOLINT
    const bool written =
        write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && fsync(fd) == 0;
    close(fd);
    if (!written) {
        unlink(tmp.c_str());
        return Unavailable("cannot write " + tmp);
    }
    const int linked = link(tmp.c_str(), path.c_str());
    const int link_errno = errno;
    unlink(tmp.c_str());
    if (linked != 0) {
        if (link_errno == EEXIST) return Error(ErrorCode::kAlreadyExists, path + " exists already");
        return Unavailable("cannot create " + path + ": " + std::strerror(link_errno));  // NOLINT
    }
    // The new name is durable once its directory is synced.
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return {};
}

namespace {

/// PBKDF2-HMAC-SHA256 of `password` with `salt`: 32 bytes.
std::string Pbkdf2(std::string_view password, std::string_view salt, int iterations) {
    std::string out(32, '\0');
    if (PKCS5_PBKDF2_HMAC(
            password.data(),
            static_cast<int>(password.size()),
            reinterpret_cast<const unsigned char*>(salt.data()),  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
            static_cast<int>(salt.size()),
            iterations,
            EVP_sha256(),
            static_cast<int>(out.size()),
            reinterpret_cast<unsigned char*>(out.data())  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
        ) != 1) {
        throw Exception(Internal("PBKDF2 failed in OpenSSL"));
    }
    return out;
}

}  // namespace

std::string HashPasswordBlocking(std::string_view password, int iterations) {
    std::string salt(16, '\0');
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1) {
        throw Exception(Internal("cannot read random bytes from OpenSSL"));
    }
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + Base64Encode(salt) + "$" +
           Base64Encode(Pbkdf2(password, salt, iterations));
}

bool VerifyPasswordBlocking(std::string_view password, std::string_view encoded) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        const size_t dollar = encoded.find('$', start);
        parts.push_back(
            encoded.substr(start, dollar == std::string_view::npos ? std::string_view::npos : dollar - start)
        );
        if (dollar == std::string_view::npos) break;
        start = dollar + 1;
    }
    if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
    int iterations = 0;
    for (char c : parts[1]) {
        if (c < '0' || c > '9' || iterations > 10'000'000) return false;
        iterations = iterations * 10 + (c - '0');
    }
    if (iterations < 1) return false;
    Result<std::string> salt = Base64Decode(parts[2]);
    Result<std::string> want = Base64Decode(parts[3]);
    if (!salt || !want || want->size() != 32) return false;
    const std::string got = Pbkdf2(password, *salt, iterations);
    return CRYPTO_memcmp(got.data(), want->data(), got.size()) == 0;
}

}  // namespace squall::core
