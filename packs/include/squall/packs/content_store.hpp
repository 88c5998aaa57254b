#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "squall/core/redis/client.hpp"
#include "squall/core/store/store.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/content.hpp"
#include "squall/packs/loader.hpp"
#include "squall/templates/template.hpp"

namespace squall::packs {

/// What every execution of an action derives from a snapshot in the same way: its effective parameter schema and
/// the action as execution records store it (secret defaults masked), also as JSON text.
struct PreparedAction {
    Json schema;
    Json masked;
    std::string masked_text;
};

/// ContentSnapshot's per-action cache of PreparedAction, filled on first use. A copy of a snapshot starts with an
/// empty one (a copy may be changed before use; a published snapshot is not changed).
class PreparedActionCache {
public:
    PreparedActionCache() = default;
    PreparedActionCache(const PreparedActionCache&) {}
    PreparedActionCache& operator=(const PreparedActionCache&) {
        std::lock_guard lock(mu_);
        map_.clear();
        return *this;
    }
    std::shared_ptr<const PreparedAction> Find(const std::string& ref) const;
    void Put(const std::string& ref, std::shared_ptr<const PreparedAction> p) const;

private:
    mutable std::mutex mu_;
    mutable std::unordered_map<std::string, std::shared_ptr<const PreparedAction>> map_;
};

/// An immutable view of the registered content (actions, rules, runner types, packs, trigger types, sensors,
/// aliases, policies, pack configs) at one version.
struct ContentSnapshot {
    int64_t version = 0;
    std::map<std::string, Json> actions;        ///< ref → action JSON
    std::map<std::string, RuleMeta> rules;      ///< ref → rule
    std::map<std::string, Json> runner_types;   ///< name → runner type JSON (with runner_parameters)
    std::map<std::string, Json> packs;          ///< ref → pack JSON (with load_errors, files, config_schema)
    std::map<std::string, Json> trigger_types;  ///< ref → TriggerTypeMeta::ToJson()
    std::map<std::string, Json> sensors;        ///< ref → SensorMeta::ToJson() (with artifact_uri)
    std::map<std::string, Json> aliases;        ///< ref → AliasMeta::ToJson()
    std::map<std::string, Json> policies;       ///< ref → PolicyMeta::ToJson()
    std::map<std::string, Json> configs;        ///< pack → config values (defaults applied, in clear, templates kept)
    std::map<std::string, std::vector<std::string>> config_secrets;  ///< pack → dotted secret keys of its config

    /// The pack's config values ({} when it has none), as stored: `{{ st2kv... }}` templates are not rendered
    /// (packs::RenderConfig does that at use time).
    Json Config(const std::string& pack) const;
    /// `config_context` for templates of an action (rule action parameters, parameter defaults): the config of
    /// the action's pack with its template values (`{{ st2kv.system.x }}`) rendered with `options`. Errors name
    /// the config key.
    Result<Json> ConfigContext(const std::string& action_ref, const core::RenderOptions& options = {}) const;

    /// The action's effective parameter schema (runner's overridden by the action's); kNotFound when the
    /// action or its runner is unknown.
    Result<Json> ActionSchema(const std::string& action_ref) const;
    /// ActionSchema with the masked action, computed once per action and snapshot (every execution of the action
    /// needs them; an execution's preparation spent a tenth of its time rebuilding them).
    Result<std::shared_ptr<const PreparedAction>> Prepared(const std::string& action_ref) const;

    PreparedActionCache prepared_cache;
};
using ContentSnapshotPtr = std::shared_ptr<const ContentSnapshot>;

/// The keys of registered content, under the endpoint's prefix: hashes ref → JSON, and the version counter.
class ContentKeys {
public:
    explicit ContentKeys(std::string prefix) : p_(std::move(prefix)) {}
    std::string Actions() const { return p_ + "actions"; }
    std::string Rules() const { return p_ + "rules"; }
    std::string Packs() const { return p_ + "packs"; }
    /// Hash pack ref → {record, content: {kind: [refs]}} of the system packs bundled with the server, as they were
    /// registered from the bundled folder: what a pack installed under the same name is merged with.
    std::string BundledPacks() const { return p_ + "packs:bundled"; }
    /// kind ":" ref → SHA-256 of the definition last registered from the pack's files (RegisterPackBlocking's
    /// `keep_api_edits`: a definition whose file has not changed since keeps what the API made of it).
    std::string FileDigests() const { return p_ + "content:file-digests"; }
    std::string ContentVersion() const { return p_ + "content:version"; }
    /// Hash pack ref → JSON of the pack's validated config (defaults applied, values in clear).
    std::string Configs() const { return p_ + "configs"; }
    /// Hash pack ref → JSON list of the dotted keys of the pack's config that are secret (mask them in output).
    std::string ConfigSecrets() const { return p_ + "configs:secrets"; }
    /// Set of the trigger types at least one enabled rule listens to, rewritten with every change of the rules
    /// (atomically with it). The execution scripts read it (the `{x}` hash tag puts it on their slot): an
    /// execution that finishes is queued for the notifier only when something listens to what it would emit.
    std::string ListenedTriggerTypes() const { return p_ + "{x}rules:listened-trigger-types"; }
    std::string Prefix() const { return p_; }

