#include "squall/packs/json_schema.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "squall/core/regex.hpp"

namespace squall::packs {
namespace {

/// The draft-4 meta-schema, so that `{"$ref": "http://json-schema.org/draft-04/schema#"}` works offline.
constexpr const char* kDraft4MetaSchema = R"({
  "id": "http://json-schema.org/draft-04/schema#",
  "$schema": "http://json-schema.org/draft-04/schema#",
  "description": "Core schema meta-schema",
  "definitions": {
    "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
    "positiveInteger": {"type": "integer", "minimum": 0},
    "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
    "simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
    "stringArray": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true}
  },
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "$schema": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "default": {},
    "multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
    "maximum": {"type": "number"},
    "exclusiveMaximum": {"type": "boolean", "default": false},
    "minimum": {"type": "number"},
    "exclusiveMinimum": {"type": "boolean", "default": false},
    "maxLength": {"$ref": "#/definitions/positiveInteger"},
    "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "pattern": {"type": "string", "format": "regex"},
    "additionalItems": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
    "items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}], "default": {}},
    "maxItems": {"$ref": "#/definitions/positiveInteger"},
    "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "uniqueItems": {"type": "boolean", "default": false},
    "maxProperties": {"$ref": "#/definitions/positiveInteger"},
    "minProperties": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "required": {"$ref": "#/definitions/stringArray"},
    "additionalProperties": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
    "definitions": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "properties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "patternProperties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "dependencies": {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]}},
    "enum": {"type": "array", "minItems": 1, "uniqueItems": true},
    "type": {"anyOf": [
      {"$ref": "#/definitions/simpleTypes"},
      {"type": "array", "items": {"$ref": "#/definitions/simpleTypes"}, "minItems": 1, "uniqueItems": true}
    ]},
    "format": {"type": "string"},
    "allOf": {"$ref": "#/definitions/schemaArray"},
    "anyOf": {"$ref": "#/definitions/schemaArray"},
    "oneOf": {"$ref": "#/definitions/schemaArray"},
    "not": {"$ref": "#"}
  },
  "dependencies": {"exclusiveMaximum": ["maximum"], "exclusiveMinimum": ["minimum"]},
  "default": {}
})";
constexpr const char* kDraft4MetaSchemaUri = "http://json-schema.org/draft-04/schema";

/// $ref chains that never reach a keyword ({"$ref": "#"} at the root) would otherwise recurse forever.
constexpr int kMaxDepth = 256;

// --- URIs (RFC 3986, the subset $ref and id need) ---

std::string WithoutFragment(const std::string& uri) {
    return uri.substr(0, uri.find('#'));
}

/// "a#" and "a" name the same document.
std::string Normalize(std::string uri) {
    if (!uri.empty() && uri.back() == '#') uri.pop_back();
    return uri;
}

bool HasScheme(const std::string& ref) {
    size_t colon = ref.find(':');
    if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(ref[0]))) return false;
    for (size_t i = 0; i < colon; ++i) {
        char c = ref[i];
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
    }
    return true;
}

std::string ResolveUri(const std::string& base, const std::string& ref) {
    if (HasScheme(ref)) return Normalize(ref);
    std::string doc = WithoutFragment(base);
    if (ref.empty()) return doc;
    if (ref[0] == '#') return Normalize(doc + ref);
    size_t scheme_end = doc.find("://");
    if (ref.rfind("//", 0) == 0)
        return Normalize((scheme_end == std::string::npos ? "" : doc.substr(0, scheme_end + 1)) + ref);
    if (ref[0] == '/') {
        size_t path_start = scheme_end == std::string::npos ? 0 : doc.find('/', scheme_end + 3);
        return Normalize((path_start == std::string::npos ? doc : doc.substr(0, path_start)) + ref);
    }
    size_t slash = doc.rfind('/');
    if (slash == std::string::npos || (scheme_end != std::string::npos && slash < scheme_end + 3))
        return Normalize((scheme_end != std::string::npos ? doc + "/" : std::string()) + ref);
    return Normalize(doc.substr(0, slash + 1) + ref);
}

