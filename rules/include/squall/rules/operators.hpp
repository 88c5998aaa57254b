#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::rules {

using core::Json;

/// A criteria operator: `value` is the payload value at the criteria key (nullptr when the key is absent),
/// `pattern` the rendered pattern. Pure and thread-safe; never throws.
using OperatorFn = std::function<bool(const Json* value, const Json& pattern)>;

/// An operator bound to one constant pattern (regexes compiled, case folded once). Pure and thread-safe.
using PreparedFn = std::function<bool(const Json* value)>;

/// Binds an operator to a pattern that is known when the rule is compiled; returns an empty function when it has
/// nothing better than calling the OperatorFn.
using PrepareFn = std::function<PreparedFn(const Json& pattern)>;

/// One registered operator.
struct Operator {
    std::string name;  ///< canonical name ("equals" for "eq")
    OperatorFn fn;
    PrepareFn prepare;  ///< optional
};

/// Operators by name; lookups are case-insensitive like StackStorm's. Duplicate names fail at registration.
class OperatorRegistry {
public:
    /// Registers `fn` under `name` and each alias. Fails (kAlreadyExists) on a duplicate.
    Status Register(
        const std::string& name, const std::vector<std::string>& aliases, OperatorFn fn, PrepareFn prepare = nullptr
    );
    /// nullptr when unknown.
    const OperatorFn* Find(const std::string& name) const;
    /// nullptr when unknown; the pointer stays valid as long as the registry (entries are never removed).
    const Operator* FindOperator(const std::string& name) const;
    /// Every registered name and alias (for did-you-mean hints).
    std::vector<std::string> Names() const;

private:
    std::map<std::string, std::shared_ptr<const Operator>> ops_;
};

/// The name of StackStorm's `search` operator, whose pattern is a nested criteria map that the Matcher evaluates
/// per list item (its OperatorFn only answers false).
inline constexpr const char* kSearchOperator = "search";

/// Python's `==` on JSON values (1 == 1.0 == True); what `equals` uses.
bool PyEquals(const Json& a, const Json& b);

/// A hash key such that PyEquals(a, b) implies EqualityKey(a) == EqualityKey(b), for scalars (string, number,
/// bool); empty for other values. The Matcher's equality index uses it.
std::string EqualityKey(const Json& v);

/// Registers StackStorm's operators with their aliases (reference §5). `clock` (optional, must outlive the
/// registry) is what `timediff_lt/gt` call "now"; the real clock when null.
void RegisterBuiltinOperators(OperatorRegistry& registry, const core::Clock* clock = nullptr);

}  // namespace squall::rules
