#include "squall/packs/content.hpp"

#include <regex>

#include "squall/core/config.hpp"

namespace squall::packs {
namespace {

using core::YamlDocument;

/// Checks that `obj` (at `path`) has only `known` keys; suggests the closest one.
Status CheckKeys(
    const YamlDocument& doc, const Json& obj, const std::string& path, const std::vector<std::string>& known
) {
    for (const auto& [k, v] : obj.items()) {
        if (std::find(known.begin(), known.end(), k) != known.end()) continue;
        const std::string hint = core::ClosestMatch(k, known);
        return doc.ErrorAt(
            path.empty() ? k : path + "." + k,
            "unknown field" + (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
        );
    }
    return {};
}

Result<std::string> RequiredString(
    const YamlDocument& doc, const Json& obj, const std::string& key, const std::string& path
) {
    auto it = obj.find(key);
    const std::string field = path.empty() ? key : path + "." + key;
    if (it == obj.end() || it->is_null()) return doc.ErrorAt(field, "is required");
    if (!it->is_string() || it->get<std::string>().empty()) return doc.ErrorAt(field, "must be a non-empty string");
    return it->get<std::string>();
}

Result<std::string> OptionalString(
    const YamlDocument& doc, const Json& obj, const std::string& key, const std::string& path, std::string def = {}
) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_string()) return doc.ErrorAt(path.empty() ? key : path + "." + key, "must be a string");
    return it->get<std::string>();
}

Result<bool> OptionalBool(const YamlDocument& doc, const Json& obj, const std::string& key, bool def) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_boolean()) return doc.ErrorAt(key, "must be true or false");
    return it->get<bool>();
}

const std::regex& NameRegex() {
    static const std::regex kName("^[A-Za-z0-9_][A-Za-z0-9_.-]*$");
    return kName;
}

/// The `name` of an action or rule: required, and usable in a ref.
Result<std::string> ParseName(const YamlDocument& doc) {
    Result<std::string> name = RequiredString(doc, doc.value, "name", "");
    if (name && !std::regex_match(*name, NameRegex())) {
        return doc.ErrorAt("name", "\"" + *name + "\" is not a valid name");
    }
    return name;
}

}  // namespace

Json PackMeta::ToJson() const {
    return {
        {"ref", ref},
        {"name", name},
        {"description", description},
        {"version", version},
        {"author", author},
        {"path", path},
        {"uid", "pack:" + ref}};
}

Json ActionMeta::ToJson() const {
    return {
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
        {"pool", pool},
        {"metadata_file", metadata_file},
    };
}

Result<ActionMeta> ActionMeta::FromDocument(const YamlDocument& doc, const std::string& pack) {
    const Json& j = doc.value;
    if (!j.is_object()) return doc.ErrorAt("", "action metadata must be a mapping");
    if (Status st = CheckKeys(
            doc,
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
             "metadata_file"}
        );
        !st) {
        return st.error();
    }
    ActionMeta a;
    Result<std::string> name = ParseName(doc);
    if (!name) return name.error();
    a.name = *name;
    Result<std::string> runner = RequiredString(doc, j, "runner_type", "");
    if (!runner) return runner.error();
    a.runner_type = *runner;
    Result<std::string> p = OptionalString(doc, j, "pack", "", pack);
    if (!p) return p.error();
    if (!pack.empty() && *p != pack)
        return doc.ErrorAt("pack", "is \"" + *p + "\" but the file is in pack \"" + pack + "\"");
    a.pack = *p;
    if (a.pack.empty()) return doc.ErrorAt("pack", "is required");
    Result<std::string> desc = OptionalString(doc, j, "description", "");
    if (!desc) return desc.error();
    a.description = *desc;
    Result<std::string> ep = OptionalString(doc, j, "entry_point", "");
    if (!ep) return ep.error();
    a.entry_point = *ep;
    Result<std::string> pool = OptionalString(doc, j, "pool", "", "default");
    if (!pool) return pool.error();
    a.pool = *pool;
    Result<bool> enabled = OptionalBool(doc, j, "enabled", true);
    if (!enabled) return enabled.error();
    a.enabled = *enabled;
    if (j.contains("parameters") && !j["parameters"].is_null()) {
        if (!j["parameters"].is_object()) return doc.ErrorAt("parameters", "must be a mapping of name: schema");
        for (const auto& [pname, schema] : j["parameters"].items()) {
            const std::string path = "parameters." + pname;
            if (!schema.is_object()) return doc.ErrorAt(path, "must be a mapping (a parameter schema)");
            if (schema.contains("type")) {
                static const std::vector<std::string> kTypes = {
                    "string", "integer", "number", "boolean", "object", "array", "null"};
                const Json& t = schema["type"];
                if (t.is_string() && std::find(kTypes.begin(), kTypes.end(), t.get<std::string>()) == kTypes.end()) {
                    const std::string hint = core::ClosestMatch(t.get<std::string>(), kTypes);
                    return doc.ErrorAt(
                        path + ".type",
                        "unknown type \"" + t.get<std::string>() + "\"" +
                            (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
                    );
                }
            }
        }
        a.parameters = j["parameters"];
    }
    if (j.contains("tags") && j["tags"].is_array()) a.tags = j["tags"];
    return a;
}

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

