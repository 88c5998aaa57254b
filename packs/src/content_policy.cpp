#include "content_common.hpp"

#include "squall/packs/json_schema.hpp"

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace {

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
            if (core::BoolOr(s, "required", false)) {
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

}  // namespace squall::packs
