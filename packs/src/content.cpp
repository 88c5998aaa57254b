#include "squall/packs/content.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "squall/core/config.hpp"
#include "squall/core/input.hpp"
#include "squall/core/regex.hpp"
#include "squall/core/template.hpp"
#include "squall/packs/json_schema.hpp"

namespace squall::packs {
namespace {

using core::YamlDocument;

std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

std::string Hint(const std::string& word, const std::vector<std::string>& known) {
    const std::string hint = core::ClosestMatch(word, known);
    return hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)";
}

/// Collects every problem of one document, each located at its field (file:line:col: field: what). Parsers keep
/// going after an error so that one run reports all of them.
class Checker {
public:
    explicit Checker(const YamlDocument& doc) : doc_(doc) {}

    const YamlDocument& doc() const { return doc_; }
    bool ok() const { return errors_.empty(); }
    std::vector<Error>& errors() { return errors_; }
    void Fail(const std::string& path, const std::string& what) { errors_.push_back(doc_.ErrorAt(path, what)); }

    /// One error per key of `obj` not in `known`, with a did-you-mean hint.
    void Keys(const Json& obj, const std::string& path, const std::vector<std::string>& known) {
        if (!obj.is_object()) return;
        for (const auto& [k, v] : obj.items()) {
            if (std::find(known.begin(), known.end(), k) == known.end())
                Fail(Join(path, k), "unknown field" + Hint(k, known));
        }
    }

    /// Declared but present with the wrong type → error; absent or null → `def`.
    std::string Str(const Json& obj, const std::string& key, const std::string& path, std::string def = {}) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return def;
        if (!it->is_string()) {
            Fail(Join(path, key), "must be a string");
            return def;
        }
        return it->get<std::string>();
    }

    /// Required non-empty string; nullopt (after an error) when missing or wrong.
    std::optional<std::string> Required(const Json& obj, const std::string& key, const std::string& path) {
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

    bool Bool(const Json& obj, const std::string& key, const std::string& path, bool def) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return def;
        if (!it->is_boolean()) {
            Fail(Join(path, key), "must be true or false");
            return def;
        }
        return it->get<bool>();
    }

    /// A mapping (or absent/null → `{}`).
    Json Mapping(const Json& obj, const std::string& key, const std::string& path, const std::string& what = "") {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return Json::object();
        if (!it->is_object()) {
            Fail(Join(path, key), "must be a mapping" + (what.empty() ? std::string() : " (" + what + ")"));
            return Json::object();
        }
        return *it;
    }