std::string PercentDecode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() + 0 && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

/// Follows a JSON pointer ("/a/b~1c/0") from `node`; nullptr when it leads nowhere.
const Json* FollowPointer(const Json* node, const std::string& pointer) {
    size_t pos = 0;
    while (node != nullptr && pos < pointer.size()) {
        if (pointer[pos] != '/') return nullptr;
        size_t next = pointer.find('/', pos + 1);
        std::string raw = pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
        std::string token;
        for (size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
                token.push_back(raw[i + 1] == '0' ? '~' : '/');
                ++i;
            } else {
                token.push_back(raw[i]);
            }
        }
        if (node->is_object()) {
            auto it = node->find(token);
            node = it == node->end() ? nullptr : &*it;
        } else if (node->is_array()) {
            if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos) return nullptr;
            size_t index = std::stoul(token);
            node = index < node->size() ? &(*node)[index] : nullptr;
        } else {
            return nullptr;
        }
        pos = next == std::string::npos ? pointer.size() : next;
    }
    return node;
}

// --- values ---

bool IsIntegral(const Json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
}

bool HasType(const Json& v, const std::string& type) {
    if (type == "string") return v.is_string();
    if (type == "integer") return IsIntegral(v);
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "null") return v.is_null();
    return false;  // unknown type names match nothing (the meta-schema rejects them anyway)
}

std::string TypeName(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return "null";
        case Json::value_t::boolean:
            return "boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return "integer";
        case Json::value_t::number_float:
            return IsIntegral(v) ? "integer" : "number";
        case Json::value_t::string:
            return "string";
        case Json::value_t::array:
            return "array";
        case Json::value_t::object:
            return "object";
        default:
            return "value";
    }
}