    /// The command that bumps ContentVersion after a change of the rules and rewrites ListenedTriggerTypes from
    /// the rules hash; usable inside MULTI. (Other content changes bump the version with a plain INCR.)
    core::RedisClient::Args RulesChangedCommand() const;

private:
    std::string p_;
};

/// The system packs bundled with the server (`core`, `packs`, `chatops`): `pack install` merges into them
/// (ContentStore::RegisterPackBlocking) rather than replacing them.
bool IsSystemPack(const std::string& ref);

/// Registered content in Redis: hashes of JSON documents plus a version counter bumped on every change, so
/// that every role can tell cheaply whether its snapshot is stale.
class ContentStore {
public:
    explicit ContentStore(core::RedisClientPtr client);

    /// Registers a loaded pack: its actions, rules, trigger types, sensors, aliases and policies replace what the
    /// pack had (rules created through the API in that pack are kept), and its load errors and warnings, file list
    /// and config schema are stored with it. Its config is stored when `pack.config` is set, dropped when
    /// `pack.drop_config`, left alone otherwise.
    ///
    /// `bundled`: the pack is a system pack bundled with the server (IsSystemPack, from the bundled folder); its
    /// content is remembered (ContentKeys::BundledPacks). A pack of the same name registered from elsewhere (an
    /// installed StackStorm `core` or `packs`) is then merged in: the built-in content stays, the other content is
    /// added, and a built-in ref wins on a clash — each clash is a warning, stored in the pack's `load_warnings` and
    /// appended to `warnings` when given. The record keeps the bundled pack's metadata, with `installed` describing
    /// what was merged in. Registering the bundled folder again keeps what was merged in.
    ///
    /// `keep_api_edits` (the server's start): an action, rule, trigger type, sensor, alias or policy whose file is as
    /// it was when last registered keeps its stored definition, with what the API changed since (a rule disabled during
    /// an incident stays disabled across a restart, as StackStorm's database state does); one whose file changed is
    /// registered from it; one whose file is unchanged but which is no longer stored (a rule deleted through the API)
    /// stays deleted. Without it (`pack register`, `pack install`: StackStorm's `st2ctl reload`) the files win.
    Status RegisterPackBlocking(
        const LoadedPack& pack,
        bool bundled = false,
        std::vector<std::string>* warnings = nullptr,
        bool keep_api_edits = false
    );
    /// Stores a pack's validated config (Keys::Configs, Keys::ConfigSecrets) and bumps the content version.
    Status PutConfigBlocking(const std::string& pack, const PackConfig& config);
    /// Removes the pack and everything registered under `<pack>.` (actions, rules including API-created ones,
    /// trigger types, sensors, aliases, policies) and its registered config, atomically, and bumps the version.
    /// A bundled system pack goes back to its built-in content instead. kNotFound when the pack is not registered.
    Status UnregisterPackBlocking(const std::string& pack);
    Status RegisterRunnerTypesBlocking(const std::vector<RunnerTypeInfo>& runners);
    /// Creates or replaces a rule. Fails with kAlreadyExists when `create_only` and the ref exists.
    Status PutRuleBlocking(const RuleMeta& rule, bool create_only);
    /// Sets a registered action's `enabled` (StackStorm's `action enable|disable`) and bumps the version. A start
    /// keeps it while the action's file is unchanged (RegisterPackBlocking's keep_api_edits). kNotFound when the
    /// action is not registered.
    Status SetActionEnabledBlocking(const std::string& ref, bool enabled);
    /// The same for a policy (StackStorm's PUT /policies/{ref} with `enabled`: an operator switches a retry or
    /// concurrency policy off during an incident). kNotFound when the policy is not registered.
    Status SetPolicyEnabledBlocking(const std::string& ref, bool enabled);
    /// The same for a sensor (StackStorm's PUT /sensortypes/{ref}, `st2 sensor enable|disable`): the sensors role
    /// stops a disabled sensor's process on its next pass and starts it again once enabled. kNotFound when the
    /// sensor is not registered.
    Status SetSensorEnabledBlocking(const std::string& ref, bool enabled);
    Status DeleteRuleBlocking(const std::string& ref);

    Result<ContentSnapshotPtr> LoadBlocking();
    /// Asynchronous load (on the client's strand) for event-loop users.
    void Load(std::function<void(Result<ContentSnapshotPtr>)> cb);
    /// The current version number (asynchronous).
    void Version(std::function<void(Result<int64_t>)> cb);

    /// Hashes ref → JSON of the content kinds that have no Keys:: name.
    std::string TriggerTypesKey() const { return keys_.Prefix() + "triggertypes"; }
    std::string SensorTypesKey() const { return keys_.Prefix() + "sensortypes"; }
    std::string AliasesKey() const { return keys_.Prefix() + "actionaliases"; }
    std::string PoliciesKey() const { return keys_.Prefix() + "policies"; }

private:
    std::vector<core::RedisClient::Args> LoadCommands() const;
    /// Sets `enabled` in the definition `ref` of `hash` (`what` names it in a kNotFound) and bumps the version.
    Status SetEnabledBlocking(const std::string& hash, const std::string& what, const std::string& ref, bool enabled);
    static Result<ContentSnapshotPtr> Parse(const std::vector<core::RedisReply>& replies);
    core::RedisClientPtr client_;
    ContentKeys keys_;
};

}  // namespace squall::packs
