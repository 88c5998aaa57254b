#pragma once

// Running an action alias (docs/chatops.md): what StackStorm's aliasexecution controller does, shared by the API
// routes and the chat adapters. The execution is created through executions::ExecutionService, like every other.

#include <memory>
#include <optional>
#include <string>

#include "http.hpp"
#include "squall/aliases/match.hpp"
#include "squall/packs/content_store.hpp"

namespace squall::api::chatops {

/// The compiled alias index of a content snapshot, built once per content version and shared. Thread-safe.
std::shared_ptr<const aliases::AliasIndex> IndexFor(const packs::ContentSnapshot& snap);

/// Who runs an alias and from where (StackStorm's AliasExecutionAPI fields).
struct AliasCaller {
    std::string requester;       ///< the authenticated API user (context.user)
    std::string user;            ///< the chat user (context.api_user); empty: the requester
    std::string source_channel;  ///< context.source_channel
    Json source_context;         ///< context.source_context (null: absent)
    std::string notification_route;
    /// Chat adapters: the chatops config's `allow` ({"<alias ref>" | "<pack>" | "*": [chat users]}); null: no check.
    Json allow;
    std::string user_id;  ///< the chat's id of the user (also accepted by `allow`)
};

/// kPermissionDenied when `allow` has an entry for the alias's ref (else its pack, else "*") that names neither
/// the caller's user nor user_id. No entry: allowed.
Status CheckAllowed(const Json& alias, const AliasCaller& caller);

/// The execution's page in the web UI: the chatops config's `webui_base_url` + StackStorm's
/// `/#/history/<id>/general`; empty when no base URL is configured.
std::string ExecutionWebUrl(const Json& config, const std::string& execution_id);
/// What hubot appends to an ack (the alias's `ack.append_url`, true unless set to false):
/// " (details available at <url>)"; empty when turned off or no web UI URL is configured.
std::string AckUrlSuffix(const Json& alias, const Json& config, const std::string& execution_id);

/// One alias run: StackStorm's {execution, actionalias, message?, extra?} and the new execution's id.
struct AliasRun {
    std::string execution_id;
    Json body;
};

/// The alias named `name` (StackStorm's get_by_name: the first alias of that name in ref order), or kNotFound
/// `Unable to identify action alias with name "...".`.
Result<Json> AliasByName(const packs::ContentSnapshot& snap, const std::string& name);

/// Extracts the parameters of `command` with `format` (one of the alias's representations), adds the immutable
/// parameters (refusing a command that sets one), and requests the execution with context.action_alias_ref,
/// api_user, source_channel (and source_context). Errors: kInvalidArgument (disabled alias, no match, bad
/// parameters), kNotFound.
Result<AliasRun> ExecuteAlias(
    ApiDeps& d, const Json& alias, const std::string& format, const std::string& command, const AliasCaller& caller
);

}  // namespace squall::api::chatops