/// -1, 0, 1 comparing two JSON numbers exactly when both are integers, as doubles otherwise.
int CompareNumbers(const Json& a, const Json& b) {
    if (a.is_number_integer() && b.is_number_integer()) {
        if (a.is_number_unsigned() || b.is_number_unsigned()) {
            bool a_neg = !a.is_number_unsigned() && a.get<int64_t>() < 0;
            bool b_neg = !b.is_number_unsigned() && b.get<int64_t>() < 0;
            if (a_neg != b_neg) return a_neg ? -1 : 1;
            if (a_neg) return a.get<int64_t>() < b.get<int64_t>() ? -1 : (a.get<int64_t>() > b.get<int64_t>() ? 1 : 0);
            uint64_t x = a.get<uint64_t>();
            uint64_t y = b.get<uint64_t>();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.get<int64_t>();
        int64_t y = b.get<int64_t>();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    double x = a.get<double>();
    double y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
}

/// Unicode code points in UTF-8 text (continuation bytes are not counted).
size_t CodePoints(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) {
        if ((c & 0xC0) != 0x80) ++n;
    }
    return n;
}

bool IsMultipleOf(const Json& v, const Json& m) {
    if (v.is_number_integer() && m.is_number_integer() && !v.is_number_unsigned() && !m.is_number_unsigned()) {
        int64_t d = m.get<int64_t>();
        return d == 0 ? false : v.get<int64_t>() % d == 0;
    }
    double q = v.get<double>() / m.get<double>();
    if (!std::isfinite(q)) return false;
    // Decimal divisors such as 0.01 are not exact in binary; accept quotients within rounding of an integer.
    return std::fabs(q - std::round(q)) <= 1e-9 * std::max(1.0, std::fabs(q));
}

std::string TypeList(const Json& type) {
    if (type.is_string()) return type.get<std::string>();
    std::string out;
    for (const auto& t : type) {
        if (!out.empty()) out += " or ";
        out += t.is_string() ? t.get<std::string>() : t.dump();
    }
    return out;
}

/// A boolean keyword that is present and true (anything else, including non-booleans, counts as false).
bool IsTrue(const Json& schema, const char* key) {
    auto it = schema.find(key);
    return it != schema.end() && it->is_boolean() && it->get<bool>();
}

bool IsSimpleKey(const std::string& key) {
    if (key.empty()) return false;
    for (unsigned char c : key) {
        if (!std::isalnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

std::string ChildPath(const std::string& path, const std::string& key) {
    if (IsSimpleKey(key)) return path.empty() ? key : path + "." + key;
    return path + "[" + Json(key).dump(-1, ' ', false, Json::error_handler_t::replace) + "]";
}

std::string ChildPath(const std::string& path, size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

}  // namespace

bool JsonEqual(const Json& a, const Json& b) {
    if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!JsonEqual(a[i], b[i])) return false;
        }
        return true;
    }
    if (a.is_object()) {
        if (a.size() != b.size()) return false;
        for (const auto& [k, v] : a.items()) {
            auto it = b.find(k);
            if (it == b.end() || !JsonEqual(v, *it)) return false;
        }
        return true;
    }
    return a == b;
}

/// The compiled state. `ids` and `scopes` point into `root` and `documents`, which never change after Compile
/// (the Impl is built in place and then only shared as const).
struct JsonSchema::Impl {
    Json root;
    std::map<std::string, Json> documents;                  ///< the ones actually referenced
    std::map<std::string, const Json*> ids;                 ///< absolute URI (no empty fragment) → schema
    std::map<const Json*, std::string> scopes;              ///< schema → base URI in effect inside it
    std::map<std::string, core::RegexPtr> regexes;          ///< every pattern / patternProperties key seen
    std::vector<std::pair<std::string, std::string>> refs;  ///< (resolved $ref, where) to check

    /// Resolves `ref` against `base`; sets `*target_base` to the base URI inside the target.
    const Json* Lookup(const std::string& base, const std::string& ref, std::string* target_base) const {
        std::string full = ResolveUri(base, ref);
        auto exact = ids.find(full);
        if (exact != ids.end()) {
            *target_base = ScopeOf(exact->second, full);
            return exact->second;
        }
        size_t hash = full.find('#');
        std::string doc = full.substr(0, hash);
        std::string fragment = hash == std::string::npos ? "" : PercentDecode(full.substr(hash + 1));
        auto it = ids.find(doc);
        if (it == ids.end()) return nullptr;
        const Json* node = FollowPointer(it->second, fragment);
        if (node != nullptr) *target_base = ScopeOf(node, ScopeOf(it->second, doc));
        return node;
    }

    const std::string& ScopeOf(const Json* node, const std::string& fallback) const {
        auto it = scopes.find(node);
        return it == scopes.end() ? fallback : it->second;
    }

    const core::Regex* Pattern(const std::string& pattern) const {
        auto it = regexes.find(pattern);
        if (it != regexes.end()) return it->second.get();
        return nullptr;
    }

    /// Records ids, scopes, patterns and $refs of `node` and its subschemas. Returns the first bad pattern.
    Status Walk(const Json& node, std::string base, const std::string& where) {
        if (!node.is_object()) return {};
        if (auto id = node.find("id"); id != node.end() && id->is_string()) {
            base = ResolveUri(base, id->get<std::string>());
            ids.emplace(base, &node);
        }
        scopes.emplace(&node, base);
        if (auto ref = node.find("$ref"); ref != node.end() && ref->is_string())
            refs.emplace_back(ResolveUri(base, ref->get<std::string>()), where + "/$ref");
        if (auto p = node.find("pattern"); p != node.end() && p->is_string()) {
            if (Status s = AddPattern(p->get<std::string>(), where + "/pattern"); !s) return s;
        }
        for (const char* key : {"additionalItems", "additionalProperties", "not", "items"}) {
            auto it = node.find(key);
            if (it == node.end()) continue;
            if (it->is_array()) {
                for (size_t i = 0; i < it->size(); ++i) {
                    Status s = Walk((*it)[i], base, where + "/" + key + "/" + std::to_string(i));
                    if (!s) return s;
                }
            } else if (Status s = Walk(*it, base, where + "/" + key); !s) {
                return s;
            }
        }
        for (const char* key : {"allOf", "anyOf", "oneOf"}) {
            auto it = node.find(key);
            if (it == node.end() || !it->is_array()) continue;
            for (size_t i = 0; i < it->size(); ++i) {
                if (Status s = Walk((*it)[i], base, where + "/" + key + "/" + std::to_string(i)); !s) return s;
            }
        }
        for (const char* key : {"properties", "patternProperties", "definitions", "dependencies"}) {
            auto it = node.find(key);
            if (it == node.end() || !it->is_object()) continue;
            for (const auto& [name, sub] : it->items()) {
                if (std::string(key) == "patternProperties") {
                    if (Status s = AddPattern(name, where + "/patternProperties"); !s) return s;
                }
                if (Status s = Walk(sub, base, where + "/" + key + "/" + name); !s) return s;
            }
        }
        return {};
    }

    Status AddPattern(const std::string& pattern, const std::string& where) {
        if (regexes.count(pattern) != 0) return {};
        Result<core::RegexPtr> re = core::Regex::Cached(pattern, {});
        if (!re) return InvalidArgument("schema " + (where.empty() ? "#" : where) + ": " + re.error().message);
        regexes.emplace(pattern, std::move(*re));
        return {};
    }
};

namespace {

/// One validation run: the first error (when messages are wanted) ends it.
class Validator {
public:
    Validator(const JsonSchema::Impl& impl, const SchemaMessageOptions* options) : impl_(impl), options_(options) {}

    /// Validates `v` (at `path`) against `schema`; `base_hint` is the base URI of the enclosing schema.
    bool Check(const Json& schema, const std::string& base_hint, const Json& v, const std::string& path, int depth) {
        if (depth > kMaxDepth) return Fail(path, "the schema nests or refers to itself too deeply");
        if (!schema.is_object()) return true;
        const std::string& base = impl_.ScopeOf(&schema, base_hint);
        if (auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
            std::string target_base;
            const Json* target = impl_.Lookup(base, ref->get<std::string>(), &target_base);
            if (target == nullptr) return Fail(path, "cannot resolve $ref " + Json(ref->get<std::string>()).dump());
            return Check(*target, target_base, v, path, depth + 1);  // draft 4: $ref replaces its siblings
        }
        if (auto type = schema.find("type"); type != schema.end()) {
            bool ok = false;
            if (type->is_string()) {
                ok = HasType(v, type->get<std::string>());
            } else if (type->is_array()) {
                for (const auto& t : *type) ok = ok || (t.is_string() && HasType(v, t.get<std::string>()));
            } else {
                ok = true;
            }
            if (!ok) return Fail(path, Show(v) + " is not of type " + TypeList(*type) + " (got " + TypeName(v) + ")");
        }
        if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
            bool found = false;
            for (const auto& candidate : *e) found = found || JsonEqual(candidate, v);
            if (!found)
                return Fail(
                    path, Show(v) + " is not one of " + (options_ && options_->mask_values ? "the enum" : e->dump())
                );
        }
        if (v.is_number() && !CheckNumber(schema, v, path)) return false;
        if (v.is_string() && !CheckString(schema, v, path)) return false;
        if (v.is_array() && !CheckArray(schema, base, v, path, depth)) return false;
        if (v.is_object() && !CheckObject(schema, base, v, path, depth)) return false;
        return CheckCombinators(schema, base, v, path, depth);
    }

private:
    bool Fail(const std::string& path, const std::string& what) {
        if (options_ != nullptr && error_.empty()) error_ = options_->subject + " \"" + path + "\": " + what;
        return false;
    }

    std::string Show(const Json& v) const {
        if (options_ != nullptr && options_->mask_values) return kMaskText;
        std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
        constexpr size_t kMaxShown = 80;
        if (s.size() > kMaxShown) {
            size_t cut = kMaxShown - 3;
            while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
            s = s.substr(0, cut) + "...";
        }
        return s;
    }

    bool CheckNumber(const Json& schema, const Json& v, const std::string& path) {
        if (auto m = schema.find("multipleOf"); m != schema.end() && m->is_number()) {
            if (!IsMultipleOf(v, *m))
                return Fail(path, Show(v) + " is not a multiple of " + m->dump() + " (multipleOf)");
        }
        if (auto m = schema.find("maximum"); m != schema.end() && m->is_number()) {
            bool exclusive = IsTrue(schema, "exclusiveMaximum");
            int c = CompareNumbers(v, *m);
            if (exclusive && c >= 0)
                return Fail(path, Show(v) + " is greater than or equal to the exclusive maximum " + m->dump());
            if (!exclusive && c > 0) return Fail(path, Show(v) + " is greater than the maximum " + m->dump());
        }
        if (auto m = schema.find("minimum"); m != schema.end() && m->is_number()) {
            bool exclusive = IsTrue(schema, "exclusiveMinimum");
            int c = CompareNumbers(v, *m);
            if (exclusive && c <= 0)
                return Fail(path, Show(v) + " is less than or equal to the exclusive minimum " + m->dump());
            if (!exclusive && c < 0) return Fail(path, Show(v) + " is less than the minimum " + m->dump());
        }
        return true;
    }

    bool CheckString(const Json& schema, const Json& v, const std::string& path) {
        const std::string& s = v.get_ref<const std::string&>();
        if (auto m = schema.find("maxLength"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(CodePoints(s)) > m->get<double>())
                return Fail(path, Show(v) + " is longer than the maxLength " + m->dump());
        }
        if (auto m = schema.find("minLength"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(CodePoints(s)) < m->get<double>())
                return Fail(path, Show(v) + " is shorter than the minLength " + m->dump());
        }
        if (auto p = schema.find("pattern"); p != schema.end() && p->is_string()) {
            if (!Search(p->get<std::string>(), s)) return Fail(path, Show(v) + " does not match pattern " + p->dump());
        }
        return true;
    }

    bool Search(const std::string& pattern, const std::string& text) {
        if (const core::Regex* re = impl_.Pattern(pattern)) return re->Search(text);
        // A pattern in a spot Compile does not walk (reached only through a JSON pointer $ref).
        Result<core::RegexPtr> re = core::Regex::Cached(pattern, {});
        return re && (*re)->Search(text);
    }

    bool CheckArray(const Json& schema, const std::string& base, const Json& v, const std::string& path, int depth) {
        if (auto m = schema.find("maxItems"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(v.size()) > m->get<double>())
                return Fail(path, "has " + std::to_string(v.size()) + " items, more than maxItems " + m->dump());
        }
        if (auto m = schema.find("minItems"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(v.size()) < m->get<double>())
                return Fail(path, "has " + std::to_string(v.size()) + " items, fewer than minItems " + m->dump());
        }
        if (IsTrue(schema, "uniqueItems")) {
            for (size_t i = 0; i < v.size(); ++i) {
                for (size_t j = i + 1; j < v.size(); ++j) {
                    if (JsonEqual(v[i], v[j]))
                        return Fail(
                            path,
                            "items [" + std::to_string(i) + "] and [" + std::to_string(j) + "] are equal (uniqueItems)"
                        );
                }
            }
        }
        auto items = schema.find("items");
        if (items == schema.end()) return true;
        if (items->is_object()) {
            for (size_t i = 0; i < v.size(); ++i) {
                if (!Check(*items, base, v[i], ChildPath(path, i), depth + 1)) return false;
            }
            return true;
        }
        if (!items->is_array()) return true;
        auto additional = schema.find("additionalItems");
        for (size_t i = 0; i < v.size(); ++i) {
            if (i < items->size()) {
                if (!Check((*items)[i], base, v[i], ChildPath(path, i), depth + 1)) return false;
            } else if (additional != schema.end()) {
                if (additional->is_boolean() && !additional->get<bool>())
                    return Fail(
                        ChildPath(path, i),
                        "is not allowed: only " + std::to_string(items->size()) + " items (additionalItems)"
                    );
                if (!Check(*additional, base, v[i], ChildPath(path, i), depth + 1)) return false;
            }
        }
        return true;
    }

    bool CheckObject(const Json& schema, const std::string& base, const Json& v, const std::string& path, int depth) {
        if (auto m = schema.find("maxProperties"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(v.size()) > m->get<double>())
                return Fail(
                    path, "has " + std::to_string(v.size()) + " properties, more than maxProperties " + m->dump()
                );
        }
        if (auto m = schema.find("minProperties"); m != schema.end() && m->is_number()) {
            if (static_cast<double>(v.size()) < m->get<double>())
                return Fail(
                    path, "has " + std::to_string(v.size()) + " properties, fewer than minProperties " + m->dump()
                );
        }
        if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
            for (const auto& name : *r) {
                if (name.is_string() && !v.contains(name.get<std::string>()))
                    return Fail(path, "property " + name.dump() + " is required");
            }
        }
        auto properties = schema.find("properties");
        // `required: true` on a property (draft 3, StackStorm's habit, nested objects included) is enforced too.
        if (properties != schema.end() && properties->is_object()) {
            for (const auto& [name, sub] : properties->items()) {
                if (sub.is_object() && sub.value("required", Json(false)) == true && !v.contains(name))
                    return Fail(path, "property " + Json(name).dump() + " is required");
            }
        }
        auto patterns = schema.find("patternProperties");
        auto additional = schema.find("additionalProperties");
        const bool has_properties = properties != schema.end() && properties->is_object() && !properties->empty();
        const bool has_patterns = patterns != schema.end() && patterns->is_object() && !patterns->empty();
        // Members no keyword constrains are not visited (an object of 50 headers under `type: object` costs nothing
        // per header), and a member's path is built only when a subschema applies to it.
        if (has_properties || has_patterns || additional != schema.end()) {
            for (const auto& [key, item] : v.items()) {
                bool matched = false;
                std::string child;
                auto child_path = [&, &key = key]() -> const std::string& {
                    if (child.empty()) child = ChildPath(path, key);
                    return child;
                };
                if (has_properties) {
                    if (auto p = properties->find(key); p != properties->end()) {
                        matched = true;
                        if (!Check(*p, base, item, child_path(), depth + 1)) return false;
                    }
                }
                if (has_patterns) {
                    for (const auto& [pattern, sub] : patterns->items()) {
                        if (!Search(pattern, key)) continue;
                        matched = true;
                        if (!Check(sub, base, item, child_path(), depth + 1)) return false;
                    }
                }
                if (matched || additional == schema.end()) continue;
                if (additional->is_boolean() && !additional->get<bool>())
                    return Fail(child_path(), "is not a defined property (additionalProperties)");
                if (!Check(*additional, base, item, child_path(), depth + 1)) return false;
            }
        }
        if (auto deps = schema.find("dependencies"); deps != schema.end() && deps->is_object()) {
            for (const auto& [key, dep] : deps->items()) {
                if (!v.contains(key)) continue;
                if (dep.is_array()) {
                    for (const auto& needed : dep) {
                        if (needed.is_string() && !v.contains(needed.get<std::string>()))
                            return Fail(
                                path,
                                "property " + Json(key).dump() + " requires property " + needed.dump() +
                                    " (dependencies)"
                            );
                    }
                } else if (!Check(dep, base, v, path, depth + 1)) {
                    return false;
                }
            }
        }
        return true;
    }

    /// Runs a subschema for its verdict only; the messages of failed alternatives are not the user's error.
    bool Quietly(const Json& schema, const std::string& base, const Json& v, const std::string& path, int depth) {
        Validator inner(impl_, nullptr);
        return inner.Check(schema, base, v, path, depth);
    }

    bool CheckCombinators(
        const Json& schema, const std::string& base, const Json& v, const std::string& path, int depth
    ) {
        if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
            for (const auto& sub : *all) {
                if (!Check(sub, base, v, path, depth + 1)) return false;
            }
        }
        if (auto any = schema.find("anyOf"); any != schema.end() && any->is_array()) {
            bool ok = false;
            for (const auto& sub : *any) ok = ok || Quietly(sub, base, v, path, depth + 1);
            if (!ok) {
                // With one alternative the inner message is the most useful one.
                if (any->size() == 1) return Check((*any)[0], base, v, path, depth + 1);
                return Fail(path, Show(v) + " does not match any of the anyOf schemas");
            }
        }
        if (auto one = schema.find("oneOf"); one != schema.end() && one->is_array()) {
            size_t matches = 0;
            for (const auto& sub : *one) matches += Quietly(sub, base, v, path, depth + 1) ? 1 : 0;
            if (matches == 0) return Fail(path, Show(v) + " does not match any of the oneOf schemas");
            if (matches > 1)
                return Fail(
                    path, Show(v) + " matches " + std::to_string(matches) + " of the oneOf schemas, not exactly one"
                );
        }
        if (auto n = schema.find("not"); n != schema.end() && n->is_object()) {
            if (Quietly(*n, base, v, path, depth + 1))
                return Fail(path, Show(v) + " must not match the schema " + n->dump() + " (not)");
        }
        return true;
    }

