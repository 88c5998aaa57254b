#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/regex.hpp"

namespace squall::rules {

using core::Json;

/// A criteria operator: `value` is the payload value at the criteria key (nullptr when the key is absent),
/// `pattern` the rendered pattern. Pure and thread-safe; never throws.
using OperatorFn = std::function<bool(const Json* value, const Json& pattern)>;

/// An operator bound to one constant pattern (regexes compiled, case folded once). Pure and thread-safe.
using PreparedFn = std::function<bool(const Json* value)>;

/// An operator bound to one constant pattern. The common operators are a `kind` with their pattern pre-digested
/// (string, lower-cased string, number or compiled regex), tested without a std::function call; others carry a
/// PreparedFn. Immutable and thread-safe.
struct Prepared {
    enum class Kind : uint8_t {
        kNone,         ///< nothing prepared: call the OperatorFn with the pattern
        kFn,           ///< `fn`
        kFalse,        ///< never holds (a non-string regex pattern, a regex that does not compile, ...)
        kEquals,       ///< value is the string `text`
        kNequals,      ///< not (value is the string `text`)
        kNumEquals,    ///< value PyEquals the number (or bool) `number`
        kNumNequals,   ///< not kNumEquals
        kStartsWith,   ///< string value starts with `text`
        kEndsWith,     ///< string value ends with `text`
        kContains,     ///< Python's `text in value` (str, list or dict value)
        kNcontains,    ///< `text not in value` (str, list or dict value)
        kIEquals,      ///< the case-insensitive kinds: `text` is lower-cased
        kIContains,    ///<
        kINcontains,   ///<
        kIStartsWith,  ///<
        kIEndsWith,    ///<
        kRegex,        ///< `regex` searched (or matched at the start when `anchored`) in a string value
        kExists,       ///< present and not null
        kNexists,      ///< absent or null
        kGlob,         ///< matchwildcard with `*` only: `parts` are the literal pieces between the stars; `regex`
                       ///< (the translated glob) confirms a match on non-ASCII values
    };
    Kind kind = Kind::kNone;
    std::string text;
    Json number;
    core::RegexPtr regex;
    bool anchored = false;
    std::vector<std::string> parts;
    PreparedFn fn;

    Prepared() = default;
    Prepared(Kind k) : kind(k) {}  // NOLINT: implicit on purpose, `return Prepared::Kind::kFalse;`
    Prepared(PreparedFn f) : kind(f ? Kind::kFn : Kind::kNone), fn(std::move(f)) {}  // NOLINT: implicit

    explicit operator bool() const { return kind != Kind::kNone; }
    bool IsCaseInsensitive() const { return kind >= Kind::kIEquals && kind <= Kind::kIEndsWith; }
    /// Whether `value` (nullptr: absent) passes. `lowered` (optional, case-insensitive kinds only): the value's
    /// string ASCII lower-cased, when the caller has it already.
    bool Test(const Json* value, const std::string* lowered = nullptr) const {
        // The cheapest kinds inline; the others behind one call.
        switch (kind) {
            case Kind::kFalse:
                return false;
            case Kind::kEquals:
                return value && value->is_string() && *value->get_ptr<const std::string*>() == text;
            case Kind::kNequals:
                return !(value && value->is_string() && *value->get_ptr<const std::string*>() == text);
            case Kind::kExists:
                return value && !value->is_null();
            case Kind::kNexists:
                return !value || value->is_null();
            default:
                return TestOther(value, lowered);
        }
    }
    bool operator()(const Json* value) const { return Test(value); }

private:
    bool TestOther(const Json* value, const std::string* lowered) const;
    /// The case-insensitive kinds (out of TestOther, so that the common kinds need no string on the stack).
    bool TestCaseInsensitive(const Json* value, const std::string* lowered) const;
};

/// Binds an operator to a pattern that is known when the rule is compiled; returns an empty Prepared (kNone) when
/// it has nothing better than calling the OperatorFn.
using PrepareFn = std::function<Prepared(const Json& pattern)>;

/// Python's str.lower() (what the case-insensitive operators compare), in place.
void LowerInPlace(std::string& s);

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
