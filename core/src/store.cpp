#include "squall/core/store/store.hpp"

#include <future>

#include <openssl/evp.h>

#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"
#include "squall/core/store/retention.hpp"

namespace squall::core {
namespace {

std::string Sha1Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kDigits[md[i] >> 4];
        out += kDigits[md[i] & 0xf];
    }
    return out;
}

// KEYS: 1 ti hash, 2 all zset, 3 stream. ARGV: 1 id, 2 score, 3 body, 4.. field/value pairs
// An id that exists already is not emitted again: emitters that derive the id from what caused the instance (the
// notifier: execution id) are idempotent when their input is redelivered. The id comes back as a bulk string when
// the instance was stored, as a status reply when it existed (so that TriggerStore::Emit counts only the first).
const char* kEmitTrigger = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.status_reply(ARGV[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[3])
return ARGV[1]
)lua";

// KEYS: 1 the instances' sorted set. ARGV: 1 tagged prefix, 2-5 cursor, cutoff, skip, batch (RunPurgeScript).
const char* kPurgeTriggerInstances = R"lua(
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'WITHSCORES', 'LIMIT', tonumber(ARGV[4]),
  tonumber(ARGV[5]))
local p, deleted, last, left = ARGV[1], 0, '', 0
for i = 1, #rows, 2 do
  if rows[i + 1] ~= last then last, left = rows[i + 1], 0 end
  redis.call('DEL', p .. 'ti:' .. rows[i])
  redis.call('ZREM', KEYS[1], rows[i])
  deleted = deleted + 1
end
return {deleted, #rows / 2, last, left}
)lua";

const Script& EmitScript() {
    static const Script kScript(kEmitTrigger);
    return kScript;
}

Result<std::string> ReplyString(Result<RedisReply> r) {
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->type == RedisReply::Type::kInteger) return std::to_string(r->integer);
    return r->str;
}

Json ParseJsonField(const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    return j.is_discarded() ? Json(text) : j;
}

}  // namespace

Script::Script(std::string source)
    : source_(std::make_shared<const std::string>(std::move(source))), sha_(Sha1Hex(*source_)) {
    RedisClient::RegisterScript(source_, known_);
}

RedisClient::Args Script::Build(
    const char* verb, const std::string& script_or_sha, std::vector<std::string>& keys, std::vector<std::string>& args
) const {
    RedisClient::Args out;
    out.reserve(3 + keys.size() + args.size());
    out.emplace_back(verb);
    out.push_back(script_or_sha);
    out.push_back(std::to_string(keys.size()));
    for (auto& k : keys) out.push_back(std::move(k));
    for (auto& a : args) out.push_back(std::move(a));
    return out;
}

namespace {

/// EVALSHA through `send` (a client's Command or BatchedAsync), then EVAL with the source if Redis does not know the
/// script (a restart, SCRIPT FLUSH); `cb` gets the last reply. While `known` is false the first send is EVAL with the
/// source already (in order with the connection's other commands, as a retry is not); a reply that is not an error
/// sets it. The arguments are copied once (the client consumes what it sends; the copy waits for a retry) and the
/// source not at all: on the hot path a script's arguments are a record's fields.
template <typename Send>
void EvalWithFallbackAsync(
    RedisClient::Args with_sha,
    std::shared_ptr<const std::string> source,
    std::shared_ptr<std::atomic<bool>> known,
    Send send,
    RedisClient::Callback cb
) {
    if (!known->load(std::memory_order_relaxed)) {
        with_sha[0] = "EVAL";
        with_sha[1] = *source;
        send(std::move(with_sha), [known = std::move(known), cb = std::move(cb)](Result<RedisReply> r) {
            // Only a success says the script is cached: an error can be one where it never ran (-LOADING, -BUSY).
            if (r && !r->IsError()) known->store(true, std::memory_order_relaxed);
            cb(std::move(r));
        });
        return;
    }
    RedisClient::Args sent = with_sha;
    send(
        std::move(sent),
        [send,
         source = std::move(source),
         known = std::move(known),
         with_sha = std::move(with_sha),
         cb = std::move(cb)](Result<RedisReply> r) mutable {
            if (r && r->IsError() && r->str.rfind("NOSCRIPT", 0) == 0) {
                known->store(false, std::memory_order_relaxed);
                with_sha[0] = "EVAL";
                with_sha[1] = *source;
                send(std::move(with_sha), std::move(cb));
                return;
            }
            cb(std::move(r));
        }
    );
}

}  // namespace

void Script::Run(
    RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
) const {
    EvalWithFallbackAsync(
        Build("EVALSHA", sha_, keys, args),
        source_,
        known_,
        [client = client.shared_from_this()](RedisClient::Args a, RedisClient::Callback done) {
            client->Command(std::move(a), std::move(done));
        },
        std::move(cb)
    );
}

