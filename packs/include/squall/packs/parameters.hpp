#pragma once

#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/packs/content.hpp"
#include "squall/templates/template.hpp"

namespace squall::packs {

/// Parameters ready for a run.
struct ResolvedParameters {
    Json values = Json::object();       ///< defaults applied, rendered, cast to declared types
    Json masked = Json::object();       ///< the same with secret values replaced by "********"
    std::vector<std::string> secrets;   ///< names of secret parameters that have a value
    std::vector<std::string> revealed;  ///< datastore secrets decrypted while rendering (to mask in output)
};

/// The effective schema of an action: its runner's parameters overridden by the action's own
/// (StackStorm lets an action override default, description, enum, immutable, required of runner params).
Json EffectiveSchema(const Json& runner_parameters, const Json& action_parameters);

/// Validates `given` against the effective schema: unknown parameters, missing required ones, immutable
/// parameters given a value; then, after casting ("5" → 5 for integers, JSON text → object/array), each value
/// against its full draft-4 schema (JsonSchema, json_schema.hpp; secret values are masked in messages).
/// Templated defaults are rendered with `context` (+ the other parameters by name). Errors name the parameter
/// path: `parameter "cmd": is required`, `parameter "hosts[2]": "x" does not match pattern "^[a-z]+$"`.
/// `options` reach the renderer (`options.kv`: the datastore for `st2kv.*` and `decrypt_kv` in defaults).
/// `extra_secrets`: other values to mask wherever they were rendered (the pack config's secret values); the
/// datastore secrets `decrypt_kv` revealed through `options.kv` are masked too.
Result<ResolvedParameters> ResolveParameters(
    const Json& schema,
    const Json& given,
    const Json& context,
    const core::RenderOptions& options = {},
    const std::vector<std::string>& extra_secrets = {}
);

/// `action` (its metadata, as stored with an execution) with the defaults of secret parameters (`schema`: the
/// effective schema, where runner parameters carry their secret flag) replaced by "********".
Json MaskSecretDefaults(const Json& action, const Json& schema);

/// "********" — how every secret is shown.
inline constexpr const char* kMask = "********";

}  // namespace squall::packs
