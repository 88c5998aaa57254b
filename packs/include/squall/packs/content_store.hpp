#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/redis/client.hpp"
#include "squall/core/store/store.hpp"
#include "squall/packs/content.hpp"
#include "squall/packs/loader.hpp"

namespace squall::packs {

/// An immutable view of the registered content (actions, rules, runner types, packs) at one version.
struct ContentSnapshot {
    int64_t version = 0;
    std::map<std::string, Json> actions;       ///< ref → action JSON
    std::map<std::string, RuleMeta> rules;     ///< ref → rule
    std::map<std::string, Json> runner_types;  ///< name → runner type JSON (with runner_parameters)
    std::map<std::string, Json> packs;         ///< ref → pack JSON (with load errors)

    /// The action's effective parameter schema (runner's overridden by the action's); kNotFound when the
    /// action or its runner is unknown.
    Result<Json> ActionSchema(const std::string& action_ref) const;
};
using ContentSnapshotPtr = std::shared_ptr<const ContentSnapshot>;

/// Registered content in Redis: hashes of JSON documents plus a version counter bumped on every change, so
/// that every role can tell cheaply whether its snapshot is stale.
class ContentStore {
public:
    explicit ContentStore(core::RedisClientPtr client);

    /// Registers a loaded pack: its actions and rules replace what the pack had (rules created through the
    /// API in that pack are kept), and its load errors are stored with it.
    Status RegisterPackBlocking(const LoadedPack& pack);
    Status RegisterRunnerTypesBlocking(const std::vector<RunnerTypeInfo>& runners);
    /// Creates or replaces a rule. Fails with kAlreadyExists when `create_only` and the ref exists.
    Status PutRuleBlocking(const RuleMeta& rule, bool create_only);
    Status DeleteRuleBlocking(const std::string& ref);

    Result<ContentSnapshotPtr> LoadBlocking();
    /// Asynchronous load (on the client's strand) for event-loop users.
    void Load(std::function<void(Result<ContentSnapshotPtr>)> cb);
    /// The current version number (asynchronous).
    void Version(std::function<void(Result<int64_t>)> cb);

private:
    static Result<ContentSnapshotPtr> Parse(const std::vector<core::RedisReply>& replies);
    core::RedisClientPtr client_;
    core::Keys keys_;
};

}  // namespace squall::packs