namespace {

/// EVALSHA through `send`, then EVAL with the source if Redis does not know the script (a restart, SCRIPT FLUSH).
template <typename Send>
Result<RedisReply> EvalWithFallback(RedisClient::Args with_sha, const std::string& source, Send send) {
    Result<RedisReply> r = send(with_sha);
    if (r && r->IsError() && r->str.rfind("NOSCRIPT", 0) == 0) {
        with_sha[0] = "EVAL";
        with_sha[1] = source;
        r = send(with_sha);
    }
    return r;
}

}  // namespace

Result<RedisReply> Script::RunBlocking(
    RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args
) const {
    return EvalWithFallback(Build("EVALSHA", sha_, keys, args), *source_, [&client](const RedisClient::Args& a) {
        return client.CommandBlocking(a);
    });
}

Result<RedisReply> Script::RunBatched(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args)
    const {
    return EvalWithFallback(Build("EVALSHA", sha_, keys, args), *source_, [&client](const RedisClient::Args& a) {
        return client.BatchedBlocking(a);
    });
}

void Script::RunBatchedAsync(
    RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
) const {
    EvalWithFallbackAsync(
        Build("EVALSHA", sha_, keys, args),
        source_,
        known_,
        [client = client.shared_from_this()](RedisClient::Args a, RedisClient::Callback done) {
            client->BatchedAsync(std::move(a), std::move(done));
        },
        std::move(cb)
    );
}

Result<std::vector<RedisReply>> ZPageBlocking(
    RedisClient& client,
    const std::string& zset,
    size_t offset,
    size_t limit,
    size_t* total,
    const std::function<RedisClient::Args(const std::string&)>& fetch
) {
    Result<std::vector<RedisReply>> page = client.PipelineBlocking({
        {"ZCARD", zset},
        {"ZREVRANGE", zset, std::to_string(offset), std::to_string(offset + limit - 1)},
    });
    if (!page) return page.error();
    if ((*page)[0].IsError()) return Internal("redis: " + (*page)[0].str);
    *total = static_cast<size_t>((*page)[0].integer);
    std::vector<RedisClient::Args> fetches;
    for (const auto& id : (*page)[1].elements) fetches.push_back(fetch(id.str));
    if (fetches.empty()) return std::vector<RedisReply>{};
    return client.PipelineBlocking(std::move(fetches));
}

TriggerStore::TriggerStore(RedisClientPtr client, const Clock& clock)
    : client_(std::move(client)), clock_(clock), keys_(client_->endpoint().key_prefix) {}

namespace {

/// The emit script's ARGV for `ti`: its id, score and stream entry, then the fields of its record.
std::vector<std::string> EmitArgs(const TriggerInstance& ti, const Clock& clock) {
    std::chrono::system_clock::time_point tp;
    const int64_t score = ParseIsoTimestamp(ti.occurrence_time, &tp) ? ToMicros(tp) : ToMicros(clock.Now());
    // The stream entry is ti.ToJson().dump(), spelled out around the payload's text: the payload (a webhook's
    // headers and body) is serialized once for the entry and the record, and not copied.
    std::string payload = ti.payload.dump();
    std::string entry = "{\"id\":" + Json(ti.id).dump() + ",\"trigger\":" + Json(ti.trigger).dump() +
                        ",\"payload\":" + payload + ",\"occurrence_time\":" + Json(ti.occurrence_time).dump() +
                        ",\"status\":" + Json(ti.status).dump();
    if (!ti.trigger_parameters.empty()) entry += ",\"trigger_parameters\":" + ti.trigger_parameters.dump();
    if (!ti.trace_tag.empty()) entry += ",\"trace_tag\":" + Json(ti.trace_tag).dump();
    entry += "}";
    std::vector<std::string> args = {
        ti.id,
        std::to_string(score),
        std::move(entry),
        "id",
        ti.id,
        "trigger",
        ti.trigger,
        "payload",
        std::move(payload),
        "occurrence_time",
        ti.occurrence_time,
        "status",
        ti.status};
    if (!ti.trace_tag.empty()) {
        args.push_back("trace_tag");
        args.push_back(ti.trace_tag);
    }
    // A parameterised trigger (a webhook's url, a timer's schedule) is part of what rules match: re-emitting a
    // stored instance, or `rule test` against it, needs it.
    if (ti.trigger_parameters.is_object() && !ti.trigger_parameters.empty()) {
        args.push_back("trigger_parameters");
        args.push_back(ti.trigger_parameters.dump());
    }
    return args;
}

/// The emit script's KEYS for the instance `id`: its record, the instances' index, the triggers stream.
std::vector<std::string> EmitKeys(const Keys& keys, const std::string& id) {
    return {keys.TriggerInstance(id), keys.TriggerInstances(), keys.TriggerStream()};
}

/// The emit script's reply as the instance's id; a stored instance (a string reply, not the status reply of one
/// already there) is counted as received.
Result<std::string> EmitReply(
    RedisClient& client, const std::string& metrics, const std::string& type, Result<RedisReply> r
) {
    if (r && r->type == RedisReply::Type::kString) client.counters().Add(metrics, "received:" + type);
    return ReplyString(std::move(r));
}

}  // namespace

