#pragma once

#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::packs {

using core::Json;

/// Every FromDocument below validates the whole document and returns its first error; when `all_errors` is given,
/// every error found in the document is appended to it (the first included), each `file:line:col: field: what`.
/// Unknown keys are errors with a did-you-mean hint, as RuleMeta's always were.

/// pack.yaml (StackStorm fields; reference §3.2).
struct PackMeta {
    std::string ref;
    std::string name;
    std::string description;
    std::string version;
    std::string author;
    std::string email;
    std::vector<std::string> contributors;
    std::vector<std::string> keywords;
    std::string stackstorm_version;
    std::vector<std::string> python_versions;
    std::vector<std::string> dependencies;  ///< pack specs in `pack install` syntax
    Json system = Json::object();           ///< system requirements, as written
    std::vector<std::string> files;         ///< every file of the pack, relative to `path`, sorted
    std::string path;                       ///< folder on disk
    Json ToJson() const;
    /// Parses pack.yaml. `ref` falls back to `name`, which must then be a valid ref.
    static Result<PackMeta> FromDocument(const core::YamlDocument& doc, std::vector<Error>* all_errors = nullptr);
    /// As FromDocument, but keeps what parsed despite errors (appended to `errors`); `ref` is empty when it is
    /// missing or invalid (then nothing of the pack can be registered).
    static PackMeta Parse(const core::YamlDocument& doc, std::vector<Error>& errors);
};

/// actions/<name>.yaml (reference §3.3).
struct ActionMeta {
    std::string name;
    std::string pack;
    std::string description;
    std::string runner_type;
    std::string entry_point;
    bool enabled = true;
    Json parameters = Json::object();  ///< name → parameter schema
    Json tags = Json::array();
    Json notify = Json::object();
    Json output_schema;            ///< null when absent
    std::string pool = "default";  ///< runner pool (SPEC §7)
    std::string metadata_file;
    std::string pack_path;  ///< the pack's folder on disk, set by the loader (runners find entry_point under it)
    /// Why the action cannot run on this server (its runner is not one this server has); empty when it can. Such an
    /// action is registered (it is part of the pack) and every request to run it is refused with this reason.
    std::string unavailable;

    std::string Ref() const { return pack + "." + name; }
    Json ToJson() const;
    /// Parses and validates action metadata. `doc` gives locations (may be a document made from API JSON).
    static Result<ActionMeta> FromDocument(
        const core::YamlDocument& doc, const std::string& pack, std::vector<Error>* all_errors = nullptr
    );
};

/// rules/<name>.yaml or a rule created through the API (reference §3.4). Criteria are kept as written;
/// the rules component validates operators.
struct RuleMeta {
    std::string name;
    std::string pack = "default";
    std::string description;
    bool enabled = true;
    std::string type = "standard";  ///< standard | backstop
    std::string trigger_type;
    Json trigger_parameters = Json::object();
    Json criteria = Json::object();  ///< "trigger.<path>[#tag]" → {type, pattern, ...}
    std::string action_ref;
    Json action_parameters = Json::object();
    std::string metadata_file;
    std::string id;

    std::string Ref() const { return pack + "." + name; }
    Json ToJson() const;
    static Result<RuleMeta> FromDocument(
        const core::YamlDocument& doc, const std::string& default_pack, std::vector<Error>* all_errors = nullptr
    );
};

/// Warnings for a rule that renders trigger data into a shell command, where a webhook body such as
/// `{"name": "$(id)"}` would run: the rule's `cmd` parameter renders `trigger.…`, or the rule sets a parameter from
/// trigger data that the action's `cmd` default renders (`echo {{name}}`). `action` is the action's JSON (its
/// runner_type and parameters) or null when unknown (then any `cmd` counts). Empty when the rule is safe.
std::vector<std::string> TriggerDataInShellWarnings(const RuleMeta& rule, const Json& action);

/// A trigger type: triggers/<name>.yaml, or one entry of a sensor's trigger_types (reference §3.1, §3.5).
struct TriggerTypeMeta {
    std::string name;
    std::string pack;
    std::string description;
    Json payload_schema = Json::object();
    Json parameters_schema = Json::object();
    Json tags = Json::array();
    std::string metadata_file;

    std::string Ref() const { return pack + "." + name; }
    /// StackStorm's TriggerTypeAPI shape: {id, ref, uid, name, pack, description, payload_schema,
    /// parameters_schema, tags, metadata_file}.
    Json ToJson() const;
    /// `path` is where the trigger type sits in the document ("" for a triggers/ file, "trigger_types[0]" in a
    /// sensor file).
    static Result<TriggerTypeMeta> FromDocument(
        const core::YamlDocument& doc,
        const std::string& pack,
        const std::string& path = "",
        std::vector<Error>* all_errors = nullptr
    );
};

