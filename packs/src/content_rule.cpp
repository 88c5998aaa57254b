#include "content_common.hpp"

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

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
    r.pack = c.Str(j, "pack", "", default_pack);
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
        std::optional<std::string> ttype = c.Required(trig, "type", "trigger");
        if (ttype) r.trigger_type = *ttype;
        r.trigger_parameters = c.Mapping(trig, "parameters", "trigger");
        if (r.trigger_type == "core.st2.webhook") {
            if (!r.trigger_parameters.contains("url") || !r.trigger_parameters["url"].is_string() ||
                r.trigger_parameters["url"].get<std::string>().empty()) {
                c.Fail("trigger.parameters.url", "is required for core.st2.webhook (the hook name)");
            } else {
                std::string url = r.trigger_parameters["url"];
                while (!url.empty() && url.front() == '/') url.erase(url.begin());
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

}  // namespace squall::packs
