#pragma once

#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall/templates/template.hpp"

namespace squall::packs {

using core::Json;

/// A pack's config.schema.yaml (reference §3.1): a map of property → schema with StackStorm's attributes
/// (`type`, `description`, `default`, `required`, `secret`, nested `properties`/`items`, and draft-4 keywords).
/// Immutable; thread-safe.
class ConfigSchema {
public:
    ConfigSchema() = default;
    /// Parses and checks config.schema.yaml; every problem is appended to `all_errors` (file:line:col: field: what),
    /// the first is returned.
    static Result<ConfigSchema> FromDocument(const core::YamlDocument& doc, std::vector<Error>* all_errors = nullptr);
    /// From the stored properties map (ContentStore keeps it in the pack record as `config_schema`).
    static Result<ConfigSchema> FromJson(const Json& properties);

    const Json& properties() const { return properties_; }
    /// Dotted paths of the `secret: true` properties ("token", "auth.password").
    const std::vector<std::string>& secret_keys() const { return secret_keys_; }

    /// Validates a config: defaults applied (also inside nested objects), `required` enforced, strings cast to the
    /// declared type ("5" → 5), each value checked against its schema. Strings holding a `{{ ... }}` template
    /// (`{{ st2kv.system.x }}`) are kept as written and checked only when rendered. Keys the schema does not
    /// declare are kept (StackStorm accepts them). With `doc` (the config file) errors read
    /// `file:line:col: port: "abc" is not of type "integer" (got string)`; without, `config property "port": ...`.
    /// `enforce_required` false: only defaults and checks (the defaults of a pack that is not configured yet).
    Result<Json> Validate(const Json& values, const core::YamlDocument* doc = nullptr, bool enforce_required = true)
        const;

private:
    Json properties_ = Json::object();
    std::vector<std::string> secret_keys_;
};

/// A pack's validated config.
struct PackConfig {
    Json values = Json::object();          ///< defaults applied, values in clear, templates unrendered
    std::vector<std::string> secret_keys;  ///< dotted paths to mask
};

/// `values` with each secret key replaced by "********".
Json MaskConfig(const Json& values, const std::vector<std::string>& secret_keys);

/// `update` where a secret key still holds "********" (a read-modify-write of the masked config) gets the
/// value `current` has there: writing a config back never replaces a secret with its mask.
Json KeepMaskedSecrets(const Json& update, const Json& current, const std::vector<std::string>& secret_keys);

/// The values (as text) at the dotted `secret_keys` of a config, to mask.
std::vector<std::string> SecretValuesOf(const Json& values, const std::vector<std::string>& secret_keys);

/// Renders the template strings of a config (`{{ st2kv.system.x }}`) at use time; errors name the key.
Result<Json> RenderConfig(const Json& values, const Json& context, const core::RenderOptions& options = {});

/// DATA/configs/<pack>.yaml
std::string ConfigFilePath(const std::string& data_dir, const std::string& pack);

/// Reads and validates `file` against `schema`. A missing file is a config of the defaults alone (a pack that is
/// not configured yet; `required` is then not enforced). Blocking file I/O.
Result<PackConfig> LoadPackConfigBlocking(const std::string& file, const ConfigSchema& schema);

/// Writes `values` as YAML to `file` atomically (a temp file in the same folder, fsync, rename), mode 0600 since
/// configs hold secrets. Blocking file I/O.
Status WriteConfigFileBlocking(const std::string& file, const Json& values);

}  // namespace squall::packs