public:
    static constexpr const char* kMaskText = "********";
    const std::string& error() const { return error_; }

private:
    const JsonSchema::Impl& impl_;
    const SchemaMessageOptions* options_;
    std::string error_;
};

}  // namespace

Result<JsonSchema> JsonSchema::Compile(const Json& schema, const Documents& documents) {
    if (!schema.is_object()) return InvalidArgument("schema must be an object, got " + schema.dump());
    auto impl = std::make_shared<Impl>();
    impl->root = schema;
    if (Status s = impl->Walk(impl->root, "", ""); !s) return s.error();
    impl->ids.emplace("", &impl->root);  // "#/..." from a schema without id
    // Bring in the documents the $refs name, then the ones those name, and so on.
    for (size_t i = 0; i < impl->refs.size(); ++i) {
        std::string doc = WithoutFragment(impl->refs[i].first);
        if (impl->ids.count(doc) != 0 || impl->ids.count(impl->refs[i].first) != 0) continue;
        const Json* source = nullptr;
        Json meta;
        if (auto it = documents.find(doc); it != documents.end()) {
            source = &it->second;
        } else if (doc == kDraft4MetaSchemaUri) {
            meta = Json::parse(kDraft4MetaSchema);
            source = &meta;
        }
        if (source == nullptr) continue;  // reported below
        auto [slot, inserted] = impl->documents.emplace(doc, *source);
        if (!inserted) continue;
        impl->ids.emplace(doc, &slot->second);
        if (Status s = impl->Walk(slot->second, doc, doc + "#"); !s) return s.error();
    }
    for (const auto& [ref, where] : impl->refs) {
        std::string ignored;
        if (impl->Lookup("", ref, &ignored) == nullptr)
            return InvalidArgument(
                "schema " + (where.empty() ? "#" : where) + ": cannot resolve $ref " + Json(ref).dump()
            );
    }
    return JsonSchema(std::move(impl));
}

Status JsonSchema::Validate(const Json& value, const std::string& path, const SchemaMessageOptions& options) const {
    Validator validator(*impl_, &options);
    if (validator.Check(impl_->root, "", value, path, 0)) return {};
    return InvalidArgument(validator.error());
}

bool JsonSchema::IsValid(const Json& value) const {
    Validator validator(*impl_, nullptr);
    return validator.Check(impl_->root, "", value, "", 0);
}

}  // namespace squall::packs
