#include "content_common.hpp"

#include <algorithm>

#include "squall/core/input.hpp"
#include "squall/packs/json_schema.hpp"
#include "squall/templates/template.hpp"

namespace squall::packs {
namespace detail {

std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

std::string Hint(const std::string& word, const std::vector<std::string>& known) {
    const std::string hint = core::ClosestMatch(word, known);
    return hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)";
}

void Checker::Keys(const Json& obj, const std::string& path, const std::vector<std::string>& known) {
    if (!obj.is_object()) return;
    for (const auto& [k, v] : obj.items()) {
        if (std::find(known.begin(), known.end(), k) == known.end())
            Fail(Join(path, k), "unknown field" + Hint(k, known));
    }
}

std::string Checker::Str(const Json& obj, const std::string& key, const std::string& path, std::string def) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_string()) {
        Fail(Join(path, key), "must be a string");
        return def;
    }
    return it->get<std::string>();
}

std::optional<std::string> Checker::Required(const Json& obj, const std::string& key, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        Fail(Join(path, key), "is required");
        return std::nullopt;
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
        Fail(Join(path, key), "must be a non-empty string");
        return std::nullopt;
    }
    return it->get<std::string>();
}

bool Checker::Bool(const Json& obj, const std::string& key, const std::string& path, bool def) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_boolean()) {
        Fail(Join(path, key), "must be true or false");
        return def;
    }
    return it->get<bool>();
}

Json Checker::Mapping(const Json& obj, const std::string& key, const std::string& path, const std::string& what) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Json::object();
    if (!it->is_object()) {
        Fail(Join(path, key), "must be a mapping" + (what.empty() ? std::string() : " (" + what + ")"));
        return Json::object();
    }
    return *it;
}