Result<RuleMeta> RuleMeta::FromDocument(const YamlDocument& doc, const std::string& default_pack) {
    const Json& j = doc.value;
    if (!j.is_object()) return doc.ErrorAt("", "a rule must be a mapping");
    if (Status st = CheckKeys(
            doc,
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
        !st) {
        return st.error();
    }
    RuleMeta r;
    Result<std::string> name = ParseName(doc);
    if (!name) return name.error();
    r.name = *name;
    Result<std::string> pack = OptionalString(doc, j, "pack", "", default_pack);
    if (!pack) return pack.error();
    r.pack = pack->empty() ? "default" : *pack;
    Result<std::string> desc = OptionalString(doc, j, "description", "");
    if (!desc) return desc.error();
    r.description = *desc;
    Result<bool> enabled = OptionalBool(doc, j, "enabled", true);
    if (!enabled) return enabled.error();
    r.enabled = *enabled;
    if (j.contains("id") && j["id"].is_string()) r.id = j["id"];
    if (j.contains("type") && !j["type"].is_null()) {
        const Json& t = j["type"];
        std::string ref = t.is_string() ? t.get<std::string>() : (t.is_object() ? t.value("ref", "standard") : "");
        if (ref != "standard" && ref != "backstop")
            return doc.ErrorAt("type.ref", "must be \"standard\" or \"backstop\"");
        r.type = ref;
    }
    // trigger
    if (!j.contains("trigger") || !j["trigger"].is_object())
        return doc.ErrorAt("trigger", "is required (a mapping with type)");
    const Json& trig = j["trigger"];
    if (Status st = CheckKeys(doc, trig, "trigger", {"type", "parameters", "ref", "description", "name", "pack"});
        !st) {
        return st.error();
    }
    Result<std::string> ttype = RequiredString(doc, trig, "type", "trigger");
    if (!ttype) return ttype.error();
    r.trigger_type = *ttype;
    if (trig.contains("parameters") && !trig["parameters"].is_null()) {
        if (!trig["parameters"].is_object()) return doc.ErrorAt("trigger.parameters", "must be a mapping");
        r.trigger_parameters = trig["parameters"];
    }
    if (r.trigger_type == "core.st2.webhook") {
        if (!r.trigger_parameters.contains("url") || !r.trigger_parameters["url"].is_string() ||
            r.trigger_parameters["url"].get<std::string>().empty()) {
            return doc.ErrorAt("trigger.parameters.url", "is required for core.st2.webhook (the hook name)");
        }
        std::string url = r.trigger_parameters["url"];
        while (!url.empty() && url.front() == '/') url.erase(url.begin());
        r.trigger_parameters["url"] = url;
    }
    // criteria
    if (j.contains("criteria") && !j["criteria"].is_null()) {
        if (!j["criteria"].is_object()) return doc.ErrorAt("criteria", "must be a mapping of key: {type, pattern}");
        for (const auto& [key, c] : j["criteria"].items()) {
            const std::string path = "criteria." + key;
            if (!c.is_object()) return doc.ErrorAt(path, "must be a mapping with type and pattern");
            if (Status st = CheckKeys(doc, c, path, {"type", "pattern", "condition"}); !st) return st.error();
            if (!c.contains("type") || !c["type"].is_string())
                return doc.ErrorAt(path + ".type", "is required (the operator)");
        }
        r.criteria = j["criteria"];
    }
    // action
    if (!j.contains("action") || !j["action"].is_object())
        return doc.ErrorAt("action", "is required (a mapping with ref)");
    const Json& act = j["action"];
    if (Status st = CheckKeys(doc, act, "action", {"ref", "parameters", "description"}); !st) return st.error();
    Result<std::string> aref = RequiredString(doc, act, "ref", "action");
    if (!aref) return aref.error();
    if (!core::SplitRef(*aref)) return doc.ErrorAt("action.ref", "\"" + *aref + "\" is not of the form pack.name");
    r.action_ref = *aref;
    if (act.contains("parameters") && !act["parameters"].is_null()) {
        if (!act["parameters"].is_object()) return doc.ErrorAt("action.parameters", "must be a mapping");
        r.action_parameters = act["parameters"];
    }
    r.metadata_file = doc.file;
    return r;
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
