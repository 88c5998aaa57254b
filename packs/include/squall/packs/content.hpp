#pragma once

#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::packs {

using core::Json;

/// pack.yaml (StackStorm fields; reference §3.2).
struct PackMeta {
    std::string ref;
    std::string name;
    std::string description;
    std::string version;
    std::string author;
    std::string path;  ///< folder on disk
    Json ToJson() const;
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
    std::string pool = "default";  ///< runner pool (SPEC §7)
    std::string metadata_file;

    std::string Ref() const { return pack + "." + name; }
    Json ToJson() const;
    /// Parses and validates action metadata. `doc` gives locations (may be a document made from API JSON).
    static Result<ActionMeta> FromDocument(const core::YamlDocument& doc, const std::string& pack);
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
    static Result<RuleMeta> FromDocument(const core::YamlDocument& doc, const std::string& default_pack);
};

/// A runner type as the registry declares it: its name and parameter schema (with secret flags).
struct RunnerTypeInfo {
    std::string name;
    std::string description;
    Json parameters = Json::object();
    Json ToJson() const;
};

}  // namespace squall::packs
