#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squall/core/model/model.hpp"
#include "squall/core/ordered_map.hpp"

namespace squall::core {
namespace {

// The map on its own, through basic_json (as model.hpp's Json uses it), so that the test does not depend on
// which type the alias names.
using OJson = nlohmann::basic_json<OrderedMap>;

std::vector<std::string> Keys(const OJson& j) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    return keys;
}

TEST(OrderedMapTest, ParseKeepsTheOrderOfTheText) {
    OJson j = OJson::parse(R"({"zeta": 1, "alpha": {"y": 2, "b": 3}, "mid": [ {"q": 1, "a": 2} ]})");
    EXPECT_EQ(Keys(j), (std::vector<std::string>{"zeta", "alpha", "mid"}));
    EXPECT_EQ(Keys(j["alpha"]), (std::vector<std::string>{"y", "b"}));
    EXPECT_EQ(j.dump(), R"({"zeta":1,"alpha":{"y":2,"b":3},"mid":[{"q":1,"a":2}]})");
}

TEST(OrderedMapTest, AssignmentKeepsThePlaceAndReAddingAppends) {
    OJson j = OJson::object();
    j["b"] = 1;
    j["a"] = 2;
    j["c"] = 3;
    j["b"] = 10;  // an existing key keeps its position, as in Python
    EXPECT_EQ(j.dump(), R"({"b":10,"a":2,"c":3})");
    EXPECT_EQ(j.erase("b"), 1u);
    EXPECT_EQ(j.erase("nope"), 0u);
    j["b"] = 4;  // deleted then added again: at the end
    EXPECT_EQ(j.dump(), R"({"a":2,"c":3,"b":4})");
    j.emplace("a", 99);  // emplace never overwrites
    EXPECT_EQ(j["a"], 2);
    j.update(OJson::parse(R"({"z": 0, "a": 5})"));
    EXPECT_EQ(j.dump(), R"({"a":5,"c":3,"b":4,"z":0})");
}

TEST(OrderedMapTest, EqualityIsThatOfSetsAndOrderingAgreesWithIt) {
    const OJson ab = OJson::parse(R"({"a": 1, "b": {"x": [1, 2], "y": null}})");
    const OJson ba = OJson::parse(R"({"b": {"y": null, "x": [1, 2]}, "a": 1})");
    EXPECT_EQ(ab, ba);
    EXPECT_FALSE(ab < ba);
    EXPECT_FALSE(ba < ab);
    EXPECT_NE(ab.dump(), ba.dump());  // equal, yet each prints in its own order
    EXPECT_NE(ab, OJson::parse(R"({"a": 1, "b": {"x": [2, 1], "y": null}})"));  // arrays keep order-equality
    EXPECT_NE(ab, OJson::parse(R"({"a": 1})"));
    EXPECT_NE(ab, OJson::parse(R"({"a": 1, "c": {"x": [1, 2], "y": null}})"));    // same size, another key
    EXPECT_LT(OJson::parse(R"({"b": 1, "a": 1})"), OJson::parse(R"({"a": 2})"));  // as std::map orders them
    EXPECT_LT(OJson::parse(R"({"a": 1})"), OJson::parse(R"({"b": 0, "a": 1})"));
}

TEST(OrderedMapTest, ErasingByIteratorAndRange) {
    OJson j = OJson::parse(R"({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})");
    auto it = j.erase(j.find("b"));
    EXPECT_EQ(it.key(), "c");
    j.erase(j.find("c"), j.find("e"));
    EXPECT_EQ(j.dump(), R"({"a":1,"e":5})");
    EXPECT_TRUE(j.contains("e"));
    EXPECT_FALSE(j.contains("c"));
}

TEST(OrderedMapTest, LargeObjectsUseTheIndexAndStayConsistent) {
    // Past kIndexThreshold keys lookups go through the index; erasing renumbers the positions after it.
    constexpr int kN = 1000;
    std::string text = "{";
    for (int i = kN - 1; i >= 0; --i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + (i ? "," : "}");
    OJson j = OJson::parse(text);
    ASSERT_EQ(j.size(), static_cast<size_t>(kN));
    EXPECT_EQ(j.begin().key(), "k999");
    for (int i = 0; i < kN; i += 7) EXPECT_EQ(j.at("k" + std::to_string(i)), i);
    for (int i = 0; i < kN; i += 2) ASSERT_EQ(j.erase("k" + std::to_string(i)), 1u);
    ASSERT_EQ(j.size(), static_cast<size_t>(kN / 2));
    int expected = kN - 1;
    for (const auto& [k, v] : j.items()) {  // the odd ones, still in text order
        ASSERT_EQ(k, "k" + std::to_string(expected));
        ASSERT_EQ(v, expected);
        expected -= 2;
    }
    for (int i = 1; i < kN; i += 2) ASSERT_EQ(j.find("k" + std::to_string(i)).value(), i);
    EXPECT_FALSE(j.contains("k0"));
    j["k0"] = 0;
    EXPECT_EQ((--j.end()).key(), "k0");
    // Shrinking below the threshold drops the index; lookups still work.
    while (j.size() > 3) j.erase(j.begin());
    EXPECT_EQ(Keys(j), (std::vector<std::string>{"k3", "k1", "k0"}));
    EXPECT_EQ(j["k1"], 1);
    // A copy of a large object is equal to the reversed one, and has its own index.
    OJson big = OJson::parse(text);
    OJson copy = big;
    OJson reversed = OJson::object();
    for (int i = 0; i < kN; ++i) reversed["k" + std::to_string(i)] = i;
    EXPECT_EQ(copy, big);
    EXPECT_EQ(reversed, big);
    copy.erase("k500");
    EXPECT_EQ(big["k500"], 500);
    EXPECT_NE(copy, big);
}

TEST(OrderedMapTest, AnObjectOfTwoHundredThousandKeysParses) {
    // Lookups are not linear: parsing this is O(n log n) (a linear map makes it O(n²), tens of seconds).
    // Time is measured in bench/ (docs/decisions.md); here only correctness.
    constexpr int kN = 200000;
    std::string text = "{";
    for (int i = 0; i < kN; ++i)
        text += (i ? ",\"" : "\"") + std::to_string((i * 7919) % kN) + "\":" + std::to_string(i);
    text += "}";
    OJson j = OJson::parse(text);
    ASSERT_EQ(j.size(), static_cast<size_t>(kN));
    EXPECT_EQ(j.begin().key(), "0");
    EXPECT_EQ((++j.begin()).key(), "7919");
    EXPECT_EQ(j["7919"], 1);
    EXPECT_EQ(j.dump(), text);  // the keys are distinct, so the text prints back as it was
    EXPECT_EQ(OJson::parse(j.dump()), j);
}

TEST(OrderedMapTest, DuplicateKeysInTextKeepTheFirstPlaceAndTheLastValue) {
    // As Python's json.loads: the last value wins; the key stays where it first appeared.
    OJson j = OJson::parse(R"({"a": 1, "b": 2, "a": 3})");
    EXPECT_EQ(j.dump(), R"({"a":3,"b":2})");
}

TEST(OrderedMapTest, ConversionsToAndFromStandardMaps) {
    std::map<std::string, int> m{{"b", 2}, {"a", 1}};
    OJson j = m;
    EXPECT_EQ(j.dump(), R"({"a":1,"b":2})");
    auto back = OJson::parse(R"({"y": 1, "x": 2})").get<std::map<std::string, int>>();
    EXPECT_EQ(back.at("x"), 2);
    OJson from_list = {{"z", 1}, {"a", 2}};
    EXPECT_EQ(from_list.dump(), R"({"z":1,"a":2})");
    const OJson c = from_list;
    EXPECT_EQ(c["a"], 2);
    EXPECT_EQ(c.find("z").key(), "z");
    EXPECT_EQ(c.value("a", 0), 2);
    EXPECT_EQ(c.count(std::string_view("z")), 1u);
}

TEST(OrderedMapTest, TheJsonAliasKeepsOrderAndCanonicalDumpSortsIt) {
    const Json a = Json::parse(R"({"url": "x", "body": {"z": [ {"b": 1, "a": 2} ], "a": null}})");
    const Json b = Json::parse(R"({"body": {"a": null, "z": [ {"a": 2, "b": 1} ]}, "url": "x"})");
    EXPECT_EQ(a.dump(), R"({"url":"x","body":{"z":[{"b":1,"a":2}],"a":null}})");
    EXPECT_EQ(a, b);
    // What ids and digests are made of: the same for equal values, and what nlohmann::json (sorted) printed.
    EXPECT_EQ(CanonicalDump(a), R"({"body":{"a":null,"z":[{"a":2,"b":1}]},"url":"x"})");
    EXPECT_EQ(CanonicalDump(a), CanonicalDump(b));
    EXPECT_EQ(CanonicalDump(a), nlohmann::json::parse(a.dump()).dump());
    EXPECT_EQ(CanonicalDump(Json("caf\u00e9 \"q\"")), Json("caf\u00e9 \"q\"").dump());
    EXPECT_EQ(CanonicalDump(Json::parse("[3, 1.5, true, null, {}]")), "[3,1.5,true,null,{}]");
}

}  // namespace
}  // namespace squall::core
