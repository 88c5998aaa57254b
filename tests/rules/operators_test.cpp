// The rule operators against the template engine (both use core/pyvalue.hpp), and the timediff poison payload of
// issue 18.
#include "squall/rules/operators.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

struct Pair {
    const char* what;
    Json a;
    Json b;
    bool equal;  // Python's a == b
    int order;   // Python's ordering of a and b: -1, 0, 1; 2 when Python raises TypeError
};

std::vector<Pair> Pairs() {
    const uint64_t u64max = std::numeric_limits<uint64_t>::max();
    const uint64_t two63 = uint64_t{1} << 63;
    return {
        {"2**64-1 vs -1", Json(u64max), Json(-1), false, 1},
        {"2**64-1 vs 2**63-1", Json(u64max), Json(std::numeric_limits<int64_t>::max()), false, 1},
        {"2**64-1 vs 2**64-2", Json(u64max), Json(u64max - 1), false, 1},
        {"2**63 (uint64) vs 2.0**63", Json(two63), Json(9223372036854775808.0), true, 0},
        {"2**63+1 vs 2.0**63", Json(two63 + 1), Json(9223372036854775808.0), false, 1},
        {"2**63-1 vs 2.0**63", Json(std::numeric_limits<int64_t>::max()), Json(9223372036854775808.0), false, -1},
        {"2**53+1 vs 2.0**53", Json(int64_t{9007199254740993}), Json(9007199254740992.0), false, 1},
        {"-2**63 vs -2.0**63", Json(std::numeric_limits<int64_t>::min()), Json(-9223372036854775808.0), true, 0},
        {"True vs 1.0", Json(true), Json(1.0), true, 0},
        {"1 vs 1.5", Json(1), Json(1.5), false, -1},
        {"'1' vs 1", Json("1"), Json(1), false, 2},
        {"[1, 2] vs [1.0, 3]", Json::parse("[1, 2]"), Json::parse("[1.0, 3]"), false, -1},
    };
}

TEST(OperatorsTest, EqualsAndLessThanAgreeWithTheTemplateEngine) {
    OperatorRegistry reg;
    RegisterBuiltinOperators(reg);
    const OperatorFn& equals = *reg.Find("equals");
    const OperatorFn& nequals = *reg.Find("nequals");
    const OperatorFn& lessthan = *reg.Find("lessthan");
    const OperatorFn& greaterthan = *reg.Find("greaterthan");
    for (const Pair& p : Pairs()) {
        SCOPED_TRACE(p.what);
        const Json ctx = {{"a", p.a}, {"b", p.b}};
        Result<Json> eq = core::RenderValue("{{ a == b }}", ctx);
        ASSERT_TRUE(eq) << eq.error().message;
        EXPECT_EQ(*eq, Json(p.equal));
        EXPECT_EQ(equals(&p.a, p.b), p.equal);
        EXPECT_EQ(nequals(&p.a, p.b), !p.equal);
        Result<Json> lt = core::RenderValue("{{ a < b }}", ctx);
        Result<Json> gt = core::RenderValue("{{ a > b }}", ctx);
        if (p.order == 2) {
            EXPECT_FALSE(lt);  // a TypeError in Python: a template error, and no match for the operators
            EXPECT_FALSE(lessthan(&p.a, p.b));
            EXPECT_FALSE(greaterthan(&p.a, p.b));
            continue;
        }
        ASSERT_TRUE(lt) << lt.error().message;
        ASSERT_TRUE(gt) << gt.error().message;
        EXPECT_EQ(*lt, Json(p.order < 0));
        EXPECT_EQ(*gt, Json(p.order > 0));
        EXPECT_EQ(lessthan(&p.a, p.b), p.order < 0);
        EXPECT_EQ(greaterthan(&p.a, p.b), p.order > 0);
    }
}

TEST(OperatorsTest, TimediffOnAPoisonDateIsANoMatchNotACrash) {
    // Issue 18, reproduction 1: std::regex recursed over the 100,000 spaces and overflowed the stack.
    OperatorRegistry reg;
    RegisterBuiltinOperators(reg);
    const Json value = "2020-01-01 " + std::string(100000, ' ') + "x";
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE((*reg.Find("timediff_lt"))(&value, Json(60)));
    EXPECT_FALSE((*reg.Find("timediff_gt"))(&value, Json(60)));
    const Json spaces_then_date = std::string(100000, ' ') + "Wed, 01 Jan 2020 00:00:00 GMT";
    EXPECT_FALSE((*reg.Find("timediff_gt"))(&spaces_then_date, Json(60)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(OperatorsTest, TimediffStillReadsTheLooseDateForms) {
    OperatorRegistry reg;
    RegisterBuiltinOperators(reg);
    const OperatorFn& gt = *reg.Find("timediff_gt");
    for (const char* date :
         {"Wed, 01 Jan 2020 00:00:00 GMT",
          "1 Jan 2020 10:00 +0100",
          "20200101T000000Z",
          "2020/01/01 10:00",
          "2020-01-01T00:00:00 +0000",
          "  2020-1-2 03:04:05 UTC  ",
          "2020-01-01 12:00:00 GMT+02:00"}) {
        SCOPED_TRACE(date);
        const Json v = date;
        EXPECT_TRUE(gt(&v, Json(60)));  // long ago: more than 60 s
    }
    for (const char* bad : {"Foo, 01 Jxx 2020 00:00:00 GMT", "2020-01-01 00:00:00 Mars", "yesterday"}) {
        SCOPED_TRACE(bad);
        const Json v = bad;
        EXPECT_FALSE(gt(&v, Json(60)));
    }
}

}  // namespace
}  // namespace squall::rules