void TriggerStore::Emit(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb) {
    EmitScript().Run(
        *client_,
        EmitKeys(keys_, ti.id),
        EmitArgs(ti, clock_),
        [client = client_, hash = keys_.TriggerMetrics(), type = ti.trigger, cb = std::move(cb)](Result<RedisReply> r) {
            cb(EmitReply(*client, hash, type, std::move(r)));
        }
    );
}

void TriggerStore::Purge(
    int64_t cutoff_us, const PurgeCursor& from, size_t batch, std::function<void(Result<PurgeStep>)> done
) {
    static const Script kScript(kPurgeTriggerInstances);
    RunPurgeScript(
        kScript,
        *client_,
        keys_.TriggerInstances(),
        keys_.TriggerTaggedPrefix(),
        cutoff_us,
        from,
        batch,
        {},
        std::move(done)
    );
}

void TriggerStore::EmitBatched(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb) {
    EmitScript().RunBatchedAsync(
        *client_,
        EmitKeys(keys_, ti.id),
        EmitArgs(ti, clock_),
        [client = client_, hash = keys_.TriggerMetrics(), type = ti.trigger, cb = std::move(cb)](Result<RedisReply> r) {
            cb(EmitReply(*client, hash, type, std::move(r)));
        }
    );
}

Result<std::string> TriggerStore::EmitBlocking(const TriggerInstance& ti) {
    // Written with the other HTTP threads' (RedisClient::BatchedBlocking): a webhook's answer waits for this write
    // and those sent with it, not for a hand-off to the io threads, which the rules engine and the runners keep busy
    // under load.
    return EmitReply(
        *client_,
        keys_.TriggerMetrics(),
        ti.trigger,
        EmitScript().RunBatched(*client_, EmitKeys(keys_, ti.id), EmitArgs(ti, clock_))
    );
}

RedisClient::Args TriggerStore::SetStatusCommand(
    const std::string& id, const std::string& status, const std::vector<std::string>& enforcements
) const {
    RedisClient::Args out = {"HSET", keys_.TriggerInstance(id), "status", status};
    if (!enforcements.empty()) {
        std::string ids;
        for (const auto& e : enforcements) ids += (ids.empty() ? "" : ",") + e;
        out.push_back(kEnforcementsField);
        out.push_back(std::move(ids));
    }
    return out;
}

void TriggerStore::Count(const std::string& what, const std::string& trigger, int64_t n) {
    client_->counters().Add(keys_.TriggerMetrics(), what + ":" + trigger, n);
}

namespace {
Json HashToJson(const RedisReply& h, const std::vector<std::string>& json_fields) {
    Json j = Json::object();
    for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
        const std::string& k = h.elements[i].str;
        const std::string& v = h.elements[i + 1].str;
        if (k == TriggerStore::kEnforcementsField) continue;  // the rules engine's index, not the instance's
        bool is_json = std::find(json_fields.begin(), json_fields.end(), k) != json_fields.end();
        j[k] = is_json ? ParseJsonField(v) : Json(v);
    }
    return j;
}
}  // namespace

Result<Json> TriggerStore::GetBlocking(const std::string& id) {
    Result<RedisReply> r = client_->CommandBlocking({"HGETALL", keys_.TriggerInstance(id)});
    if (!r) return r.error();
    if (r->elements.empty()) return NotFound("trigger instance \"" + id + "\" not found");
    return HashToJson(*r, {"payload", "trigger_parameters"});
}

Result<std::vector<Json>> TriggerStore::ListBlocking(size_t offset, size_t limit, size_t* total) {
    std::vector<Json> out;
    if (limit == 0) return out;
    Result<std::vector<RedisReply>> rows =
        ZPageBlocking(*client_, keys_.TriggerInstances(), offset, limit, total, [this](const std::string& id) {
            return RedisClient::Args{"HGETALL", keys_.TriggerInstance(id)};
        });
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        if (!row.elements.empty()) out.push_back(HashToJson(row, {"payload", "trigger_parameters"}));
    }
    return out;
}

}  // namespace squall::core
