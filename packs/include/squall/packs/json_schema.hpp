#pragma once

#include <map>
#include <memory>
#include <string>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::packs {

using core::Json;

/// How validation errors are worded.
struct SchemaMessageOptions {
    /// First word of every message: `parameter "hosts[2]": ...`.
    std::string subject = "parameter";
    /// Replace offending values by "********" (secret parameters must never reach logs or API output).
    bool mask_values = false;
};

/// A JSON Schema draft 4 validator (https://json-schema.org/draft-04), checked against Debian's
/// json-schema-test-suite (tests/draft4). Supported keywords: type (a name or a list of names; "integer" is any
/// mathematically integral number, so 1.0 is one), enum, multipleOf, minimum/maximum with the boolean
/// exclusiveMinimum/exclusiveMaximum, minLength/maxLength (in Unicode code points), pattern (searched, not
/// anchored; PCRE2 through core::Regex, close to ECMA-262 for the patterns in use), items/additionalItems,
/// minItems/maxItems, uniqueItems (JSON equality, 1 == 1.0), properties/patternProperties/additionalProperties,
/// required (an array of names), minProperties/maxProperties, dependencies, allOf/anyOf/oneOf/not, definitions,
/// and $ref (which, as draft 4 says, replaces its sibling keywords) with `id` scopes, JSON pointers and their
/// ~0 ~1 %25 escapes. `format`, `default`, `title`, `description` are annotations and are not checked.
///
/// StackStorm parameter attributes on a property schema (`required: true`, `immutable`, `secret`, `position`,
/// `default`) are not draft-4 keywords there and are ignored (`required` only counts when it is an array).
///
/// $ref may point into the schema itself, into the draft-4 meta-schema
/// (`http://json-schema.org/draft-04/schema#`, built in), or into `documents` given to Compile; nothing is
/// ever fetched over the network.
///
/// Immutable once compiled; copies share the compiled state; Validate is thread-safe.
class JsonSchema {
public:
    /// Other schema documents $ref may name, by absolute URI without fragment ("http://host/a.json").
    using Documents = std::map<std::string, Json>;

    /// Checks that `schema` is an object, that every pattern compiles and that every $ref in a schema position
    /// resolves. The error says which keyword at which JSON pointer is wrong.
    static Result<JsonSchema> Compile(const Json& schema, const Documents& documents = {});

    /// Validates `value`. `path` names the value in messages ("hosts"; nested values become "hosts[2]" and
    /// "opts.user"). Stops at the first error: `parameter "hosts[2]": "x" does not match pattern "^[a-z]+$"`,
    /// `parameter "count": 12 is greater than the maximum 10`.
    Status Validate(const Json& value, const std::string& path, const SchemaMessageOptions& options = {}) const;

    /// True when `value` is valid (no message is built).
    bool IsValid(const Json& value) const;

    struct Impl;

private:
    explicit JsonSchema(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

/// JSON equality as JSON Schema defines it: numbers compare by value (1 == 1.0), objects ignore key order.
bool JsonEqual(const Json& a, const Json& b);

}  // namespace squall::packs
