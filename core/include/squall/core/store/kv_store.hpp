#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/crypto.hpp"
#include "squall/core/kv_lookup.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/store.hpp"

/// The datastore (SPEC §1 `keys/`, reference §8): key-value pairs in Redis with scopes, TTLs and encrypted
/// secrets, and the snapshot that templates read `st2kv.*` from.
///
/// Redis layout (under the endpoint prefix, see Keys):
///   kv:<member>   string: the pair's JSON record; carries the pair's TTL as a Redis expiry
///   kv:index      sorted set of members (all scores 0, so ZRANGEBYLEX lists by prefix)
///   kv:version    counter, INCR'd by every set and delete (not by expiry: readers check expire times)
/// A member is "system:<name>" or "user:<user>:<name>". A member in the index whose record has expired is
/// skipped by readers and removed by the next listing.
namespace squall::core {

/// Scope names as Squall stores them; the API also accepts StackStorm's "st2kv.system" / "st2kv.user".
namespace kv_scope {
inline constexpr const char* kSystem = "system";
inline constexpr const char* kUser = "user";
}  // namespace kv_scope

/// "system" / "st2kv.system" → "system", "user" / "st2kv.user" → "user"; with `allow_all`, "all" → "all".
/// kInvalidArgument naming the scope otherwise.
Result<std::string> ParseKvScope(std::string_view scope, bool allow_all = false);

/// The longest TTL a pair can have: 100 years. Bounded so that now + ttl never overflows a timestamp (a TTL of
/// 2^62 s would otherwise store an already expired pair).
inline constexpr int64_t kMaxKvTtlSeconds = int64_t{100} * 365 * 24 * 3600;

/// One key-value pair. `value` is as stored: the SecretBox ciphertext ("sqv1:…") when `secret`.
struct KeyValuePair {
    std::string name;
    std::string value;
    bool secret = false;
    std::string scope = kv_scope::kSystem;
    std::string user;       ///< the owner, for scope "user"
    int64_t ttl = 0;        ///< seconds, as given when set; 0 = never expires
    int64_t expire_us = 0;  ///< microseconds since the epoch; 0 = never
    std::string description;

    /// "system:<name>" or "user:<user>:<name>".
    std::string Member() const;
    bool Expired(std::chrono::system_clock::time_point now) const {
        return expire_us != 0 && ToMicros(now) >= expire_us;
    }
    /// StackStorm's KeyValuePair JSON: {id, uid, name, value, secret, encrypted, scope: "st2kv.<scope>", user?,
    /// ttl?, expire_timestamp?, description?}. `value` is what to show (the caller masks or decrypts);
    /// `encrypted` says whether the shown value is ciphertext or a mask (true) or clear (false).
    Json ToApiJson(const std::string& shown_value, bool encrypted) const;
    /// The stored record and back.
    Json ToRecord() const;
    static Result<KeyValuePair> FromRecord(const std::string& text);
};

/// "********": how a secret value is shown without decrypt.
inline constexpr const char* kKvMask = "********";

/// A read-only copy of every pair, taken at `version`.
struct KvSnapshot {
    int64_t version = -1;
    std::unordered_map<std::string, KeyValuePair> pairs;  ///< by member
};
using KvSnapshotPtr = std::shared_ptr<const KvSnapshot>;

/// Reads and writes pairs. Blocking methods are for HTTP handlers, start-up and tests (never an io_context
/// thread); Version/Load are asynchronous (callbacks on the Redis client's strand). Thread-safe.
/// Every set and delete bumps kv:version in the same script as the write, and then emits the
/// `core.st2.key_value_pair.*` trigger (create, update, value_change, delete; secret values masked) when a
/// TriggerStore is given.
class KvStore {
public:
    /// `box` (may be null: secrets are then refused) and `triggers` (may be null: no triggers) are borrowed.
    KvStore(RedisClientPtr client, const SecretBox* box, const Clock& clock, TriggerStore* triggers = nullptr);

    /// Creates or replaces the pair; `pair.value` is the clear value and is encrypted here when `pair.secret`.
    /// A TTL sets the expire time from the clock. Validates name, scope, user and ttl (kInvalidArgument naming
    /// the field). Returns the stored pair (ciphertext value for a secret).
    Result<KeyValuePair> SetBlocking(KeyValuePair pair);
    /// The stored pair, or kNotFound naming the key and scope.
    Result<KeyValuePair> GetBlocking(const std::string& scope, const std::string& user, const std::string& name);
    /// Pairs whose name starts with `prefix`, sorted by name. `scope` is "system", "user" (the pairs of `user`)
    /// or "all" (system then `user`'s).
    Result<std::vector<KeyValuePair>> ListBlocking(
        const std::string& scope, const std::string& user, const std::string& prefix
    );
    /// Deletes the pair and returns what it was, or kNotFound.
    Result<KeyValuePair> DeleteBlocking(const std::string& scope, const std::string& user, const std::string& name);

    /// The clear value of a stored pair (itself when not secret).
    Result<std::string> ClearValue(const KeyValuePair& pair) const;

    /// The current kv:version (0 before the first change).
    void Version(std::function<void(Result<int64_t>)> cb);
    /// Every live pair, with the version read before them (so a snapshot is never newer than its label).
    void Load(std::function<void(Result<KvSnapshotPtr>)> cb);

    const SecretBox* box() const { return box_; }
    const Clock& clock() const { return clock_; }

private:
    void EmitChange(const char* trigger, Json payload);
    RedisClientPtr client_;
    Keys keys_;
    const SecretBox* box_;
    const Clock& clock_;
    TriggerStore* triggers_;
};

/// `st2kv.*` for templates over one snapshot, seeing the user-scoped pairs of `user`. Never blocks. A secret
/// reads as its ciphertext and `| decrypt_kv` decrypts it (StackStorm semantics). Expired pairs are undefined.
class KvLookup final : public KeyValueLookup {
public:
    KvLookup(KvSnapshotPtr snapshot, const SecretBox* box, const Clock& clock, std::string user);
    std::optional<std::string> Get(std::string_view scope, std::string_view key) const override;
    Result<std::string> Decrypt(std::string_view ciphertext) const override;
    std::vector<std::string> Revealed() const override;

private:
    struct RevealedList {
        std::mutex mu;
        std::vector<std::string> items;
    };
    std::shared_ptr<RevealedList> revealed_ = std::make_shared<RevealedList>();  // shared by copies
    KvSnapshotPtr snapshot_;
    const SecretBox* box_;
    const Clock& clock_;
    std::string user_;
};

/// The in-memory snapshot of the datastore that renderers read: Refresh re-reads kv:version and reloads
/// everything only when it changed, so a render never waits on Redis. Call Refresh before a unit of work (the
/// rules engine does per batch) to see every change made before it. Thread-safe.
class KvCache {
public:
    explicit KvCache(KvStore& store);
    /// Asynchronous; `next` runs on the Redis client's strand (errors leave the previous snapshot in place).
    void Refresh(std::function<void(Status)> next);
    /// The same for threads that may block (HTTP handlers).
    Status RefreshBlocking();
    /// The latest snapshot (empty, version -1, before the first refresh).
    KvSnapshotPtr Snapshot() const;
    /// A lookup over the latest snapshot for `user` (the execution's context user).
    KvLookup LookupFor(std::string user) const;

private:
    void Install(KvSnapshotPtr snap);
    KvStore& store_;
    mutable std::mutex mu_;
    KvSnapshotPtr snapshot_;
};

}  // namespace squall::core
