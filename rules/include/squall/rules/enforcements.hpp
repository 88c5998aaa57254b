#pragma once

#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/retention.hpp"
#include "squall/core/store/store.hpp"

namespace squall::rules {

using core::Json;

/// Rule enforcements in Redis: the rules component owns their keys (docs/architecture.md).
/// `enf:<id>` (hash: {id, rule:{ref,id}, trigger_instance_id, execution_id?, failure_reason?, status, enforced_at}),
/// indexed newest first by `enforcements`. Per trigger instance, the ids are the field `enforcements` of the
/// instance's record, written with its status `processed` (core::TriggerStore::SetStatusCommand): no key per event.
/// Before 2026-12-07 they were the sorted set `enforcements:ti:<trigger instance id>`, still read for instances
/// that have no such field (stored earlier, or not processed yet) and removed by the purge.
class EnforcementKeys {
public:
    /// Every name carries the `{en}` hash tag: the purge script touches several (Redis Cluster, docs/delivery.md).
    explicit EnforcementKeys(const std::string& prefix) : p_(prefix + "{en}") {}
    std::string Enforcement(const std::string& id) const { return p_ + "enf:" + id; }
    std::string All() const { return p_ + "enforcements"; }
    /// The per-trigger-instance index of earlier versions (read, purged; no longer written).
    std::string ByTriggerInstance(const std::string& ti) const { return p_ + "enforcements:ti:" + ti; }
    /// Enforcements stored per rule (hash rule ref → count; the rules engine counts them in memory, flushed once a
    /// second): GET /metrics's rule matches.
    std::string MatchCounts() const { return p_ + "metrics:rules"; }
    const std::string& prefix() const { return p_; }

private:
    std::string p_;
};

class EnforcementStore {
public:
    /// `clock` (borrowed) stamps the index scores.
    EnforcementStore(core::RedisClientPtr client, const core::Clock& clock);
    /// The id of the enforcement of `rule_ref` for the trigger instance `ti_id`: one per (instance, rule), so that a
    /// redelivered instance enforces again under the same id.
    static std::string IdOf(const std::string& ti_id, const std::string& rule_ref);
    /// The commands that store one enforcement and its index, for the caller to pipeline with its own.
    std::vector<core::RedisClient::Args> Commands(const Json& enforcement) const;
    /// Newest first; `trigger_instance` empty: all of them.
    Result<std::vector<Json>> ListBlocking(
        const std::string& trigger_instance, size_t offset, size_t limit, size_t* total
    );
    /// Retention (core/store/retention.hpp): removes up to `batch` enforcements made before `cutoff_us`, oldest
    /// first, with their entries in the per-trigger-instance index.
    void Purge(
        int64_t cutoff_us,
        const core::PurgeCursor& from,
        size_t batch,
        std::function<void(Result<core::PurgeStep>)> done
    );
    const EnforcementKeys& keys() const { return keys_; }

private:
    /// The instance's `enforcements` field, split; empty when it has none.
    Result<std::vector<std::string>> IdsOfTriggerInstance(const std::string& ti_id);

    core::RedisClientPtr client_;
    const core::Clock& clock_;
    EnforcementKeys keys_;
    core::Keys core_keys_;
};

}  // namespace squall::rules
