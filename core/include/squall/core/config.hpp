#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "squall/core/error.hpp"

namespace squall::core {

/// Every role a server process can run (SPEC §1). `all` expands to this list.
inline const std::vector<std::string> kAllRoles = {
    "api", "sensors", "rules", "runner", "workflow", "timers", "notifier", "gc"};

/// Options of `squall server`. Defaults live here. Each is settable in the YAML file given by --config
/// (key = name below), by env SQUALL_<NAME upper-cased> and by flag --<name with dashes>; flags win over env,
/// env over the file (SPEC §1).
struct ServerConfig {
    std::string data_dir;                   ///< default ${SQUALL_HOME:-$HOME/.squall}
    std::string listen = "127.0.0.1:9101";  ///< HOST:PORT of the API
    std::string redis;                      ///< URL of an external Redis; empty: embedded redis-server
    std::vector<std::string> roles = kAllRoles;
    std::string pool = "default";  ///< runner pool this process serves (SPEC §7)
    int workers = 128;             ///< concurrent executions per runner process
    std::string log_level = "info";
    std::string log_format = "text";            ///< text | json
    std::string packs_dir;                      ///< bundled packs; default: the source tree's packs/bundled
    std::string redis_server = "redis-server";  ///< binary used for the embedded Redis
    int shutdown_grace = 30;                    ///< seconds in-flight executions get to finish on SIGTERM
    int http_threads = 8;                       ///< HTTP worker threads
    int stream_heartbeat = 25;                  ///< seconds between heartbeat comments on /stream (SSE)
    int token_ttl = 86400;                      ///< seconds a token from POST /auth/v1/tokens lives by default
    int token_max_ttl = 86400;                  ///< the largest `ttl` a token request may ask for
    std::string config_file;                    ///< the --config file, if any
    int max_connections = 1000;                 ///< open HTTP connections in total (past it: 503)
    int max_connections_per_client = 256;       ///< open HTTP connections from one address (past it: 503)
    /// 1: webhook requests are served by the API's event loop (docs/decisions.md "Webhooks on an event loop");
    /// 0: by the HTTP worker threads like every other request.
    int webhook_lane = 1;
    /// Rules engine consumers per `rules` process (each its own connection and batch at a time).
    int rules_consumers = 2;
    /// Work waiting in Redis (trigger + execution request streams) past which webhooks get 429; 0: no bound.
    int max_queue_depth = 100000;
    /// Retention (gc role, docs/delivery.md): how long history is kept; 0 keeps forever.
    std::chrono::seconds executions_ttl{30 * 86400};
    std::chrono::seconds output_ttl{7 * 86400};
    std::chrono::seconds trigger_instances_ttl{30 * 86400};
    std::chrono::seconds enforcements_ttl{30 * 86400};
    /// The gc role times out an inquiry left unanswered past its `ttl` (StackStorm's garbagecollector.purge_inquiries,
    /// which StackStorm leaves off by default); 0: inquiries wait for ever.
    int purge_inquiries = 1;

    bool HasRole(const std::string& role) const;
};

/// Builds the config from `args` (the words after `squall server`), the environment (through `getenv`,
/// injected for tests) and the YAML file named by --config. Errors name the flag, the variable or
/// file:line:col and the key, e.g. `squall.yaml:3:1: key 'listn': unknown option (did you mean 'listen'?)`.
Result<ServerConfig> LoadServerConfig(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv
);

/// Names of every option, in the order the sample file lists them.
std::vector<std::string> ServerOptionNames();

/// The closest candidate to `word` by edit distance, or "" when none is close (did-you-mean hints).
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace squall::core