/// sensors/<name>.yaml (reference §3.5, SPEC §3.3). A StackStorm Python sensor names its `class_name` and a
/// `.py` entry_point; an external sensor is any executable entry_point (class_name optional, then the file
/// name's stem). Trigger types declared inline are registered as the pack's trigger types.
struct SensorMeta {
    std::string name;  ///< class_name, or the metadata file's stem
    std::string pack;
    std::string class_name;
    std::string entry_point;  ///< relative to sensors/
    std::string description;
    bool enabled = true;
    int poll_interval = 0;                   ///< seconds; 0 = not a polling sensor
    std::vector<std::string> trigger_types;  ///< refs of the trigger types it emits
    std::vector<TriggerTypeMeta> declared_trigger_types;
    std::string metadata_file;

    std::string Ref() const { return pack + "." + name; }
    /// StackStorm's SensorTypeAPI shape: {id, ref, uid, name, pack, class_name, description, artifact_uri,
    /// entry_point, enabled, trigger_types (refs), poll_interval, metadata_file}. `pack_path` makes artifact_uri.
    Json ToJson(const std::string& pack_path = "") const;
    /// `file_stem` names an external sensor without class_name.
    static Result<SensorMeta> FromDocument(
        const core::YamlDocument& doc,
        const std::string& pack,
        const std::string& file_stem,
        std::vector<Error>* all_errors = nullptr
    );
};

/// aliases/<name>.yaml (reference §3.6, SPEC §9). Formats are kept as written: strings or
/// {display, representation: [strings]} objects.
struct AliasMeta {
    std::string name;
    std::string pack;
    std::string description;
    bool enabled = true;
    std::string action_ref;
    Json formats = Json::array();
    Json ack = Json::object();
    Json result = Json::object();
    Json extra = Json::object();
    Json immutable_parameters = Json::object();
    std::string metadata_file;

    std::string Ref() const { return pack + "." + name; }
    /// StackStorm's ActionAliasAPI shape: {id, ref, uid, name, pack, description, enabled, action_ref, formats,
    /// ack, result, extra, immutable_parameters, metadata_file}.
    Json ToJson() const;
    static Result<AliasMeta> FromDocument(
        const core::YamlDocument& doc, const std::string& pack, std::vector<Error>* all_errors = nullptr
    );
};

/// policies/<name>.yaml (reference §3.7). `parameters` are validated for the policy type and carry its defaults
/// (action.concurrency: threshold, action=delay; action.concurrency.attr: + attributes; action.retry:
/// retry_on, max_retry_count=2, delay=0).
struct PolicyMeta {
    std::string name;
    std::string pack;
    std::string description;
    bool enabled = true;
    std::string resource_ref;
    std::string policy_type;  ///< action.concurrency | action.concurrency.attr | action.retry
    Json parameters = Json::object();
    std::string metadata_file;

    std::string Ref() const { return pack + "." + name; }
    /// StackStorm's PolicyAPI shape: {id, ref, uid, name, pack, description, enabled, resource_ref, policy_type,
    /// parameters, metadata_file}.
    Json ToJson() const;
    static Result<PolicyMeta> FromDocument(
        const core::YamlDocument& doc, const std::string& pack, std::vector<Error>* all_errors = nullptr
    );
    /// The policy types (StackStorm's PolicyTypeAPI shape, with the parameter schemas).
    static const std::vector<Json>& Types();
};

/// A runner type as the registry declares it: its name and parameter schema (with secret flags).
struct RunnerTypeInfo {
    std::string name;
    std::string description;
    Json parameters = Json::object();
    Json ToJson() const;
};

/// Checks a JSON schema written in a document at `path` (a parameters map when `parameters_map`, one schema
/// otherwise): known type names (with a did-you-mean hint), then JsonSchema::Compile (patterns, $ref).
/// Appends one located error per problem; false when there was one.
bool CheckSchemaAt(
    const core::YamlDocument& doc, const Json& schema, const std::string& path, std::vector<Error>& errors
);
/// Checks a map name → StackStorm parameter schema at `path` (action parameters, config.schema.yaml): every
/// schema as CheckSchemaAt, boolean required/immutable/secret, position, misspelled attributes, literal defaults
/// that do not fit. False when there was a problem.
bool CheckParametersAt(
    const core::YamlDocument& doc, const Json& parameters, const std::string& path, std::vector<Error>& errors
);

}  // namespace squall::packs