std::vector<std::string> Checker::StringList(const Json& obj, const std::string& key, const std::string& path) {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return out;
    if (!it->is_array()) {
        Fail(Join(path, key), "must be a list of strings");
        return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const Json& v = (*it)[i];
        if (v.is_string()) {
            out.push_back(v.get<std::string>());
        } else if (v.is_number()) {
            out.push_back(v.is_number_float() ? core::PythonStr(v) : v.dump());
        } else {
            Fail(Join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
        }
    }
    return out;
}

std::optional<std::string> Checker::Ref(const Json& obj, const std::string& key, const std::string& path) {
    std::optional<std::string> ref = Required(obj, key, path);
    if (!ref) return ref;
    if (!core::SplitRef(*ref)) {
        Fail(Join(path, key), "\"" + *ref + "\" is not of the form pack.name");
        return std::nullopt;
    }
    if (Status st = core::CheckRef(Join(path, key), *ref); !st) {
        Fail(Join(path, key), Detail(st.error()));
        return std::nullopt;
    }
    return ref;
}

std::string Checker::Name(const Json& obj, const std::string& key, const std::string& path) {
    std::optional<std::string> name = Required(obj, key, path);
    if (!name) return {};
    if (Status st = core::CheckName(Join(path, key), *name); !st) {
        Fail(Join(path, key), Detail(st.error()));
        return {};
    }
    return *name;
}

std::string Checker::PackName(const Json& obj, const std::string& key, const std::string& path, std::string def) {
    std::string p = Str(obj, key, path, std::move(def));
    if (p.empty()) return p;
    if (Status st = core::CheckPackName(Join(path, key), p); !st) {
        Fail(Join(path, key), Detail(st.error()));
        return {};
    }
    return p;
}

std::string Checker::Pack(const Json& obj, const std::string& pack, const std::string& path) {
    std::string p = Str(obj, "pack", path, pack);
    if (!pack.empty() && p != pack) {
        Fail(Join(path, "pack"), "is \"" + p + "\" but the file is in pack \"" + pack + "\"");
        return pack;
    }
    return p;
}

namespace {

const std::vector<std::string>& TypeNames() {
    static const std::vector<std::string> kTypes = {
        "string", "integer", "number", "boolean", "object", "array", "null"};
    return kTypes;
}

/// Type names used anywhere in a schema (properties, items, combinators...) must be draft-4 types.
void CheckTypes(Checker& c, const Json& node, const std::string& path) {
    if (!node.is_object()) return;
    if (auto t = node.find("type"); t != node.end()) {
        auto check = [&](const Json& name, const std::string& at) {
            if (!name.is_string()) {
                c.Fail(at, "must be a type name");
            } else if (std::find(TypeNames().begin(), TypeNames().end(), name.get<std::string>()) == TypeNames().end()) {
                c.Fail(
                    at, "unknown type \"" + name.get<std::string>() + "\"" + Hint(name.get<std::string>(), TypeNames())
                );
            }
        };
        if (t->is_array()) {
            for (size_t i = 0; i < t->size(); ++i) check((*t)[i], Join(path, "type") + "[" + std::to_string(i) + "]");
        } else {
            check(*t, Join(path, "type"));
        }
    }
    for (const char* key : {"properties", "patternProperties", "definitions"}) {
        auto it = node.find(key);
        if (it == node.end()) continue;
        if (!it->is_object()) {
            c.Fail(Join(path, key), "must be a mapping of name: schema");
            continue;
        }
        for (const auto& [name, sub] : it->items()) CheckTypes(c, sub, Join(Join(path, key), name));
    }
    for (const char* key : {"items", "additionalProperties", "additionalItems", "not"}) {
        auto it = node.find(key);
        if (it == node.end()) continue;
        if (it->is_array()) {
            for (size_t i = 0; i < it->size(); ++i)
                CheckTypes(c, (*it)[i], Join(path, key) + "[" + std::to_string(i) + "]");
        } else {
            CheckTypes(c, *it, Join(path, key));
        }
    }
    for (const char* key : {"allOf", "anyOf", "oneOf"}) {
        auto it = node.find(key);
        if (it == node.end() || !it->is_array()) continue;
        for (size_t i = 0; i < it->size(); ++i)
            CheckTypes(c, (*it)[i], Join(path, key) + "[" + std::to_string(i) + "]");
    }
}

/// `schema` without StackStorm's per-property `required: true|false` (draft 4 wants a list there).
Json WithoutBooleanRequired(Json schema) {
    if (!schema.is_object()) return schema;
    // (Not a list: StackStorm's flag, checked as such elsewhere.)
    if (auto r = schema.find("required"); r != schema.end() && !r->is_array()) schema.erase(r);
    for (const char* key : {"properties", "patternProperties", "definitions"}) {
        if (auto it = schema.find(key); it != schema.end() && it->is_object())
            for (auto& [name, sub] : it->items()) sub = WithoutBooleanRequired(sub);
    }
    for (const char* key : {"items", "additionalProperties", "additionalItems", "not", "allOf", "anyOf", "oneOf"}) {
        auto it = schema.find(key);
        if (it == schema.end()) continue;
        if (it->is_array()) {
            for (auto& sub : *it) sub = WithoutBooleanRequired(sub);
        } else {
            *it = WithoutBooleanRequired(*it);
        }
    }
    return schema;
}

}  // namespace

/// One JSON schema at `path`: type names, then the draft-4 meta-schema (`minimum: "five"`, `maxLength: -1`,
/// ...), then it must compile.
void CheckSchema(Checker& c, const Json& schema, const std::string& path) {
    if (!schema.is_object()) {
        c.Fail(path, "must be a mapping (a JSON schema)");
        return;
    }
    const size_t before = c.errors().size();
    CheckTypes(c, schema, path);
    if (c.errors().size() != before) return;
    static const Result<JsonSchema> kMeta =
        JsonSchema::Compile(Json{{"$ref", "http://json-schema.org/draft-04/schema#"}});
    if (kMeta) {
        if (Status st = kMeta->Validate(WithoutBooleanRequired(schema), "schema", {.subject = "the"}); !st) {
            c.Fail(path, "invalid schema: " + st.error().message);
            return;
        }
    }
    Result<JsonSchema> compiled = JsonSchema::Compile(schema);
    if (!compiled) c.Fail(path, "invalid schema: " + compiled.error().message);
}

namespace {

/// The StackStorm parameter attributes and the draft-4 keywords a parameter may carry; other keys are accepted
/// (schemas are open) unless they look like a misspelling of one of these.
const std::vector<std::string>& ParameterKeys() {
    static const std::vector<std::string> kKeys = {
        "type",
        "description",
        "default",
        "required",
        "immutable",
        "secret",
        "position",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "items",
        "properties",
        "additionalProperties",
        "patternProperties",
        "additionalItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "dependencies",
        "title",
        "$ref",
        "definitions",
        "id",
        "$schema"};
    return kKeys;
}

}  // namespace

/// A map name → StackStorm parameter schema (action parameters, trigger parameters in st2 style).
void CheckParameters(Checker& c, const Json& params, const std::string& path) {
    for (const auto& [name, s] : params.items()) {
        const std::string at = Join(path, name);
        if (!s.is_object()) {
            c.Fail(at, "must be a mapping (a parameter schema)");
            continue;
        }
        for (const auto& [k, v] : s.items()) {
            if (std::find(ParameterKeys().begin(), ParameterKeys().end(), k) != ParameterKeys().end()) continue;
            const std::string hint = core::ClosestMatch(k, ParameterKeys());
            if (!hint.empty()) c.Fail(Join(at, k), "unknown attribute (did you mean \"" + hint + "\"?)");
        }
        for (const char* flag : {"required", "immutable", "secret"}) {
            if (s.contains(flag) && !s[flag].is_boolean()) c.Fail(Join(at, flag), "must be true or false");
        }
        if (s.contains("position") && !(s["position"].is_number_integer() && s["position"].get<long long>() >= 0))
            c.Fail(Join(at, "position"), "must be a non-negative integer");
        if (s.contains("enum") && !s["enum"].is_array()) c.Fail(Join(at, "enum"), "must be a list");
        // A templated default is rendered at every run: one that does not parse is a load error here.
        if (auto def = s.find("default"); def != s.end()) {
            for (auto& [field, error] : core::TemplateSyntaxErrors(*def, Join(at, "default")))
                c.Fail(field, error.message);
        }
        const size_t before = c.errors().size();
        CheckSchema(c, s, at);
        if (c.errors().size() != before) continue;
        // A literal (non-template, non-string: strings may be cast at run time) default must fit the schema.
        if (auto def = s.find("default");
            def != s.end() && !def->is_null() && !def->is_string() && def->dump().find("{{") == std::string::npos) {
            Result<JsonSchema> compiled = JsonSchema::Compile(s);
            const bool secret = core::BoolOr(s, "secret", false);
            if (compiled) {
                if (Status st = compiled->Validate(*def, name, {.subject = "default of", .mask_values = secret}); !st)
                    c.Fail(Join(at, "default"), st.error().message);
            }
        }
    }
}

/// `tags`: a list of {name, value}.
Json Tags(Checker& c, const Json& obj, const std::string& path) {
    auto it = obj.find("tags");
    if (it == obj.end() || it->is_null()) return Json::array();
    if (!it->is_array()) {
        c.Fail(Join(path, "tags"), "must be a list of {name, value}");
        return Json::array();
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const std::string at = Join(path, "tags") + "[" + std::to_string(i) + "]";
        if (!(*it)[i].is_object()) {
            c.Fail(at, "must be a mapping {name, value}");
            continue;
        }
        c.Keys((*it)[i], at, {"name", "value"});
        c.Required((*it)[i], "name", at);
    }
    return *it;
}

}  // namespace detail

using core::YamlDocument;
using detail::Checker;
using detail::CheckParameters;
using detail::CheckSchema;

bool CheckSchemaAt(const YamlDocument& doc, const Json& schema, const std::string& path, std::vector<Error>& errors) {
    Checker c(doc);
    CheckSchema(c, schema, path);
    errors.insert(errors.end(), c.errors().begin(), c.errors().end());
    return c.ok();
}

bool CheckParametersAt(
    const YamlDocument& doc, const Json& parameters, const std::string& path, std::vector<Error>& errors
) {
    Checker c(doc);
    CheckParameters(c, parameters, path);
    errors.insert(errors.end(), c.errors().begin(), c.errors().end());
    return c.ok();
}

Json RunnerTypeInfo::ToJson() const {
    return {
        {"name", name},
        {"description", description},
        {"runner_parameters", parameters},
        {"enabled", true},
        {"uid", "runner_type:" + name}};
}

}  // namespace squall::packs
