#include "content_common.hpp"

#include "squall/templates/template.hpp"

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace {

/// A trigger type mapping (a triggers.yaml entry or one of a sensor's `trigger_types`).
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

}  // namespace

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

}  // namespace squall::packs
