#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::rules {

using core::Json;

/// A criteria operator: `value` is the payload value at the criteria key (nullptr when the key is absent),
/// `pattern` the rendered pattern. Pure and thread-safe; never throws.
using OperatorFn = std::function<bool(const Json* value, const Json& pattern)>;

/// Operators by name; lookups are case-insensitive like StackStorm's. Duplicate names fail at registration.
class OperatorRegistry {
public:
    /// Registers `fn` under `name` and each alias. Fails (kAlreadyExists) on a duplicate.
    Status Register(const std::string& name, const std::vector<std::string>& aliases, OperatorFn fn);
    /// nullptr when unknown.
    const OperatorFn* Find(const std::string& name) const;
    /// Every registered name and alias (for did-you-mean hints).
    std::vector<std::string> Names() const;

private:
    std::map<std::string, OperatorFn> ops_;
};

/// Registers StackStorm's operators with their aliases (reference §5).
void RegisterBuiltinOperators(OperatorRegistry& registry);

}  // namespace squall::rules
