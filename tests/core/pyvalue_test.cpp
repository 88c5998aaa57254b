#include "squall/core/pyvalue.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace squall::core {
namespace {

const Json kU64Max = Json(std::numeric_limits<uint64_t>::max());  // 18446744073709551615
const Json kI64Max = Json(std::numeric_limits<int64_t>::max());
const Json kI64Min = Json(std::numeric_limits<int64_t>::min());
const Json kTwo63U = Json(uint64_t{1} << 63);      // 2**63 as an unsigned integer
const Json kTwo63F = Json(9223372036854775808.0);  // 2.0**63

TEST(PyValueTest, IntegersCompareExactlyAcrossInt64AndUint64) {
    EXPECT_FALSE(PyEquals(kU64Max, Json(-1)));
    EXPECT_FALSE(PyEquals(kU64Max, kI64Max));
    EXPECT_FALSE(PyEquals(kU64Max, Json(std::numeric_limits<uint64_t>::max() - 1)));
    EXPECT_TRUE(PyEquals(kU64Max, kU64Max));
    EXPECT_TRUE(*PyCompare(Json(-1), kU64Max) < 0);
    EXPECT_TRUE(*PyCompare(kI64Max, kTwo63U) < 0);
    EXPECT_TRUE(*PyCompare(kI64Min, Json(0)) < 0);
    EXPECT_TRUE(PyEquals(Json(int64_t{5}), Json(uint64_t{5})));
}

TEST(PyValueTest, IntAgainstFloatIsExactAsInPython) {
    EXPECT_TRUE(PyEquals(kTwo63U, kTwo63F));                         // 2**63 == 2.0**63
    EXPECT_FALSE(PyEquals(Json((uint64_t{1} << 63) + 1), kTwo63F));  // 2**63 + 1 != 2.0**63
    EXPECT_TRUE(*PyCompare(Json((uint64_t{1} << 63) + 1), kTwo63F) > 0);
    EXPECT_FALSE(PyEquals(kI64Max, kTwo63F));  // the float rounds up; Python says 2**63 - 1 != 2.0**63
    EXPECT_TRUE(*PyCompare(kI64Max, kTwo63F) < 0);
    EXPECT_FALSE(PyEquals(Json(int64_t{9007199254740993}), Json(9007199254740992.0)));  // 2**53 + 1
    EXPECT_TRUE(PyEquals(kI64Min, Json(-9223372036854775808.0)));
    EXPECT_TRUE(*PyCompare(Json(2), Json(2.5)) < 0);
    EXPECT_TRUE(*PyCompare(Json(-2), Json(-2.5)) > 0);
    EXPECT_TRUE(*PyCompare(kU64Max, Json(1e30)) < 0);
    EXPECT_TRUE(*PyCompare(kI64Min, Json(-1e30)) > 0);
    EXPECT_TRUE(PyEquals(Json(1), Json(1.0)));
    EXPECT_TRUE(PyEquals(Json(true), Json(1.0)));
    EXPECT_TRUE(PyEquals(Json(false), Json(0)));
}

TEST(PyValueTest, NanIsUnorderedAndUnequal) {
    const Json nan = Json(std::nan(""));
    EXPECT_FALSE(PyEquals(nan, nan));
    EXPECT_EQ(*PyCompare(nan, Json(1)), std::partial_ordering::unordered);
    EXPECT_EQ(*PyCompare(Json(1), nan), std::partial_ordering::unordered);
}

TEST(PyValueTest, TypesPythonCannotOrderGiveNullopt) {
    EXPECT_FALSE(PyCompare(Json("1"), Json(1)).has_value());
    EXPECT_FALSE(PyCompare(Json(nullptr), Json(nullptr)).has_value());
    EXPECT_FALSE(PyCompare(Json::object(), Json::object()).has_value());
    EXPECT_TRUE(*PyCompare(Json("a"), Json("b")) < 0);
    EXPECT_TRUE(*PyCompare(Json("é"), Json("z")) > 0);  // code point order
    EXPECT_TRUE(*PyCompare(Json::parse("[1, 2]"), Json::parse("[1, 2, 0]")) < 0);
    EXPECT_FALSE(PyEquals(Json("1"), Json(1)));
    EXPECT_TRUE(PyEquals(Json::parse(R"({"a": [1, 2.0]})"), Json::parse(R"({"a": [1.0, 2]})")));
}

TEST(PyValueTest, TruthinessAndIntegerConversion) {
    EXPECT_FALSE(PyTruthy(Json(nullptr)));
    EXPECT_FALSE(PyTruthy(Json(0.0)));
    EXPECT_FALSE(PyTruthy(Json(uint64_t{0})));
    EXPECT_TRUE(PyTruthy(kU64Max));
    EXPECT_FALSE(PyTruthy(Json("")));
    EXPECT_TRUE(PyTruthy(Json(" ")));
    EXPECT_FALSE(PyTruthy(Json::array()));
    EXPECT_EQ(PyAsInt(kU64Max), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(PyAsInt(Json(-2.7)), -2);
    EXPECT_EQ(PyAsInt(Json(1e300)), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(PyAsDouble(kU64Max), 18446744073709551615.0);
    EXPECT_STREQ(PyTypeName(kU64Max), "int");
    EXPECT_STREQ(PyTypeName(Json(true)), "bool");
}

}  // namespace
}  // namespace squall::core
