#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/content.hpp"

namespace squall::packs {

/// One pack read from disk: what loaded, and an error (with file:line:col and field) for every problem in every
/// file that did not.
struct LoadedPack {
    PackMeta meta;
    std::vector<ActionMeta> actions;
    std::vector<RuleMeta> rules;
    std::vector<TriggerTypeMeta> trigger_types;  ///< triggers/*.yaml and the sensors' declared trigger types
    std::vector<SensorMeta> sensors;
    std::vector<AliasMeta> aliases;
    std::vector<PolicyMeta> policies;
    Json config_schema;  ///< config.schema.yaml's properties map; null when the pack has none (or it is broken)
    /// The validated DATA/configs/<pack>.yaml (PackLoaderOptions::configs_dir); nullopt when not loaded.
    std::optional<PackConfig> config;
    /// The stored config must go: the pack has neither a config file nor schema defaults (or its schema is broken).
    bool drop_config = false;
    /// The config file was rejected (its error is in `errors`): the config stored before stays, as StackStorm keeps
    /// the last valid one; when none is stored, these schema defaults are.
    std::optional<PackConfig> config_fallback;
    std::vector<Error> errors;
    /// Problems that do not stop the pack from installing (file:line:col like errors): an action whose runner
    /// this server does not have is registered but unavailable (ActionMeta::unavailable); a bundled pack's
    /// built-in content that wins over an installed pack's file of the same name.
    std::vector<Error> warnings;
};

/// Checks a parsed rule beyond its file format; the rules component supplies it (rules::MakeRuleCheck compiles
/// the criteria: operators with a did-you-mean, patterns), so that packs need not know the operators. The errors it
/// returns (with the rule file's locations) are the rule's load errors; none means the rule is fine.
using RuleCheck = std::function<std::vector<Error>(const RuleMeta&, const core::YamlDocument&)>;

/// What a workflow check found in one workflow definition: errors are load errors (they refuse an install without
/// --force), warnings are not. The action is loaded either way: running it fails with the same problems.
struct WorkflowFindings {
    std::vector<Error> errors;
    std::vector<Error> warnings;
};
/// Checks the definition file (`entry_file`, a path) of an `orquesta` or `action-chain` action; the workflows
/// component supplies it (workflows::MakeWorkflowCheck), so that `packs` need not know the workflow languages.
using WorkflowCheck = std::function<WorkflowFindings(const ActionMeta& action, const std::string& entry_file)>;

struct PackLoaderOptions {
    /// DATA/configs: when set, each pack's <configs_dir>/<ref>.yaml is validated against its config.schema.yaml.
    std::string configs_dir;
    /// Runner types that exist. When non-empty, an action naming another is a warning at its runner_type: the
    /// action is loaded but unavailable (ActionMeta::unavailable says why), as StackStorm's own packs hold actions
    /// for runners not every installation has (winrm-*, announcement). A near miss of an existing runner that is
    /// not a StackStorm runner name ("local-shell-scirpt") is a typo: a load error with a did-you-mean.
    std::set<std::string> runner_types;
    /// When set, a rule it rejects is a load error and is not loaded.
    RuleCheck check_rule;
    /// When set, every workflow definition is checked with it (WorkflowFindings).
    WorkflowCheck check_workflow;
    /// Runner type → its parameters' schemas. An action's parameter that is also its runner's may change only
    /// `default`, `description`, `enum`, `immutable` and `required` (StackStorm's RUNNER_PARAM_OVERRIDABLE_ATTRS);
    /// another attribute with another value is a load error at the action's file and field, and the action is not
    /// loaded, as StackStorm refuses it at registration. Runner types not in the map are not checked.
    std::map<std::string, Json> runner_parameters;
};

/// Reads packs in StackStorm layout from folders (pack.yaml, actions/ with actions/workflows/, rules/, sensors/,
/// triggers/, aliases/, policies/, config.schema.yaml). Pure file I/O and parsing: blocking, run it at start-up or
/// on a blocking pool. One bad file never stops the rest of the pack, or other packs, from loading; every problem
/// of a bad file is reported.
class PackLoader {
public:
    PackLoader() = default;
    explicit PackLoader(PackLoaderOptions options) : options_(std::move(options)) {}
    /// Loads the pack in `dir` (which holds pack.yaml). A missing or broken pack.yaml is an error.
    Result<LoadedPack> LoadPackBlocking(const std::string& dir) const;
    /// Loads every sub-folder of `base` that holds a pack.yaml; sorted by folder name.
    std::vector<LoadedPack> LoadAllBlocking(const std::string& base) const;

    /// Runner types whose actions need an entry_point file (relative to actions/).
    static bool NeedsEntryPoint(const std::string& runner_type);

private:
    PackLoaderOptions options_;
};

}  // namespace squall::packs
