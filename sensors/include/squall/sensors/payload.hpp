#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/json_schema.hpp"

namespace squall::sensors {

using core::Json;

/// Checks trigger payloads against their trigger type's `payload_schema` (SPEC §3.3, issue 13 item 6) with the
/// packs' JSON Schema validator, so that an invalid payload is refused where it enters and never dispatched.
/// Compiled schemas are cached per content version. Thread-safe.
class PayloadValidator {
public:
    /// kInvalidArgument naming the trigger and the field: `payload of trigger "github.push": field
    /// "payload.body.ref": 5 is not of type "string"`. A trigger type that is not registered, or has no schema,
    /// accepts any payload (StackStorm's validate_trigger_payload does the same).
    Status Validate(const packs::ContentSnapshot& snapshot, const std::string& trigger, const Json& payload);
    /// Payloads refused so far.
    uint64_t rejected() const { return rejected_.load(); }

private:
    std::mutex mu_;
    int64_t version_ = -1;
    std::map<std::string, std::shared_ptr<const packs::JsonSchema>> compiled_;  // null: no schema
    std::atomic<uint64_t> rejected_{0};
};

/// Remembers which deliveries (GitHub's X-GitHub-Delivery, a webhook's Idempotency-Key) were already turned into a
/// trigger instance, across every API process of an installation: one Redis key per delivery, claimed atomically
/// before the instance is stored and marked done after. Blocking (call from HTTP threads). Thread-safe.
///
/// Keys: `{ti}webhook:dedupe:<sha256 of scope and key>` holding `claimed` (30 s, while a request stores the instance)
/// or `done` (for `ttl`).
class DeliveryDedupe {
public:
    enum class Claim {
        kClaimed,    ///< this caller stores the instance, then calls Done (or Release on failure)
        kDuplicate,  ///< stored before: answer "duplicate" and create nothing
    };
    explicit DeliveryDedupe(core::RedisClientPtr redis) : redis_(std::move(redis)) {}
    /// Claims `key` in `scope`. `instance_key` is the Redis key of the instance the delivery makes (its id is
    /// derived from the delivery), which also counts as "done". When another request holds the claim, waits for it
    /// (up to 5 s): kDuplicate once it is done, a claim of our own if it gave up, kUnavailable otherwise.
    Result<Claim> ClaimBlocking(const std::string& scope, const std::string& key, const std::string& instance_key);
    /// Marks the delivery done for `ttl`.
    Status DoneBlocking(const std::string& scope, const std::string& key, std::chrono::seconds ttl);
    /// Gives a claim up (the instance could not be stored), so that a retry is not taken for a duplicate. When Redis
    /// cannot be told (it went away, e.g. a Sentinel failover), the claim is remembered as stale here: a retry that
    /// reaches this process finds it and takes the delivery over at once instead of waiting for the claim to expire.
    void ReleaseBlocking(const std::string& scope, const std::string& key);
    /// The Redis key of a delivery (documented in docs/architecture.md).
    std::string Key(const std::string& scope, const std::string& key) const;

private:
    /// A claim on `k` that this process could not release: deleted, so that the caller claims again. False when
    /// the claim is not one of those (or Redis is still away).
    bool TakeOverStale(const std::string& k);

    core::RedisClientPtr redis_;
    std::mutex mu_;
    std::set<std::string> stale_;  // guarded by mu_: claims of this process that could not be released (bounded)
};

/// A trigger instance id derived from a delivery (24 hex digits, like every instance id), so that every API
/// process makes the same one for the same delivery.
std::string DeliveryInstanceId(const std::string& scope, const std::string& key);

/// `application/x-www-form-urlencoded` text as StackStorm's webhooks give it to rules (Python's parse_qs): an
/// object of field name → list of values. Blank values are kept ("a=" gives {"a": [""]}). kInvalidArgument on a
/// bad %-escape or a name or value that is not UTF-8.
Result<Json> ParseFormUrlEncoded(std::string_view text);

/// True when the Content-Type header names `application/x-www-form-urlencoded` (parameters ignored).
bool IsFormContentType(std::string_view content_type);

}  // namespace squall::sensors
