// Password hashing (users) and signed action tokens (ST2_ACTION_AUTH_TOKEN): the two small crypto helpers auth
// is built on.
#include <gtest/gtest.h>

#include "squall/core/action_token.hpp"
#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"

namespace squall::core {
namespace {

TEST(PasswordHashTest, VerifiesTheRightPasswordOnly) {
    const std::string hash = HashPasswordBlocking("correct horse", 1000);
    EXPECT_EQ(hash.rfind("pbkdf2-sha256$1000$", 0), 0u) << hash;
    EXPECT_EQ(hash.find("correct horse"), std::string::npos);
    EXPECT_TRUE(VerifyPasswordBlocking("correct horse", hash));
    EXPECT_FALSE(VerifyPasswordBlocking("correct horse ", hash));
    EXPECT_FALSE(VerifyPasswordBlocking("", hash));
    // Salted: the same password hashes differently each time, and both verify.
    const std::string again = HashPasswordBlocking("correct horse", 1000);
    EXPECT_NE(hash, again);
    EXPECT_TRUE(VerifyPasswordBlocking("correct horse", again));
    // The default cost is what the stored form says.
    EXPECT_EQ(HashPasswordBlocking("x").rfind("pbkdf2-sha256$" + std::to_string(kPasswordIterations) + "$", 0), 0u);
}

TEST(PasswordHashTest, MalformedHashesNeverVerify) {
    for (const char* bad :
         {"",
          "plain",
          "pbkdf2-sha256$",
          "pbkdf2-sha256$x$AAAA$AAAA",
          "pbkdf2-sha256$0$AAAA$AAAA",
          "md5$1000$AAAA$AAAA",
          "pbkdf2-sha256$1000$!!$AAAA",
          "pbkdf2-sha256$1000$AAAA$AAAA"}) {
        EXPECT_FALSE(VerifyPasswordBlocking("pw", bad)) << bad;
    }
}

TEST(ActionTokenTest, MintedTokensVerifyAndCarryTheirClaims) {
    const std::string key = RandomToken();
    const std::string token = MintActionToken(key, "65f0a1b2c3d4e5f601234567", 1900000000);
    EXPECT_EQ(token.rfind("sqx1.65f0a1b2c3d4e5f601234567.1900000000.", 0), 0u) << token;
    std::optional<ActionTokenClaims> claims = VerifyActionToken(key, token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->execution_id, "65f0a1b2c3d4e5f601234567");
    EXPECT_EQ(claims->expiry_unix, 1900000000);
}

TEST(ActionTokenTest, TamperedOrForeignTokensAreRefused) {
    const std::string key = RandomToken();
    const std::string token = MintActionToken(key, "e1", 1900000000);
    EXPECT_FALSE(VerifyActionToken(RandomToken(), token)) << "another installation's key";
    EXPECT_FALSE(VerifyActionToken("", token));
    std::string longer = token;
    longer.replace(longer.find("1900000000"), 10, "2900000000");
    EXPECT_FALSE(VerifyActionToken(key, longer)) << "a changed expiry";
    std::string other = token;
    other.replace(5, 2, "e2");
    EXPECT_FALSE(VerifyActionToken(key, other)) << "another execution";
    for (const std::string bad :
         {std::string(),
          std::string("sqx1."),
          std::string("sqx1.e1.1."),
          token + "0",
          token.substr(0, token.size() - 1),
          "sqx2" + token.substr(4)}) {
        EXPECT_FALSE(VerifyActionToken(key, bad)) << bad;
    }
}

TEST(ActionTokenTest, HmacHexMatchesTheConstantTimeCheck) {
    const std::string mac = HmacSha256Hex("key", "The quick brown fox jumps over the lazy dog");
    EXPECT_EQ(mac, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");  // RFC 2104 example
    std::optional<Sha256Digest> d = ParseSha256Hex(mac);
    ASSERT_TRUE(d);
    EXPECT_TRUE(HmacSha256Equals("key", "The quick brown fox jumps over the lazy dog", *d));
}

}  // namespace
}  // namespace squall::core
