#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::core {

/// One live `squall server` process as the service registry knows it.
struct ServiceMember {
    std::string id;  ///< "<hostname>-<pid>", unique per process
    std::string hostname;
    int64_t pid = 0;
    std::vector<std::string> roles;
    std::string pool;        ///< runner pool ("" when the process runs no runner role)
    std::string listen;      ///< the API's HOST:PORT ("" when the process runs no api role)
    std::string started_at;  ///< ISO-8601 UTC
    std::string last_beat;   ///< ISO-8601 UTC, refreshed with each heartbeat

    Json ToJson() const;
    static Result<ServiceMember> FromJson(const Json& j);
};

/// Keys of the service registry (docs/architecture.md): `{r}registry:member:<id>`, the member's JSON, which expires
/// `ttl` after its last heartbeat (a process killed with -9 disappears on its own), and `{r}registry:members`, the set
/// of ids that may be alive (an id whose member key has expired is dropped by the next reader).
class ServiceRegistryKeys {
public:
    explicit ServiceRegistryKeys(const std::string& prefix) : p_(prefix + "{r}registry:") {}
    std::string Member(const std::string& id) const { return p_ + "member:" + id; }
    std::string Members() const { return p_ + "members"; }

private:
    std::string p_;
};

/// A process's own entry in the registry: written at Start and every `interval` (one pipeline: SET PX + SADD) on the
/// io_context, removed at Stop. Threading: Start/Stop from any thread; the heartbeat runs on the io_context.
class ServiceHeartbeat {
public:
    struct Options {
        std::chrono::milliseconds interval{2000};
        std::chrono::milliseconds ttl{8000};  ///< a member not heard from for this long is gone
    };
    ServiceHeartbeat(asio::io_context& io, RedisClientPtr client, ServiceMember self, const Clock& clock, Options o);
    ~ServiceHeartbeat();
    void Start();
    /// Stops beating and removes the entry (blocking: waits for Redis up to its command timeout). Not from an
    /// io_context thread.
    void StopBlocking();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// The live members, read by the API (blocking: HTTP handler threads). Ids whose key has expired are removed from the
/// set as they are found. Sorted by id.
Result<std::vector<ServiceMember>> ListServiceMembersBlocking(RedisClient& client);

}  // namespace squall::core
