#include "content_common.hpp"

#include <filesystem>

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

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
    if (!unavailable.empty()) j["unavailable"] = unavailable;
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
         "pack_path",
         "unavailable"}
    );
    a.name = c.Name(j);
    a.runner_type = c.Required(j, "runner_type", "").value_or("");
    a.pack = c.Pack(j, pack);
    if (a.pack.empty()) c.Fail("pack", "is required");
    a.description = c.Str(j, "description", "");
    a.entry_point = c.Str(j, "entry_point", "");
    // Inside the pack's actions folder, as StackStorm requires: `../../../usr/bin/id` ran a binary of the host.
    if (!a.entry_point.empty()) {
        const std::filesystem::path entry(a.entry_point);
        bool leaves = entry.is_absolute();
        for (const auto& part : entry) leaves = leaves || part == "..";
        if (leaves) {
            Error e = doc.ErrorAt(
                "entry_point", "\"" + a.entry_point + "\" leaves the pack (a path inside its actions folder)"
            );
            if (auto at = doc.marks.find("entry_point="); at != doc.marks.end()) e.location = at->second;  // the value
            c.errors().push_back(std::move(e));
        }
    }
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

}  // namespace squall::packs
