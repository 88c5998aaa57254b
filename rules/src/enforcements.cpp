#include "squall/rules/enforcements.hpp"

#include <optional>

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
    Result<std::vector<core::RedisReply>> rows = std::vector<core::RedisReply>();
    std::optional<std::vector<std::string>> ids;
    if (!trigger_instance.empty()) {
        Result<std::vector<std::string>> listed = IdsOfTriggerInstance(trigger_instance);
        if (!listed) return listed.error();
        if (!listed->empty()) ids = std::move(*listed);
    }
    if (ids) {
        // The instance's own list (its rules' order): newest first, as the index is.
        *total = ids->size();
        std::vector<core::RedisClient::Args> fetches;
        for (size_t i = offset; i < ids->size() && fetches.size() < limit; ++i)
            fetches.push_back({"HGETALL", keys_.Enforcement((*ids)[ids->size() - 1 - i])});
        if (!fetches.empty()) rows = client_->PipelineBlocking(std::move(fetches));
    } else {
        const std::string zset = trigger_instance.empty() ? keys_.All() : keys_.ByTriggerInstance(trigger_instance);
        rows = core::ZPageBlocking(*client_, zset, offset, limit, total, [this](const std::string& id) {
            return core::RedisClient::Args{"HGETALL", keys_.Enforcement(id)};
        });
    }
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        if (row.elements.empty()) continue;
        Json j = Json::object();
        for (size_t i = 0; i + 1 < row.elements.size(); i += 2) {
            const std::string& k = row.elements[i].str;
            const std::string& v = row.elements[i + 1].str;
            Json parsed = k == "rule" ? Json::parse(v, nullptr, false) : Json(v);
            j[k] = parsed.is_discarded() ? Json(v) : parsed;
        }
        out.push_back(std::move(j));
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
