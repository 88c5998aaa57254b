#include "squall/core/regex.hpp"

#include <gtest/gtest.h>

namespace squall::core {
namespace {

RegexPtr Re(const std::string& pattern, Regex::Options options = {}) {
    Result<RegexPtr> re = Regex::Compile(pattern, options);
    EXPECT_TRUE(re) << re.error().What();
    return re ? *re : nullptr;
}

TEST(RegexTest, SearchFindsAMatchAnywhere) {
    auto re = Re("b+");
    EXPECT_TRUE(re->Search("aabbbc"));
    EXPECT_FALSE(re->Search("aac"));
    std::vector<std::string> groups;
    ASSERT_TRUE(Re("(\\d+)-(\\d+)")->Search("port 80-443 open", &groups));
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0], "80-443");
    EXPECT_EQ(groups[1], "80");
    EXPECT_EQ(groups[2], "443");
}

TEST(RegexTest, PythonNamedGroups) {
    std::vector<std::string> groups;
    ASSERT_TRUE(Re("(?P<user>\\w+)@(?P<host>[\\w.]+)")->Search("mail bob@example.com now", &groups));
    EXPECT_EQ(groups[1], "bob");
    EXPECT_EQ(groups[2], "example.com");
    // (?P=name) is a back-reference to a named group.
    EXPECT_TRUE(Re("(?P<q>['\"]).*?(?P=q)")->Search("say 'hi' there"));
    EXPECT_FALSE(Re("^(?P<q>['\"])[a-z]*(?P=q)$")->Search("'hi\""));
}

TEST(RegexTest, UnmatchedGroupIsEmpty) {
    std::vector<std::string> groups;
    ASSERT_TRUE(Re("(a)|(b)")->Search("b", &groups));
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[1], "");
    EXPECT_EQ(groups[2], "b");
}

TEST(RegexTest, MatchStartIsAnchoredAtTheStartOnly) {
    auto re = Re("ab");
    EXPECT_TRUE(re->MatchStart("abc"));
    EXPECT_FALSE(re->MatchStart("cab"));
    EXPECT_TRUE(re->Search("cab"));
    EXPECT_TRUE(Re("abc")->FullMatch("abc"));
    EXPECT_FALSE(Re("abc")->FullMatch("abcd"));
    EXPECT_FALSE(Re("a|ab")->FullMatch("abc"));
}

// Python: re.fullmatch("a|ab", "ab") matches: a full match may need backtracking into a later alternative.
TEST(RegexTest, FullMatchBacktracksIntoAlternatives) {
    EXPECT_TRUE(Re("a|ab")->FullMatch("ab"));
}

TEST(RegexTest, ReplaceWithNumberedAndNamedGroups) {
    EXPECT_EQ(Re("(\\w+)@(\\w+)")->Replace("bob@host and ann@box", "\\2:\\1"), "host:bob and box:ann");
    EXPECT_EQ(Re("(?P<major>\\d+)\\.(?P<minor>\\d+)")->Replace("v1.2", "\\g<minor>.\\g<major>"), "v2.1");
    EXPECT_EQ(Re("(\\d)")->Replace("a1b2", "<\\g<1>>"), "a<1>b<2>");
    EXPECT_EQ(Re("x")->Replace("abc", "y"), "abc");
    EXPECT_EQ(Re("-")->Replace("a-b-c", ""), "abc");
}

TEST(RegexTest, FindAllReturnsEveryNonOverlappingMatch) {
    EXPECT_EQ(Re("\\d+")->FindAll("a1 b22 c333"), (std::vector<std::string>{"1", "22", "333"}));
    EXPECT_EQ(Re("aa")->FindAll("aaaaa"), (std::vector<std::string>{"aa", "aa"}));
    EXPECT_TRUE(Re("z")->FindAll("abc").empty());
    using Groups = std::vector<std::vector<std::string>>;
    EXPECT_EQ(Re("\\d+")->FindAllGroups("a1 b22"), (Groups{{"1"}, {"22"}}));
    EXPECT_EQ(Re("([a-z])(\\d+)")->FindAllGroups("a1 b22"), (Groups{{"a", "1"}, {"b", "22"}}));
    EXPECT_EQ(Re("heads/([a-z]+)")->FindAllGroups("refs/heads/main"), (Groups{{"main"}}));
    EXPECT_EQ(Re("(x)?y")->FindAllGroups("y"), (Groups{{""}}));
}

TEST(RegexTest, IgnoreCaseDotAllMultiline) {
    EXPECT_FALSE(Re("error")->Search("ERROR"));
    EXPECT_TRUE(Re("error", {true, false, false})->Search("ERROR"));
    EXPECT_FALSE(Re("a.b")->Search("a\nb"));
    EXPECT_TRUE(Re("a.b", {false, true, false})->Search("a\nb"));
    EXPECT_FALSE(Re("^two$")->Search("one\ntwo\nthree"));
    EXPECT_TRUE(Re("^two$", {false, false, true})->Search("one\ntwo\nthree"));
}

TEST(RegexTest, Utf8) {
    EXPECT_TRUE(Re("^caf.$")->Search("café"));
    EXPECT_TRUE(Re("É", {true, false, false})->Search("é"));
}

TEST(RegexTest, BadPatternIsAnErrorNamingThePattern) {
    Result<RegexPtr> re = Regex::Compile("(unclosed", {});
    ASSERT_FALSE(re);
    EXPECT_NE(re.error().What().find("(unclosed"), std::string::npos) << re.error().What();
    EXPECT_FALSE(Regex::Compile("a{2,1}", {}));
    EXPECT_FALSE(Regex::Cached("[z-a]", {}));
}

TEST(RegexTest, CachedReturnsTheSameCompiledRegex) {
    Result<RegexPtr> a = Regex::Cached("cache-me", {});
    Result<RegexPtr> b = Regex::Cached("cache-me", {});
    ASSERT_TRUE(a && b);
    EXPECT_TRUE((*a)->Search("please cache-me"));
    Result<RegexPtr> c = Regex::Cached("cache-me", {true, false, false});
    ASSERT_TRUE(c);
    EXPECT_TRUE((*c)->Search("CACHE-ME"));
}

}  // namespace
}  // namespace squall::core
