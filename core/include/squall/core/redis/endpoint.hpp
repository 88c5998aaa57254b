#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"

namespace squall::core {

/// Where a Redis server is and which part of it we use. Every component gets one from config; nothing
/// hard-codes a port (STYLE.md convention 10).
struct RedisEndpoint {
    std::string unix_path;  ///< non-empty: connect over this unix socket
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::string key_prefix = "squall:";  ///< prepended to every key the installation uses
    /// Non-empty: Redis Sentinel. `host`/`port` are then resolved on every (re)connection by asking these sentinels
    /// (`SENTINEL get-master-addr-by-name master_name`), so that a client follows a failover to the promoted
    /// replica; and the acknowledging steps wait for one replica (RedisClient::WaitForReplica).
    std::vector<std::pair<std::string, int>> sentinels;
    std::string master_name;

    bool IsSentinel() const { return !sentinels.empty(); }

    /// Parses `redis://host:port/db`, `redis://host:port`, `unix:///path/to.sock`, `unix:///path?db=N` and
    /// `sentinel://host:port[,host:port...]/MASTER[?db=N]`.
    static Result<RedisEndpoint> Parse(std::string_view url);
    /// The URL form, without the key prefix.
    std::string ToString() const;
};

}  // namespace squall::core
