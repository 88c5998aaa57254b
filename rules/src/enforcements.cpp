#include "squall/rules/enforcements.hpp"

#include <algorithm>

#include "squall/core/id.hpp"
#include "squall/core/store/store.hpp"

namespace squall::rules {
namespace {

// KEYS: 1 the enforcements' sorted set. ARGV: 1 prefix, 2-5 cursor, cutoff, skip, batch (core::RunPurgeScript).
const char* kPurgeEnforcements = R"lua(
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'WITHSCORES', 'LIMIT', tonumber(ARGV[4]),
  tonumber(ARGV[5]))
local p, deleted, last, left = ARGV[1], 0, '', 0
for i = 1, #rows, 2 do
  local id = rows[i]
  if rows[i + 1] ~= last then last, left = rows[i + 1], 0 end
  local ti = redis.call('HGET', p .. 'enf:' .. id, 'trigger_instance_id')
  if ti then redis.call('ZREM', p .. 'enforcements:ti:' .. ti, id) end
  redis.call('DEL', p .. 'enf:' .. id)
  redis.call('ZREM', KEYS[1], id)
  deleted = deleted + 1
end
return {deleted, #rows / 2, last, left}
)lua";

}  // namespace

EnforcementStore::EnforcementStore(core::RedisClientPtr client, const core::Clock& clock)
    : client_(std::move(client)),
      clock_(clock),
      keys_(client_->endpoint().key_prefix),
      core_keys_(client_->endpoint().key_prefix) {}

std::string EnforcementStore::IdOf(const std::string& ti_id, const std::string& rule_ref) {
    return core::Sha256Hex(ti_id + "/" + rule_ref).substr(0, 24);
}

std::vector<core::RedisClient::Args> EnforcementStore::Commands(const Json& e) const {
    const std::string id = e.at("id");
    core::RedisClient::Args hset = {"HSET", keys_.Enforcement(id)};
    for (const auto& [k, v] : e.items()) {
        hset.push_back(k);
        hset.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    const std::string score = std::to_string(core::ToMicros(clock_.Now()));
    return {hset, {"ZADD", keys_.All(), score, id}};
}

void EnforcementStore::Purge(
    int64_t cutoff_us, const core::PurgeCursor& from, size_t batch, std::function<void(Result<core::PurgeStep>)> done
) {
    static const core::Script kScript(kPurgeEnforcements);
    core::RunPurgeScript(kScript, *client_, keys_.All(), keys_.prefix(), cutoff_us, from, batch, {}, std::move(done));
}

Result<std::vector<Json>> EnforcementStore::ListBlocking(
    const std::string& trigger_instance, size_t offset, size_t limit, size_t* total
) {
    std::vector<Json> out;
    if (limit == 0) return out;
    const auto to_json = [](const core::RedisReply& row) {
        Json j = Json::object();
        for (size_t i = 0; i + 1 < row.elements.size(); i += 2) {
            const std::string& k = row.elements[i].str;
            const std::string& v = row.elements[i + 1].str;
            Json parsed = k == "rule" ? Json::parse(v, nullptr, false) : Json(v);
            j[k] = parsed.is_discarded() ? Json(v) : parsed;
        }
        return j;
    };
    if (!trigger_instance.empty()) {
        Result<std::vector<std::string>> ids = IdsOfTriggerInstance(trigger_instance);
        if (!ids) return ids.error();
        if (!ids->empty()) {
            // The instance's own list (one per rule it matched: a few): read whole, newest first by enforced_at,
            // then paged. An id whose enforcement is gone (its retention is shorter than the instance's) is left out.
            std::vector<core::RedisClient::Args> fetches;
            for (const auto& id : *ids) fetches.push_back({"HGETALL", keys_.Enforcement(id)});
            Result<std::vector<core::RedisReply>> rows = client_->PipelineBlocking(std::move(fetches));
            if (!rows) return rows.error();
            std::vector<Json> all;
            for (const auto& row : *rows) {
                if (!row.elements.empty()) all.push_back(to_json(row));
            }
            std::stable_sort(all.begin(), all.end(), [](const Json& a, const Json& b) {
                return a.value("enforced_at", "") > b.value("enforced_at", "");
            });
            *total = all.size();
            for (size_t i = offset; i < all.size() && out.size() < limit; ++i) out.push_back(std::move(all[i]));
            return out;
        }
    }
    // All of them, or an instance processed by an earlier version (its per-instance sorted set).
    const std::string zset = trigger_instance.empty() ? keys_.All() : keys_.ByTriggerInstance(trigger_instance);
    Result<std::vector<core::RedisReply>> rows =
        core::ZPageBlocking(*client_, zset, offset, limit, total, [this](const std::string& id) {
            return core::RedisClient::Args{"HGETALL", keys_.Enforcement(id)};
        });
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        if (!row.elements.empty()) out.push_back(to_json(row));
    }
    return out;
}

Result<std::vector<std::string>> EnforcementStore::IdsOfTriggerInstance(const std::string& ti_id) {
    Result<core::RedisReply> r =
        client_->CommandBlocking({"HGET", core_keys_.TriggerInstance(ti_id), core::TriggerStore::kEnforcementsField});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    std::vector<std::string> ids;
    for (size_t start = 0; start < r->str.size();) {
        size_t comma = r->str.find(',', start);
        if (comma == std::string::npos) comma = r->str.size();
        if (comma > start) ids.push_back(r->str.substr(start, comma - start));
        start = comma + 1;
    }
    return ids;
}

}  // namespace squall::rules
