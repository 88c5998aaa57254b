#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace squall::core {
namespace {

SecretBox Box(char fill) {
    Result<SecretBox> box = SecretBox::FromKey(std::string(SecretBox::kKeySize, fill));
    EXPECT_TRUE(box);
    return std::move(*box);
}

TEST(CryptoTest, Base64RoundTripsEveryLength) {
    EXPECT_EQ(Base64Encode(""), "");
    EXPECT_EQ(Base64Encode("f"), "Zg==");
    EXPECT_EQ(Base64Encode("fo"), "Zm8=");
    EXPECT_EQ(Base64Encode("foo"), "Zm9v");
    EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (size_t n = 0; n <= all.size(); n += 17) {
        Result<std::string> back = Base64Decode(Base64Encode(all.substr(0, n)));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, all.substr(0, n));
    }
    EXPECT_FALSE(Base64Decode("Zm9v!"));
}

TEST(CryptoTest, EncryptDecryptRoundTrip) {
    SecretBox box = Box('k');
    for (const std::string plain :
         {std::string(), std::string("s3cret"), std::string(1000, 'x'), std::string("\0a\xff", 3)}) {
        Result<std::string> sealed = box.Encrypt(plain);
        ASSERT_TRUE(sealed) << sealed.error().message;
        EXPECT_TRUE(SecretBox::LooksEncrypted(*sealed));
        EXPECT_EQ(sealed->find("s3cret"), std::string::npos);
        Result<std::string> opened = box.Decrypt(*sealed);
        ASSERT_TRUE(opened) << opened.error().message;
        EXPECT_EQ(*opened, plain);
    }
    // A fresh IV each time: the same plaintext never gives the same ciphertext.
    EXPECT_NE(*box.Encrypt("same"), *box.Encrypt("same"));
}

TEST(CryptoTest, TamperingIsDetected) {
    SecretBox box = Box('k');
    const std::string sealed = *box.Encrypt("attack at dawn");
    Result<std::string> raw = Base64Decode(sealed.substr(5));
    ASSERT_TRUE(raw);
    // Flip one bit in the IV, the ciphertext and the tag in turn.
    for (size_t pos : {size_t{0}, size_t{12}, raw->size() - 1}) {
        std::string bad = *raw;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
        Result<std::string> opened = box.Decrypt(SecretBox::kPrefix + Base64Encode(bad));
        ASSERT_FALSE(opened) << "byte " << pos;
        EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(opened.error().message.find("authentication failed"), std::string::npos);
    }
    // Truncated, not base64, no prefix.
    EXPECT_FALSE(box.Decrypt(SecretBox::kPrefix + Base64Encode(raw->substr(0, 20))));
    EXPECT_FALSE(box.Decrypt(std::string(SecretBox::kPrefix) + "***"));
    EXPECT_FALSE(box.Decrypt("plain text"));
}

TEST(CryptoTest, WrongKeyFails) {
    const std::string sealed = *Box('a').Encrypt("for a only");
    Result<std::string> opened = Box('b').Decrypt(sealed);
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().message.find("another datastore key"), std::string::npos);
    EXPECT_EQ(opened.error().message.find("for a only"), std::string::npos);
    EXPECT_FALSE(SecretBox::FromKey("short"));
}

TEST(CryptoTest, KeyFileIsCreatedPrivateOnceAndReused) {
    namespace fs = std::filesystem;
    test::TempDir dir;
    const std::string path = (dir.path() / "keys" / "datastore.key").string();
    Result<SecretBox> first = SecretBox::LoadOrCreateBlocking(path);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(dir.path() / "keys").permissions() & fs::perms::all, fs::perms::owner_all);
    const std::string sealed = *first->Encrypt("persisted");
    Result<SecretBox> second = SecretBox::LoadOrCreateBlocking(path);
    ASSERT_TRUE(second);
    EXPECT_EQ(*second->Decrypt(sealed), "persisted");
    // Only the key file is left behind (the temporary was removed).
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path() / "keys")) ++files;
    EXPECT_EQ(files, 1u);
    // A damaged key file is an error naming it, not a silent new key.
    std::ofstream(path, std::ios::trunc) << "not hex\n";
    Result<SecretBox> bad = SecretBox::LoadOrCreateBlocking(path);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find(path), std::string::npos);
}

}  // namespace
}  // namespace squall::core

namespace squall::core {
namespace {

// The one webhook-signature check (GitHub, Slack): RFC 4231's test case 2, one bit off, and malformed hex.
TEST(HmacSha256Test, MatchesRfc4231AndRefusesAnythingElse) {
    const std::string good = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    std::optional<Sha256Digest> digest = ParseSha256Hex(good);
    ASSERT_TRUE(digest.has_value());
    EXPECT_TRUE(HmacSha256Equals("Jefe", "what do ya want for nothing?", *digest));
    EXPECT_TRUE(HmacSha256Equals(
        "Jefe",
        "what do ya want for nothing?",
        *ParseSha256Hex("5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843")
    ));
    EXPECT_FALSE(HmacSha256Equals("Jefe", "what do ya want for nothing!", *digest));
    EXPECT_FALSE(HmacSha256Equals("jefe", "what do ya want for nothing?", *digest));
    Sha256Digest flipped = *digest;
    flipped[31] ^= 1;
    EXPECT_FALSE(HmacSha256Equals("Jefe", "what do ya want for nothing?", flipped));
    EXPECT_FALSE(ParseSha256Hex(good.substr(1)).has_value());
    EXPECT_FALSE(ParseSha256Hex(good + "0").has_value());
    EXPECT_FALSE(ParseSha256Hex("g" + good.substr(1)).has_value());
    EXPECT_FALSE(ParseSha256Hex("").has_value());
}

}  // namespace
}  // namespace squall::core
