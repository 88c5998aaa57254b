#include "squall/packs/parameters.hpp"

#include "squall/core/config.hpp"

#include "squall/core/input.hpp"
#include "squall/core/mask.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <string>
#include <unordered_map>

#include "squall/packs/json_schema.hpp"
#include "squall/templates/template.hpp"

namespace squall::packs {
namespace {

/// Parameter schemas are compiled once per distinct schema text and thread (compiling costs far more than the
/// dump that keys it); bounded, cleared when full. Bad schemas are not cached, so their error repeats.
Result<JsonSchema> CompileCached(const Json& schema) {
    constexpr size_t kMaxEntries = 4096;
    thread_local std::unordered_map<std::string, JsonSchema> cache;
    std::string key = schema.dump();
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    Result<JsonSchema> compiled = JsonSchema::Compile(schema);
    if (!compiled) return compiled;
    if (cache.size() >= kMaxEntries) cache.clear();
    cache.emplace(std::move(key), *compiled);
    return compiled;
}

bool IsType(const Json& v, const std::string& type) {
    if (type == "string") return v.is_string();
    if (type == "integer")
        return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "null") return v.is_null();
    return true;
}

/// StackStorm casts rendered values to the declared type (reference §3.3).
Json Cast(const Json& v, const std::string& type) {
    if (!v.is_string()) return v;
    const std::string& s = v.get_ref<const std::string&>();
    try {
        if (type == "integer") {
            size_t pos = 0;
            long long n = std::stoll(s, &pos);
            if (pos == s.size()) return n;
        } else if (type == "number") {
            size_t pos = 0;
            double d = std::stod(s, &pos);
            if (pos == s.size()) return d;
        } else if (type == "boolean") {
            if (s == "true" || s == "True" || s == "1") return true;
            if (s == "false" || s == "False" || s == "0") return false;
        } else if (type == "object" || type == "array") {
            Result<Json> parsed = core::ParseJsonLimited(s, "value");
            if (parsed && ((type == "object" && parsed->is_object()) || (type == "array" && parsed->is_array()))) {
                return *parsed;
            }
        }
    } catch (const std::exception&) {
    }
    return v;
}

/// What `st2 run` does with text for arrays and objects that is not JSON: `a,b` → ["a", "b"] (items cast to
/// `items.type`), `k=v,k2=v2` → {"k": "v", "k2": "v2"}. Other text is kept (and then fails validation).
Json CastCliText(const std::string& text, const Json& s) {
    auto trim = [](std::string x) {
        const size_t a = x.find_first_not_of(" \t");
        const size_t b = x.find_last_not_of(" \t");
        return a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
    };
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        const size_t comma = text.find(',', start);
        parts.push_back(trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (s.value("type", Json()) == "array") {
        std::string item_type;
        if (auto items = s.find("items");
            items != s.end() && items->is_object() && items->contains("type") && (*items)["type"].is_string()) {
            item_type = (*items)["type"].get<std::string>();
        }
        Json out = Json::array();
        for (const auto& p : parts) out.push_back(item_type.empty() ? Json(p) : Cast(Json(p), item_type));
        return out;
    }
    Json out = Json::object();
    for (const auto& p : parts) {
        const size_t eq = p.find('=');
        if (eq == std::string::npos || eq == 0) return text;
        out[trim(p.substr(0, eq))] = trim(p.substr(eq + 1));
    }
    return out;
}

/// True when the parameter's `type` is `type` or a list containing it.
bool IsDeclared(const Json& s, const std::string& type) {
    auto it = s.find("type");
    if (it == s.end()) return false;
    if (it->is_string()) return *it == type;
    if (it->is_array()) {
        for (const auto& t : *it) {
            if (t == type) return true;
        }
    }
    return false;
}

/// Casts a string to the declared type, or to the first type of a list that it casts to (a list that allows
/// strings keeps the string).
Json CastToDeclared(const Json& value, const Json& s) {
    auto it = s.find("type");
    if (it == s.end()) return value;
    // A number, boolean, object or array for a `type: string` parameter is its text, as StackStorm's rendering gives
    // ("{{ trigger.body.number }}" → "5", a boolean → "True", "{{ trigger.body }}" → "{'a': [1, 2]}").
    if (it->is_string() && *it == "string" && (value.is_number() || value.is_boolean() || value.is_structured())) {
        return core::PythonStr(value);
    }
    if (!value.is_string()) return value;
    if (it->is_string()) {
        Json cast = Cast(value, it->get<std::string>());
        if (cast.is_string() && (*it == "array" || *it == "object")) return CastCliText(cast.get<std::string>(), s);
        return cast;
    }
    if (!it->is_array() || IsDeclared(s, "string")) return value;
    for (const auto& t : *it) {
        if (!t.is_string()) continue;
        Json cast = Cast(value, t.get<std::string>());
        if (IsType(cast, t.get<std::string>())) return cast;
    }
    return value;
}

}  // namespace

Json EffectiveSchema(const Json& runner_parameters, const Json& action_parameters) {
    Json out = runner_parameters.is_object() ? runner_parameters : Json::object();
    if (!action_parameters.is_object()) return out;
    for (const auto& [name, schema] : action_parameters.items()) {
        if (out.contains(name) && schema.is_object()) {
            for (const char* k : {"default", "description", "enum", "immutable", "required"}) {
                if (schema.contains(k)) out[name][k] = schema[k];
            }
        } else {
            out[name] = schema;
        }
    }
    return out;
}

Result<ResolvedParameters> ResolveParameters(
    const Json& schema,
    const Json& given,
    const Json& context,
    const core::RenderOptions& options,
    const std::vector<std::string>& extra_secrets
) {
    ResolvedParameters out;
    if (!given.is_null() && !given.is_object()) return InvalidArgument("parameters must be an object");
    const Json& in = given.is_null() ? Json::object() : given;
    for (const auto& [name, value] : in.items()) {
        if (!schema.contains(name)) {
            std::vector<std::string> known;
            for (const auto& [k, v] : schema.items()) known.push_back(k);
            const std::string hint = core::ClosestMatch(name, known);
            return InvalidArgument(
                "parameter \"" + name + "\": not defined by the action (unknown parameter" +
                (hint.empty() ? std::string(")") : std::string("; did you mean \"") + hint + "\"?)")
            );
        }
        if (core::BoolOr(schema[name], "immutable", false)) {
            return InvalidArgument("parameter \"" + name + "\": is immutable and cannot be given a value");
        }
    }
    // Given values and plain defaults first; templated defaults may refer to other parameters (StackStorm
    // resolves them as a dependency graph), so they are rendered in passes until none is left.
    Json values = Json::object();
    std::vector<std::string> pending;
    for (const auto& [name, s] : schema.items()) {
        if (!s.is_object()) continue;
        if (in.contains(name) && !(in[name].is_null() && s.contains("default"))) {
            values[name] = in[name];
        } else if (s.contains("default")) {  // not given, or given null (StackStorm then uses the default)
            const Json& def = s["default"];
            if (def.dump().find("{{") != std::string::npos) {
                pending.push_back(name);
            } else {
                values[name] = def;
            }
        } else if (core::BoolOr(s, "required", false)) {
            return InvalidArgument("parameter \"" + name + "\": is required");
        }
    }
    // Whether `name`'s default mentions another parameter that still waits (as a whole word): render it later.
    auto waits_on_other = [&](const std::string& name) {
        const std::string text = schema[name]["default"].dump();
        for (const auto& other : pending) {
            if (other == name) continue;
            for (size_t at = text.find(other); at != std::string::npos; at = text.find(other, at + 1)) {
                auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
                const bool before = at > 0 && (word(text[at - 1]) || text[at - 1] == '.');  // x.name: an attribute
                const bool after = at + other.size() < text.size() && word(text[at + other.size()]);
                if (!before && !after) return true;
            }
        }
        return false;
    };
    while (!pending.empty()) {
        std::vector<std::string> still;
        Error last;
        std::vector<std::string> ready;
        for (const auto& name : pending) {
            if (!waits_on_other(name)) ready.push_back(name);
        }
        if (ready.empty()) {
            std::string names;
            for (const auto& n : pending) names += (names.empty() ? "" : ", ") + n;
            return InvalidArgument("parameters " + names + ": their templated defaults refer to each other (a cycle)");
        }
        for (const auto& name : pending) {
            if (std::find(ready.begin(), ready.end(), name) == ready.end()) {
                still.push_back(name);
                continue;
            }
            Json ctx = context.is_object() ? context : Json::object();
            // Every declared parameter is in the context, None when it has no value (as in StackStorm).
            for (const auto& [k, v] : schema.items()) {
                if (!values.contains(k) && std::find(pending.begin(), pending.end(), k) == pending.end())
                    ctx[k] = nullptr;
            }
            for (const auto& [k, v] : values.items()) ctx[k] = v;
            Result<Json> rendered = core::RenderValue(schema[name]["default"], ctx, options);
            if (rendered) {
                values[name] = std::move(*rendered);
            } else {
                still.push_back(name);
                last = InvalidArgument("parameter \"" + name + "\" default: " + rendered.error().message);
            }
        }
        if (still.size() == pending.size()) return last;  // an error rendering every ready default
        pending = std::move(still);
    }
    for (const auto& [name, s] : schema.items()) {
        if (!values.contains(name)) continue;
        Json value = values[name];
        // st2's `use_none` filter renders None as a magic string, which casting turns back into None.
        if (value.is_string() && value.get_ref<const std::string&>() == "%*****__%NONE%__*****%") value = nullptr;
        if (value.is_null() && !core::BoolOr(s, "required", false)) continue;
        value = CastToDeclared(value, s);
        // The full draft-4 check of the value; StackStorm's own attributes on `s` are ignored by the validator.
        Result<JsonSchema> compiled = CompileCached(s);
        if (!compiled)
            return InvalidArgument("parameter \"" + name + "\": invalid schema: " + compiled.error().message);
        const bool secret = s.find("secret") != s.end() && s["secret"] == true;
        if (Status valid = compiled->Validate(value, name, {.subject = "parameter", .mask_values = secret}); !valid)
            return valid.error();
        if (IsDeclared(s, "integer") && !IsDeclared(s, "number") && value.is_number_unsigned() &&
            value.get<uint64_t>() > 9223372036854775807ULL) {
            // 2^63 .. 2^64 - 1: parsed as unsigned, past what an integer parameter holds as a signed 64-bit value.
            return InvalidArgument("parameter \"" + name + "\": " + value.dump() + " does not fit in a 64-bit integer");
        }
        if (IsDeclared(s, "integer") && !IsDeclared(s, "number") && value.is_number_float() &&
            std::floor(value.get<double>()) == value.get<double>()) {
            // [-2^63, 2^63) converts exactly; outside it the conversion would be undefined (1e30 became INT64_MIN).
            const double d = value.get<double>();
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                return InvalidArgument(
                    "parameter \"" + name + "\": " + value.dump() + " does not fit in a 64-bit integer"
                );
            value = static_cast<long long>(d);
        }
        out.values[name] = value;
        if (secret) {
            out.masked[name] = kMask;
            out.secrets.push_back(name);
        } else {
            out.masked[name] = value;
        }
    }
    // A secret rendered into another parameter (`cmd: "login -p {{ password }}"`) is masked there too
    // (core::SecretMasker: a secret shorter than 4 bytes only where it is a whole value).
    std::vector<std::string> secret_texts;
    for (const auto& name : out.secrets) {
        const Json& v = out.values[name];
        secret_texts.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    secret_texts.insert(secret_texts.end(), extra_secrets.begin(), extra_secrets.end());
    if (options.kv) {
        out.revealed = options.kv->Revealed();
        secret_texts.insert(secret_texts.end(), out.revealed.begin(), out.revealed.end());
    }
    const core::SecretMasker masker(secret_texts);
    if (!masker.empty()) {
        for (auto& [name, v] : out.masked.items()) {
            if (std::find(out.secrets.begin(), out.secrets.end(), name) == out.secrets.end()) masker.Value(v);
        }
    }
    return out;
}

Json MaskSecretDefaults(const Json& action, const Json& schema) {
    Json out = action;
    if (!out.contains("parameters") || !out["parameters"].is_object() || !schema.is_object()) return out;
    for (auto& [name, p] : out["parameters"].items()) {
        auto s = schema.find(name);
        if (s == schema.end() || !s->is_object() || core::BoolOr(*s, "secret", false) != true) continue;
        if (p.is_object() && p.contains("default") && !p["default"].is_null()) p["default"] = kMask;
    }
    return out;
}

}  // namespace squall::packs