    /// A list of strings (or absent → {}); numbers are taken as their text ("3" for python_versions: [3]).
    std::vector<std::string> StringList(const Json& obj, const std::string& key, const std::string& path) {
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

    /// A `pack.name` ref (core::CheckRef).
    std::optional<std::string> Ref(const Json& obj, const std::string& key, const std::string& path) {
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

    /// A core::Check* message without its "field: " prefix (Fail adds the located field itself).
    static std::string Detail(const Error& e) {
        const size_t colon = e.message.find(": ");
        return colon == std::string::npos ? e.message : e.message.substr(colon + 2);
    }

    /// `name`: required and usable in a ref (core::CheckName: length, characters, no `..`).
    std::string Name(const Json& obj, const std::string& key = "name", const std::string& path = "") {
        std::optional<std::string> name = Required(obj, key, path);
        if (!name) return {};
        if (Status st = core::CheckName(Join(path, key), *name); !st) {
            Fail(Join(path, key), Detail(st.error()));
            return {};
        }
        return *name;
    }

    /// `pack` of a rule or other content given outside a pack: a valid pack name (core::CheckPackName).
    std::string PackName(const Json& obj, const std::string& key, const std::string& path, std::string def) {
        std::string p = Str(obj, key, path, std::move(def));
        if (p.empty()) return p;
        if (Status st = core::CheckPackName(Join(path, key), p); !st) {
            Fail(Join(path, key), Detail(st.error()));
            return {};
        }
        return p;
    }

    /// `pack`: optional, and when given the pack the file is in.
    std::string Pack(const Json& obj, const std::string& pack, const std::string& path = "") {
        std::string p = Str(obj, "pack", path, pack);
        if (!pack.empty() && p != pack) {
            Fail(Join(path, "pack"), "is \"" + p + "\" but the file is in pack \"" + pack + "\"");
            return pack;
        }
        return p;
    }

private:
    const YamlDocument& doc_;
    std::vector<Error> errors_;
};

template <typename T>
Result<T> Finish(Checker& c, T value, std::vector<Error>* all) {
    if (c.ok()) return value;
    if (all != nullptr) all->insert(all->end(), c.errors().begin(), c.errors().end());
    return c.errors().front();
}

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
        const size_t before = c.errors().size();
        CheckSchema(c, s, at);
        if (c.errors().size() != before) continue;
        // A literal (non-template, non-string: strings may be cast at run time) default must fit the schema.
        if (auto def = s.find("default");
            def != s.end() && !def->is_null() && !def->is_string() && def->dump().find("{{") == std::string::npos) {
            Result<JsonSchema> compiled = JsonSchema::Compile(s);
            const bool secret = s.value("secret", false) == true;
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

bool IsValidPackRef(const std::string& ref) {
    return core::CheckPackName("ref", ref).has_value();
}

TriggerTypeMeta ParseTriggerType(Checker& c, const Json& j, const std::string& pack, const std::string& path) {
    TriggerTypeMeta t;
    c.Keys(
        j,
        path,
        {"name",
         "pack",
         "description",
         "payload_schema",
         "parameters_schema",
         "tags",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    t.name = c.Name(j, "name", path);
    t.pack = c.Pack(j, pack, path);
    t.description = c.Str(j, "description", path);
    for (const char* key : {"payload_schema", "parameters_schema"}) {
        Json schema = c.Mapping(j, key, path, "a JSON schema");
        if (!schema.empty()) CheckSchema(c, schema, Join(path, key));
        (std::string(key) == "payload_schema" ? t.payload_schema : t.parameters_schema) = schema;
    }
    t.tags = Tags(c, j, path);
    return t;
}

/// `{{name}}` / `{{ name = default }}` placeholders of an alias format must be closed and name a parameter.
void CheckAliasFormat(Checker& c, const Json& f, const std::string& at) {
    if (!f.is_string() || f.get<std::string>().empty()) {
        c.Fail(at, "must be a non-empty string");
        return;
    }
    static const core::RegexPtr kPlaceholder =
        core::Regex::Compile(R"(^\s*[A-Za-z_][A-Za-z0-9_.]*\s*(=[\s\S]*)?$)", {}).value();
    const std::string& s = f.get_ref<const std::string&>();
    size_t pos = 0;
    while ((pos = s.find("{{", pos)) != std::string::npos) {
        const size_t end = s.find("}}", pos + 2);
        if (end == std::string::npos) {
            c.Fail(at, "\"{{\" at column " + std::to_string(pos + 1) + " is not closed by \"}}\" in \"" + s + "\"");
            return;
        }
        const std::string inner = s.substr(pos + 2, end - pos - 2);
        if (!kPlaceholder->FullMatch(inner)) {
            c.Fail(
                at,
                "\"{{" + inner + "}}\" is not a parameter placeholder ({{name}} or {{name=default}}) in \"" + s + "\""
            );
        }
        pos = end + 2;
    }
}

/// Per-type parameter schemas (StackStorm's st2common/policies/meta/*.yaml).
const Json& PolicyTypeParameters() {
    static const Json kTypes = Json::parse(R"({
      "action.concurrency": {
        "action": {"type": "string", "enum": ["delay", "cancel"], "default": "delay",
                   "description": "What to do with executions over the threshold."},
        "threshold": {"type": "integer", "minimum": 0, "required": true,
                      "description": "Number of concurrent executions allowed."}},
      "action.concurrency.attr": {
        "action": {"type": "string", "enum": ["delay", "cancel"], "default": "delay",
                   "description": "What to do with executions over the threshold."},
        "threshold": {"type": "integer", "minimum": 0, "required": true,
                      "description": "Number of concurrent executions allowed per distinct attribute values."},
        "attributes": {"type": "array", "items": {"type": "string"}, "minItems": 1, "required": true,
                       "description": "Parameter names whose values partition the executions."}},
      "action.retry": {
        "retry_on": {"type": "string", "enum": ["failure", "timeout"], "required": true,
                     "description": "Which outcome is retried."},
        "max_retry_count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2,
                            "description": "How many times to retry."},
        "delay": {"type": "number", "minimum": 0, "maximum": 120, "default": 0,
                  "description": "Seconds to wait before retrying."}}
    })");
    return kTypes;
}

}  // namespace

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

// --- pack.yaml -----------------------------------------------------------------------------------------------

Json PackMeta::ToJson() const {
    return {
        {"id", ref},
        {"ref", ref},
        {"name", name},
        {"description", description},
        {"version", version},
        {"author", author},
        {"email", email},
        {"contributors", contributors},
        {"keywords", keywords},
        {"stackstorm_version", stackstorm_version},
        {"python_versions", python_versions},
        {"dependencies", dependencies},
        {"system", system},
        {"files", files},
        {"path", path},
        {"uid", "pack:" + ref}};
}

Result<PackMeta> PackMeta::FromDocument(const YamlDocument& doc, std::vector<Error>* all_errors) {
    std::vector<Error> errors;
    PackMeta p = Parse(doc, errors);
    if (errors.empty()) return p;
    if (all_errors != nullptr) all_errors->insert(all_errors->end(), errors.begin(), errors.end());
    return errors.front();
}

PackMeta PackMeta::Parse(const YamlDocument& doc, std::vector<Error>& errors) {
    Checker c(doc);
    const Json& m = doc.value;
    PackMeta p;
    if (!m.is_object()) {
        c.Fail("", "pack.yaml must be a mapping");
        errors.insert(errors.end(), c.errors().begin(), c.errors().end());
        return p;
    }
    c.Keys(
        m,
        "",
        {"ref",
         "name",
         "description",
         "version",
         "author",
         "email",
         "contributors",
         "keywords",
         "stackstorm_version",
         "python_versions",
         "dependencies",
         "system",
         "files",
         "path",
         "uid",
         "id"}
    );
    p.name = c.Str(m, "name", "");
    p.ref = c.Str(m, "ref", "");
    if (p.ref.empty() && p.name.empty()) {
        c.Fail("name", "is required");
    } else {
        const std::string field = p.ref.empty() ? "name" : "ref";
        if (p.ref.empty()) p.ref = p.name;
        if (!IsValidPackRef(p.ref)) {
            c.Fail(field, "\"" + p.ref + "\" is not a valid pack ref (lowercase letters, digits and _; set ref:)");
            p.ref.clear();
        }
    }
    if (p.name.empty()) p.name = p.ref;
    p.description = c.Str(m, "description", "");
    if (auto v = m.find("version"); v != m.end() && !v->is_null()) {
        static const core::RegexPtr kSemver =
            core::Regex::Compile(
                R"(^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)", {}
            )
                .value();
        // As StackStorm's normalize_pack_version: str(version), and "X.Y" (a YAML float like 1.0 included)
        // becomes "X.Y.0".
        std::string text = v->is_string() ? v->get<std::string>() : v->is_number() ? v->dump() : std::string();
        if (std::count(text.begin(), text.end(), '.') == 1) text += ".0";
        if (!(v->is_string() || v->is_number()) || !kSemver->FullMatch(text)) {
            c.Fail(
                "version",
                (v->is_string() ? "\"" + v->get<std::string>() + "\"" : v->dump()) +
                    " is not a semantic version like \"1.0.0\""
            );
        } else {
            p.version = text;
        }
    }
    p.author = c.Str(m, "author", "");
    p.email = c.Str(m, "email", "");
    p.contributors = c.StringList(m, "contributors", "");
    p.keywords = c.StringList(m, "keywords", "");
    p.stackstorm_version = c.Str(m, "stackstorm_version", "");
    p.python_versions = c.StringList(m, "python_versions", "");
    for (size_t i = 0; i < p.python_versions.size(); ++i) {
        if (p.python_versions[i] != "2" && p.python_versions[i] != "3")
            c.Fail("python_versions[" + std::to_string(i) + "]", "must be \"2\" or \"3\"");
    }
    p.dependencies = c.StringList(m, "dependencies", "");
    p.system = c.Mapping(m, "system", "");
    errors.insert(errors.end(), c.errors().begin(), c.errors().end());
    return p;
}

// --- actions -------------------------------------------------------------------------------------------------

Json ActionMeta::ToJson() const {
    Json j = {
        {"id", Ref()},
        {"ref", Ref()},
        {"name", name},
        {"pack", pack},
        {"uid", "action:" + pack + ":" + name},
        {"description", description},
        {"runner_type", runner_type},
        {"entry_point", entry_point},
        {"enabled", enabled},
        {"parameters", parameters},
        {"tags", tags},
        {"notify", notify},
        {"pool", pool},
        {"metadata_file", metadata_file},
    };
    if (!output_schema.is_null()) j["output_schema"] = output_schema;
    if (!pack_path.empty()) j["pack_path"] = pack_path;
    return j;
}

Result<ActionMeta> ActionMeta::FromDocument(const YamlDocument& doc, const std::string& pack, std::vector<Error>* all) {
    Checker c(doc);
    const Json& j = doc.value;
    ActionMeta a;
    if (!j.is_object()) {
        c.Fail("", "action metadata must be a mapping");
        return Finish(c, std::move(a), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "runner_type",
         "entry_point",
         "enabled",
         "parameters",
         "tags",
         "notify",
         "output_schema",
         "pool",
         "ref",
         "uid",
         "id",
         "metadata_file",
         "pack_path"}
    );
    a.name = c.Name(j);
    a.runner_type = c.Required(j, "runner_type", "").value_or("");
    a.pack = c.Pack(j, pack);
    if (a.pack.empty()) c.Fail("pack", "is required");
    a.description = c.Str(j, "description", "");
    a.entry_point = c.Str(j, "entry_point", "");
    a.pool = c.Str(j, "pool", "", "default");
    a.enabled = c.Bool(j, "enabled", "", true);
    a.parameters = c.Mapping(j, "parameters", "", "a mapping of name: schema");
    CheckParameters(c, a.parameters, "parameters");
    a.tags = Tags(c, j, "");
    a.notify = c.Mapping(j, "notify", "");
    c.Keys(a.notify, "notify", {"on-complete", "on-success", "on-failure"});
    for (const auto& [k, v] : a.notify.items()) {
        if (!v.is_object()) {
            c.Fail("notify." + k, "must be a mapping {message, data, routes}");
            continue;
        }
        c.Keys(v, "notify." + k, {"message", "data", "routes", "channels"});
    }
    if (auto os = j.find("output_schema"); os != j.end() && !os->is_null()) {
        if (!os->is_object()) {
            c.Fail("output_schema", "must be a mapping (a JSON schema, or name: schema)");
        } else {
            a.output_schema = *os;
            // StackStorm accepts both a full schema and a map of result key → schema.
            if (os->contains("type") || os->contains("properties")) {
                CheckSchema(c, *os, "output_schema");
            } else {
                for (const auto& [k, s] : os->items()) CheckSchema(c, s, "output_schema." + k);
            }
        }
    }
    return Finish(c, std::move(a), all);
}

// --- rules ---------------------------------------------------------------------------------------------------

Json RuleMeta::ToJson() const {
    Json j = {
        {"ref", Ref()},
        {"name", name},
        {"pack", pack},
        {"uid", "rule:" + pack + ":" + name},
        {"description", description},
        {"enabled", enabled},
        {"type", {{"ref", type}, {"parameters", Json::object()}}},
        {"trigger", {{"type", trigger_type}, {"parameters", trigger_parameters}, {"ref", trigger_type}}},
        {"criteria", criteria},
        {"action", {{"ref", action_ref}, {"parameters", action_parameters}}},
        {"metadata_file", metadata_file},
    };
    if (!id.empty()) j["id"] = id;
    return j;
}

Result<RuleMeta> RuleMeta::FromDocument(
    const YamlDocument& doc, const std::string& default_pack, std::vector<Error>* all
) {
    Checker c(doc);
    const Json& j = doc.value;
    RuleMeta r;
    if (!j.is_object()) {
        c.Fail("", "a rule must be a mapping");
        return Finish(c, std::move(r), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "enabled",
         "type",
         "trigger",
         "criteria",
         "action",
         "tags",
         "context",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    r.name = c.Name(j);
    r.pack = c.PackName(j, "pack", "", default_pack);
    if (r.pack.empty()) r.pack = "default";
    r.description = c.Str(j, "description", "");
    r.enabled = c.Bool(j, "enabled", "", true);
    if (j.contains("id") && j["id"].is_string()) r.id = j["id"];
    if (j.contains("type") && !j["type"].is_null()) {
        const Json& t = j["type"];
        if (t.is_object()) c.Keys(t, "type", {"ref", "parameters"});
        std::string ref = t.is_string() ? t.get<std::string>() : (t.is_object() ? t.value("ref", "standard") : "");
        if (ref != "standard" && ref != "backstop") {
            c.Fail("type.ref", "must be \"standard\" or \"backstop\"");
        } else {
            r.type = ref;
        }
    }
    Tags(c, j, "");
    // trigger
    if (!j.contains("trigger") || !j["trigger"].is_object()) {
        c.Fail("trigger", "is required (a mapping with type)");
    } else {
        const Json& trig = j["trigger"];
        c.Keys(trig, "trigger", {"type", "parameters", "ref", "description", "name", "pack"});
        std::optional<std::string> ttype = c.Ref(trig, "type", "trigger");
        if (ttype) r.trigger_type = *ttype;
        r.trigger_parameters = c.Mapping(trig, "parameters", "trigger");
        if (r.trigger_type == "core.st2.webhook") {
            if (!r.trigger_parameters.contains("url") || !r.trigger_parameters["url"].is_string() ||
                r.trigger_parameters["url"].get<std::string>().empty()) {
                c.Fail("trigger.parameters.url", "is required for core.st2.webhook (the hook name)");
            } else {
                std::string url = r.trigger_parameters["url"];
                while (!url.empty() && url.front() == '/') url.erase(url.begin());
                if (Status st = core::CheckWebhookUrl("trigger.parameters.url", url); !st) {
                    c.Fail("trigger.parameters.url", Checker::Detail(st.error()));
                }
                r.trigger_parameters["url"] = url;
            }
        }
    }
    // criteria
    if (j.contains("criteria") && !j["criteria"].is_null()) {
        if (!j["criteria"].is_object()) {
            c.Fail("criteria", "must be a mapping of key: {type, pattern}");
        } else {
            for (const auto& [key, crit] : j["criteria"].items()) {
                const std::string path = "criteria." + key;
                if (!crit.is_object()) {
                    c.Fail(path, "must be a mapping with type and pattern");
                    continue;
                }
                c.Keys(crit, path, {"type", "pattern", "condition"});
                if (!crit.contains("type") || !crit["type"].is_string())
                    c.Fail(path + ".type", "is required (the operator)");
            }
            r.criteria = j["criteria"];
        }
    }
    // action
    if (!j.contains("action") || !j["action"].is_object()) {
        c.Fail("action", "is required (a mapping with ref)");
    } else {
        const Json& act = j["action"];
        c.Keys(act, "action", {"ref", "parameters", "description"});
        std::optional<std::string> aref = c.Ref(act, "ref", "action");
        if (aref) r.action_ref = *aref;
        r.action_parameters = c.Mapping(act, "parameters", "action");
    }
    r.metadata_file = doc.file;
    return Finish(c, std::move(r), all);
}

// --- trigger types -------------------------------------------------------------------------------------------

Json TriggerTypeMeta::ToJson() const {
    return {
        {"id", Ref()},
        {"ref", Ref()},
        {"uid", "trigger_type:" + pack + ":" + name},
        {"name", name},
        {"pack", pack},
        {"description", description},
        {"payload_schema", payload_schema},
        {"parameters_schema", parameters_schema},
        {"tags", tags},
        {"metadata_file", metadata_file},
    };
}

Result<TriggerTypeMeta> TriggerTypeMeta::FromDocument(
    const YamlDocument& doc, const std::string& pack, const std::string& path, std::vector<Error>* all
) {
    Checker c(doc);
    const Json* j = path.empty() ? &doc.value : core::LookupPath(doc.value, path);
    TriggerTypeMeta t;
    if (j == nullptr || !j->is_object()) {
        c.Fail(path, "a trigger type must be a mapping");
        return Finish(c, std::move(t), all);
    }
    t = ParseTriggerType(c, *j, pack, path);
    return Finish(c, std::move(t), all);
}

// --- sensors -------------------------------------------------------------------------------------------------

Json SensorMeta::ToJson(const std::string& pack_path) const {
    Json j = {
        {"id", Ref()},
        {"ref", Ref()},
        {"uid", "sensor_type:" + pack + ":" + name},
        {"name", name},
        {"pack", pack},
        {"class_name", class_name.empty() ? name : class_name},
        {"description", description},
        {"entry_point", entry_point},
        {"enabled", enabled},
        {"trigger_types", trigger_types},
        {"metadata_file", metadata_file},
    };
    if (!pack_path.empty()) j["artifact_uri"] = "file://" + pack_path + "/sensors/" + entry_point;
    if (poll_interval > 0) j["poll_interval"] = poll_interval;
    return j;
}

Result<SensorMeta> SensorMeta::FromDocument(
    const YamlDocument& doc, const std::string& pack, const std::string& file_stem, std::vector<Error>* all
) {
    Checker c(doc);
    const Json& j = doc.value;
    SensorMeta s;
    if (!j.is_object()) {
        c.Fail("", "sensor metadata must be a mapping");
        return Finish(c, std::move(s), all);
    }
    c.Keys(
        j,
        "",
        {"class_name",
         "name",
         "entry_point",
         "description",
         "enabled",
         "poll_interval",
         "trigger_types",
         "pack",
         "artifact_uri",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    s.pack = c.Pack(j, pack);
    s.entry_point = c.Required(j, "entry_point", "").value_or("");
    const bool python = s.entry_point.size() > 3 && s.entry_point.compare(s.entry_point.size() - 3, 3, ".py") == 0;
    if (python || j.contains("class_name")) {
        s.class_name = c.Name(j, "class_name");
        s.name = s.class_name;
    } else if (j.contains("name")) {
        s.name = c.Name(j, "name");
    } else {
        s.name = file_stem;
    }
    s.description = c.Str(j, "description", "");
    s.enabled = c.Bool(j, "enabled", "", true);
    if (auto pi = j.find("poll_interval"); pi != j.end() && !pi->is_null()) {
        if (!pi->is_number_integer() || pi->get<long long>() <= 0 || pi->get<long long>() > 7 * 24 * 3600) {
            c.Fail("poll_interval", "must be a positive number of seconds (at most a week)");
        } else {
            s.poll_interval = static_cast<int>(pi->get<long long>());
        }
    }
    if (auto tt = j.find("trigger_types"); tt != j.end() && !tt->is_null()) {
        if (!tt->is_array()) {
            c.Fail("trigger_types", "must be a list of trigger types ({name, payload_schema, ...} or refs)");
        } else {
            for (size_t i = 0; i < tt->size(); ++i) {
                const std::string at = "trigger_types[" + std::to_string(i) + "]";
                const Json& t = (*tt)[i];
                if (t.is_string() && !t.get<std::string>().empty()) {
                    const std::string ref = t.get<std::string>();
                    s.trigger_types.push_back(ref.find('.') == std::string::npos ? s.pack + "." + ref : ref);
                } else if (t.is_object()) {
                    TriggerTypeMeta declared = ParseTriggerType(c, t, s.pack, at);
                    declared.metadata_file = doc.file;
                    s.trigger_types.push_back(declared.Ref());
                    s.declared_trigger_types.push_back(std::move(declared));
                } else {
                    c.Fail(at, "must be a trigger type mapping {name, payload_schema, ...} or a trigger type ref");
                }
            }
        }
    }
    return Finish(c, std::move(s), all);
}

// --- aliases -------------------------------------------------------------------------------------------------

Json AliasMeta::ToJson() const {
    return {
        {"id", Ref()},
        {"ref", Ref()},
        {"uid", "action_alias:" + pack + ":" + name},
        {"name", name},
        {"pack", pack},
        {"description", description},
        {"enabled", enabled},
        {"action_ref", action_ref},
        {"formats", formats},
        {"ack", ack},
        {"result", result},
        {"extra", extra},
        {"immutable_parameters", immutable_parameters},
        {"metadata_file", metadata_file},
    };
}

Result<AliasMeta> AliasMeta::FromDocument(const YamlDocument& doc, const std::string& pack, std::vector<Error>* all) {
    Checker c(doc);
    const Json& j = doc.value;
    AliasMeta a;
    if (!j.is_object()) {
        c.Fail("", "an action alias must be a mapping");
        return Finish(c, std::move(a), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "enabled",
         "action_ref",
         "formats",
         "ack",
         "result",
         "extra",
         "immutable_parameters",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    a.name = c.Name(j);
    a.pack = c.Pack(j, pack);
    a.description = c.Str(j, "description", "");
    a.enabled = c.Bool(j, "enabled", "", true);
    a.action_ref = c.Ref(j, "action_ref", "").value_or("");
    auto formats = j.find("formats");
    if (formats == j.end() || formats->is_null()) {
        c.Fail("formats", "is required (a list of formats)");
    } else if (!formats->is_array() || formats->empty()) {
        c.Fail("formats", "must be a non-empty list of strings or {display, representation} mappings");
    } else {
        for (size_t i = 0; i < formats->size(); ++i) {
            const std::string at = "formats[" + std::to_string(i) + "]";
            const Json& f = (*formats)[i];
            if (!f.is_object()) {
                CheckAliasFormat(c, f, at);
                continue;
            }
            c.Keys(f, at, {"display", "representation"});
            if (f.contains("display")) CheckAliasFormat(c, f["display"], at + ".display");
            auto rep = f.find("representation");
            if (rep == f.end() || rep->is_null()) {
                if (!f.contains("display")) c.Fail(at, "needs display or representation");
            } else if (rep->is_string()) {
                CheckAliasFormat(c, *rep, at + ".representation");
            } else if (!rep->is_array()) {
                c.Fail(at + ".representation", "must be a list of format strings");
            } else {
                for (size_t k = 0; k < rep->size(); ++k)
                    CheckAliasFormat(c, (*rep)[k], at + ".representation[" + std::to_string(k) + "]");
            }
        }
        a.formats = *formats;
    }
    a.ack = c.Mapping(j, "ack", "", "{enabled, format, append_url, extra}");
    c.Keys(a.ack, "ack", {"enabled", "format", "append_url", "extra"});
    c.Bool(a.ack, "enabled", "ack", true);
    c.Bool(a.ack, "append_url", "ack", true);
    c.Str(a.ack, "format", "ack");
    c.Mapping(a.ack, "extra", "ack");
    a.result = c.Mapping(j, "result", "", "{enabled, format, extra}");
    c.Keys(a.result, "result", {"enabled", "format", "extra"});
    c.Bool(a.result, "enabled", "result", true);
    c.Str(a.result, "format", "result");
    c.Mapping(a.result, "extra", "result");
    a.extra = c.Mapping(j, "extra", "");
    a.immutable_parameters = c.Mapping(j, "immutable_parameters", "", "parameter: value");
    return Finish(c, std::move(a), all);
}

// --- policies ------------------------------------------------------------------------------------------------

Json PolicyMeta::ToJson() const {
    return {
        {"id", Ref()},
        {"ref", Ref()},
        {"uid", "policy:" + pack + ":" + name},
        {"name", name},
        {"pack", pack},
        {"description", description},
        {"enabled", enabled},
        {"resource_ref", resource_ref},
        {"policy_type", policy_type},
        {"parameters", parameters},
        {"metadata_file", metadata_file},
    };
}

const std::vector<Json>& PolicyMeta::Types() {
    static const std::vector<Json> kTypes = [] {
        std::vector<Json> out;
        const std::map<std::string, std::string> descriptions = {
            {"action.concurrency", "Limits the concurrent executions of the action."},
            {"action.concurrency.attr", "Limits the concurrent executions of the action per attribute values."},
            {"action.retry", "Retries a failed or timed-out execution of the action."}};
        for (const auto& [ref, params] : PolicyTypeParameters().items()) {
            const std::string name = ref.substr(ref.find('.') + 1);
            out.push_back({
                {"id", ref},
                {"ref", ref},
                {"uid", "policy_type:action:" + name},
                {"name", name},
                {"resource_type", "action"},
                {"description", descriptions.at(ref)},
                {"enabled", true},
                {"parameters", params},
            });
        }
        return out;
    }();
    return kTypes;
}

Result<PolicyMeta> PolicyMeta::FromDocument(const YamlDocument& doc, const std::string& pack, std::vector<Error>* all) {
    Checker c(doc);
    const Json& j = doc.value;
    PolicyMeta p;
    if (!j.is_object()) {
        c.Fail("", "a policy must be a mapping");
        return Finish(c, std::move(p), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "enabled",
         "resource_ref",
         "policy_type",
         "parameters",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    p.name = c.Name(j);
    p.pack = c.Pack(j, pack);
    p.description = c.Str(j, "description", "");
    p.enabled = c.Bool(j, "enabled", "", true);
    p.resource_ref = c.Ref(j, "resource_ref", "").value_or("");
    Json params = c.Mapping(j, "parameters", "", "parameter: value");
    std::optional<std::string> type = c.Required(j, "policy_type", "");
    if (!type) return Finish(c, std::move(p), all);
    const Json& types = PolicyTypeParameters();
    if (!types.contains(*type)) {
        std::vector<std::string> names;
        for (const auto& [k, v] : types.items()) names.push_back(k);
        c.Fail("policy_type", "unknown policy type \"" + *type + "\"" + Hint(*type, names));
        return Finish(c, std::move(p), all);
    }
    p.policy_type = *type;
    const Json& schema = types[*type];
    std::vector<std::string> known;
    for (const auto& [k, v] : schema.items()) known.push_back(k);
    c.Keys(params, "parameters", known);
    for (const auto& [k, s] : schema.items()) {
        const std::string at = "parameters." + k;
        if (!params.contains(k) || params[k].is_null()) {
            if (s.value("required", false)) {
                c.Fail(at, "is required for policy type " + *type);
            } else if (s.contains("default")) {
                params[k] = s["default"];
            }
            continue;
        }
        Result<JsonSchema> compiled = JsonSchema::Compile(s);
        if (!compiled) continue;  // our own schemas; they compile
        if (Status st = compiled->Validate(params[k], k); !st) c.Fail(at, st.error().message);
    }
    p.parameters = params;
    return Finish(c, std::move(p), all);
}

Json RunnerTypeInfo::ToJson() const {
    return {
        {"name", name},
        {"description", description},
        {"runner_parameters", parameters},
        {"enabled", true},
        {"uid", "runner_type:" + name}};
}

// --- shell-injection warnings ----------------------------------------------------------------------------------

namespace {

/// True when `v` is a template text that reads trigger data.
bool RendersTrigger(const Json& v) {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    return (s.find("{{") != std::string::npos || s.find("{%") != std::string::npos) &&
           s.find("trigger") != std::string::npos;
}

/// The identifiers read inside `{{ }}` and `{% %}` of `text`.
std::vector<std::string> TemplateNames(const std::string& text) {
    std::vector<std::string> names;
    size_t pos = 0;
    while ((pos = text.find_first_of('{', pos)) != std::string::npos) {
        if (pos + 1 >= text.size() || (text[pos + 1] != '{' && text[pos + 1] != '%')) {
            ++pos;
            continue;
        }
        const std::string close = text[pos + 1] == '{' ? "}}" : "%}";
        const size_t end = text.find(close, pos + 2);
        const std::string inner = text.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
        std::string word;
        for (char c : inner + " ") {
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
                word += c;
            } else {
                if (!word.empty() && !std::isdigit(static_cast<unsigned char>(word[0]))) names.push_back(word);
                word.clear();
            }
        }
        if (end == std::string::npos) break;
        pos = end + 2;
    }
    return names;
}

}  // namespace

std::vector<std::string> TriggerDataInShellWarnings(const RuleMeta& rule, const Json& action) {
    std::vector<std::string> out;
    const std::string runner = action.is_object() ? action.value("runner_type", "") : std::string();
    const bool shell = action.is_null() || runner == "local-shell-cmd" || runner == "remote-shell-cmd";
    if (!shell || !rule.action_parameters.is_object()) return out;
    const std::string advice =
        " (a webhook body such as {\"x\": \"$(id)\"} would run as a command: pass the value in `env` or as an "
        "argument of a script action, as the examples pack's greet action does)";
    if (auto cmd = rule.action_parameters.find("cmd"); cmd != rule.action_parameters.end() && RendersTrigger(*cmd)) {
        out.push_back(
            "rule " + rule.Ref() + " renders trigger data into the shell command (action.parameters.cmd) of " +
            rule.action_ref + advice
        );
    }
    if (!action.is_object()) return out;
    const Json params = action.value("parameters", Json::object());
    const Json cmd_spec = params.is_object() ? params.value("cmd", Json::object()) : Json::object();
    const Json cmd_default = cmd_spec.is_object() ? cmd_spec.value("default", Json()) : Json();
    if (!cmd_default.is_string()) return out;
    const std::vector<std::string> read = TemplateNames(cmd_default.get<std::string>());
    for (const auto& [name, value] : rule.action_parameters.items()) {
        if (name == "cmd" || !RendersTrigger(value)) continue;
        if (std::find(read.begin(), read.end(), name) != read.end()) {
            out.push_back(
                "rule " + rule.Ref() + " renders trigger data into parameter \"" + name +
                "\", which the shell command of " + rule.action_ref +
                " renders (cmd: " + cmd_default.get<std::string>() + ")" + advice
            );
        }
    }
    return out;
}

}  // namespace squall::packs
