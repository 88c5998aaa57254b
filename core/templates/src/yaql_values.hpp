// YAQL's values (yaql.cpp): immutable JSON values shared without copies, and Python's semantics over them (truth,
// equality, ordering, str()), as yaql evaluates them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "squall/core/model/model.hpp"

namespace squall::core::yaql {

/// An immutable JSON value: either owned, or an alias into a larger value (the context, a list being iterated).
using Val = std::shared_ptr<const Json>;

Val Own(Json j);
Val Child(const Val& parent, const Json& child);
const char* TypeName(const Json& j);
bool IsInt(const Json& j);
bool IsNum(const Json& j);
double AsDouble(const Json& j);
bool Truthy(const Json& j);
bool PyEq(const Json& a, const Json& b);
std::optional<int> PyCmp(const Json& a, const Json& b);
std::string YaqlStr(const Json& j);
uint64_t ApproxBytes(const Json& j, uint64_t cap);
std::string BudgetBytes(uint64_t bytes);

}  // namespace squall::core::yaql
