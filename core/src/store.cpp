#include "squall/core/store/store.hpp"

#include <future>

#include <openssl/evp.h>

#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"

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

// KEYS: 1 exec hash, 2 all zset, 3 action zset, 4 status zset, 5 stream, 6 dedupe key
// ARGV: 1 id, 2 score, 3 stream body, 4 use dedupe (0/1), 5.. field/value pairs
// Invariant: a record exists iff its request was enqueued; both or neither (one script).
const char* kCreateExecution = R"lua(
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return existing end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[6], ARGV[1], 'EX', 604800) end
redis.call('XADD', KEYS[5], '*', 'd', ARGV[3])
return ARGV[1]
)lua";

// KEYS: 1 exec hash
// ARGV: 1 id, 2 status zset prefix, 3 new status, 4 allowed (",a,b,"), 5 timestamp, 6.. field/value pairs
// Returns 1 applied, {0, current} refused, -1 missing. Status index moves with the status.
const char* kTransition = R"lua(
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if not string.find(ARGV[4], ',' .. cur .. ',', 1, true) then return {0, cur} end
local score = redis.call('ZSCORE', ARGV[2] .. cur, ARGV[1]) or redis.call('HGET', KEYS[1], 'created_us') or 0
redis.call('ZREM', ARGV[2] .. cur, ARGV[1])
redis.call('ZADD', ARGV[2] .. ARGV[3], score, ARGV[1])
local log = redis.call('HGET', KEYS[1], 'log') or '[]'
local entry = '{"timestamp":"' .. ARGV[5] .. '","status":"' .. ARGV[3] .. '"}'
if log == '[]' then log = '[' .. entry .. ']' else log = string.sub(log, 1, -2) .. ',' .. entry .. ']' end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'log', log)
if #ARGV >= 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
return 1
)lua";

// KEYS: 1 ti hash, 2 all zset, 3 stream. ARGV: 1 id, 2 score, 3 body, 4.. field/value pairs
const char* kEmitTrigger = R"lua(
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'd', ARGV[3])
return ARGV[1]
)lua";

const Script& CreateScript() {
    static const Script kScript(kCreateExecution);
    return kScript;
}
const Script& TransitionScript() {
    static const Script kScript(kTransition);
    return kScript;
}
const Script& EmitScript() {
    static const Script kScript(kEmitTrigger);
    return kScript;
}

template <typename T>
Result<T> WaitFor(std::function<void(std::function<void(Result<T>)>)> start) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start([promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future.get();
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

std::vector<std::string> CreateArgs(const NewExecution& e, const std::string& now, int64_t score) {
    const ExecutionRequest& r = e.request;
    Json context = r.context;
    std::vector<std::string> args = {
        r.execution_id,
        std::to_string(score),
        r.ToJson().dump(),
        e.dedupe_key.empty() ? "0" : "1",
        "id",
        r.execution_id,
        "status",
        status::kScheduled,
        "action",
        e.action.dump(),
        "runner_type",
        r.runner_type,
        "parameters",
        e.masked_parameters.dump(),
        "context",
        context.dump(),
        "start_timestamp",
        now,
        "created_us",
        std::to_string(score),
        "pool",
        e.pool,
        "log",
        Json::array(
            {{{"timestamp", now}, {"status", status::kRequested}}, {{"timestamp", now}, {"status", status::kScheduled}}}
        ).dump(),
    };
    if (!e.trigger_instance.is_null()) {
        args.push_back("trigger_instance");
        args.push_back(e.trigger_instance.dump());
    }
    if (!e.rule.is_null()) {
        args.push_back("rule");
        args.push_back(e.rule.dump());
    }
    return args;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha_(Sha1Hex(source_)) {}

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

void Script::Run(
    RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
) const {
    RedisClient::Args with_sha = Build("EVALSHA", sha_, keys, args);
    auto client_ptr = client.shared_from_this();
    client.Command(with_sha, [this, client_ptr, with_sha, cb = std::move(cb)](Result<RedisReply> r) mutable {
        if (r && r->IsError() && r->str.rfind("NOSCRIPT", 0) == 0) {
            with_sha[0] = "EVAL";
            with_sha[1] = source_;
            client_ptr->Command(std::move(with_sha), std::move(cb));
            return;
        }
        cb(std::move(r));
    });
}

Result<RedisReply> Script::RunBlocking(
    RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args
) const {
    RedisClient::Args with_sha = Build("EVALSHA", sha_, keys, args);
    Result<RedisReply> r = client.CommandBlocking(with_sha);
    if (r && r->IsError() && r->str.rfind("NOSCRIPT", 0) == 0) {
        with_sha[0] = "EVAL";
        with_sha[1] = source_;
        r = client.CommandBlocking(std::move(with_sha));
    }
    return r;
}

ExecutionStore::ExecutionStore(RedisClientPtr client)
    : client_(std::move(client)), keys_(client_->endpoint().key_prefix) {}

void ExecutionStore::Create(const NewExecution& e, std::function<void(Result<std::string>)> cb) {
    const auto now_tp = std::chrono::system_clock::now();
    const int64_t score = ToMicros(now_tp);
    const std::string& id = e.request.execution_id;
    CreateScript().Run(
        *client_,
        {keys_.Execution(id),
         keys_.Executions(),
         keys_.ExecutionsByAction(e.request.action_ref),
         keys_.ExecutionsByStatus(status::kScheduled),
         keys_.ExecutionStream(e.pool),
         keys_.Dedupe(e.dedupe_key.empty() ? id : e.dedupe_key)},
        CreateArgs(e, FormatIsoTimestamp(now_tp), score),
        [cb = std::move(cb)](Result<RedisReply> r) { cb(ReplyString(std::move(r))); }
    );
}

Result<std::string> ExecutionStore::CreateBlocking(const NewExecution& e) {
    return WaitFor<std::string>([&](auto done) { Create(e, std::move(done)); });
}

void ExecutionStore::Transition(
    const std::string& id,
    const std::string& to,
    const std::vector<std::string>& from,
    FieldMap fields,
    std::function<void(Result<bool>)> cb
) {
    std::string allowed = ",";
    for (const auto& f : from) allowed += f + ",";
    std::vector<std::string> args = {
        id, keys_.ExecutionsByStatusPrefix(), to, allowed, FormatIsoTimestamp(std::chrono::system_clock::now())};
    for (auto& [k, v] : fields) {
        args.push_back(std::move(k));
        args.push_back(std::move(v));
    }
    TransitionScript()
        .Run(*client_, {keys_.Execution(id)}, std::move(args), [id, cb = std::move(cb)](Result<RedisReply> r) {
            if (!r) return cb(r.error());
            if (r->IsError()) return cb(Internal("redis: " + r->str));
            if (r->type == RedisReply::Type::kInteger) {
                if (r->integer == -1) return cb(NotFound("execution " + id + " not found"));
                return cb(r->integer == 1);
            }
            cb(false);
        });
}

Result<bool> ExecutionStore::TransitionBlocking(
    const std::string& id, const std::string& to, const std::vector<std::string>& from, FieldMap fields
) {
    return WaitFor<bool>([&](auto done) { Transition(id, to, from, std::move(fields), std::move(done)); });
}

Json ExecutionStore::FromHash(const RedisReply& h) {
    std::map<std::string, std::string> f;
    for (size_t i = 0; i + 1 < h.elements.size(); i += 2) f[h.elements[i].str] = h.elements[i + 1].str;
    Json action = f.count("action") ? ParseJsonField(f["action"]) : Json::object();
    Json j = {
        {"id", f["id"]},
        {"status", f["status"]},
        {"action", action},
        {"runner", {{"name", f["runner_type"]}, {"runner_module", f["runner_type"]}}},
        {"parameters", f.count("parameters") ? ParseJsonField(f["parameters"]) : Json::object()},
        {"context", f.count("context") ? ParseJsonField(f["context"]) : Json::object()},
        {"result", f.count("result") ? ParseJsonField(f["result"]) : Json::object()},
        {"start_timestamp", f["start_timestamp"]},
        {"log", f.count("log") ? ParseJsonField(f["log"]) : Json::array()},
        {"children", Json::array()},
    };
    j["liveaction"] = {
        {"id", f["id"]},
        {"action", action.value("ref", "")},
        {"status", f["status"]},
        {"parameters", j["parameters"]},
        {"runner_info", f.count("runner_id") ? Json{{"hostname", f["runner_id"]}} : Json::object()},
    };
    if (f.count("pool")) j["pool"] = f["pool"];
    if (f.count("trigger_instance")) {
        j["trigger_instance"] = ParseJsonField(f["trigger_instance"]);
        j["trigger"] = {{"type", j["trigger_instance"].value("trigger", "")}};
        j["trigger_type"] = {{"ref", j["trigger_instance"].value("trigger", "")}};
    }
    if (f.count("rule")) j["rule"] = ParseJsonField(f["rule"]);
    if (f.count("end_timestamp") && !f["end_timestamp"].empty()) {
        j["end_timestamp"] = f["end_timestamp"];
        std::chrono::system_clock::time_point a;
        std::chrono::system_clock::time_point b;
        if (ParseIsoTimestamp(f["start_timestamp"], &a) && ParseIsoTimestamp(f["end_timestamp"], &b)) {
            j["elapsed_seconds"] = std::chrono::duration<double>(b - a).count();
        }
    }
    return j;
}

Result<Json> ExecutionStore::GetBlocking(const std::string& id) {
    Result<RedisReply> r = client_->CommandBlocking({"HGETALL", keys_.Execution(id)});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->elements.empty()) return NotFound("execution \"" + id + "\" not found");
    return FromHash(*r);
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

Result<std::vector<Json>> ExecutionStore::ListBlocking(
    const std::string& action, const std::string& status, size_t offset, size_t limit, size_t* total
) {
    std::vector<Json> out;
    if (limit == 0) return out;
    auto fetch = [this](const std::string& id) { return RedisClient::Args{"HGETALL", keys_.Execution(id)}; };
    if (!action.empty() && !status.empty()) {
        // Both filters: walk the action's index newest first and keep those in the status. Bounded by the
        // action's history, which the per-action index keeps small relative to the whole.
        Result<RedisReply> ids = client_->CommandBlocking({"ZREVRANGE", keys_.ExecutionsByAction(action), "0", "-1"});
        if (!ids) return ids.error();
        std::vector<RedisClient::Args> scores;
        for (const auto& id : ids->elements) scores.push_back({"ZSCORE", keys_.ExecutionsByStatus(status), id.str});
        if (scores.empty()) {
            *total = 0;
            return out;
        }
        Result<std::vector<RedisReply>> in_status = client_->PipelineBlocking(std::move(scores));
        if (!in_status) return in_status.error();
        std::vector<std::string> matched;
        for (size_t i = 0; i < in_status->size(); ++i) {
            if (!(*in_status)[i].IsNil()) matched.push_back(ids->elements[i].str);
        }
        *total = matched.size();
        std::vector<RedisClient::Args> fetches;
        for (size_t i = offset; i < matched.size() && fetches.size() < limit; ++i) fetches.push_back(fetch(matched[i]));
        if (fetches.empty()) return out;
        Result<std::vector<RedisReply>> rows = client_->PipelineBlocking(std::move(fetches));
        if (!rows) return rows.error();
        for (const auto& row : *rows) {
            if (!row.elements.empty()) out.push_back(FromHash(row));
        }
        return out;
    }
    const std::string zset = !action.empty()   ? keys_.ExecutionsByAction(action)
                             : !status.empty() ? keys_.ExecutionsByStatus(status)
                                               : keys_.Executions();
    Result<std::vector<RedisReply>> rows = ZPageBlocking(*client_, zset, offset, limit, total, fetch);
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        if (!row.elements.empty()) out.push_back(FromHash(row));
    }
    return out;
}

Result<std::vector<Json>> ExecutionStore::OutputBlocking(const std::string& id) {
    Result<RedisReply> r = client_->CommandBlocking({"LRANGE", keys_.Output(id), "0", "-1"});
    if (!r) return r.error();
    std::vector<Json> out;
    for (const auto& e : r->elements) out.push_back(ParseJsonField(e.str));
    return out;
}

void ExecutionStore::AppendOutput(const std::string& id, const std::vector<std::string>& json_lines) {
    if (json_lines.empty()) return;
    RedisClient::Args args = {"RPUSH", keys_.Output(id)};
    args.insert(args.end(), json_lines.begin(), json_lines.end());
    client_->Command(std::move(args), [id](Result<RedisReply> r) {
        if (!r || r->IsError()) {
            Log(*Logger("store"),
                spdlog::level::warn,
                "cannot store execution output",
                {{"execution_id", id}, {"error", r ? r->str : r.error().message}});
        }
    });
}

TriggerStore::TriggerStore(RedisClientPtr client) : client_(std::move(client)), keys_(client_->endpoint().key_prefix) {}

void TriggerStore::Emit(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb) {
    std::chrono::system_clock::time_point tp;
    const int64_t score =
        ParseIsoTimestamp(ti.occurrence_time, &tp) ? ToMicros(tp) : ToMicros(std::chrono::system_clock::now());
    std::vector<std::string> args = {
        ti.id,
        std::to_string(score),
        ti.ToJson().dump(),
        "id",
        ti.id,
        "trigger",
        ti.trigger,
        "payload",
        ti.payload.dump(),
        "occurrence_time",
        ti.occurrence_time,
        "status",
        ti.status};
    if (!ti.trace_tag.empty()) {
        args.push_back("trace_tag");
        args.push_back(ti.trace_tag);
    }
    EmitScript().Run(
        *client_,
        {keys_.TriggerInstance(ti.id), keys_.TriggerInstances(), keys_.TriggerStream()},
        std::move(args),
        [cb = std::move(cb)](Result<RedisReply> r) { cb(ReplyString(std::move(r))); }
    );
}

Result<std::string> TriggerStore::EmitBlocking(const TriggerInstance& ti) {
    return WaitFor<std::string>([&](auto done) { Emit(ti, std::move(done)); });
}

RedisClient::Args TriggerStore::SetStatusCommand(const std::string& id, const std::string& status) const {
    return {"HSET", keys_.TriggerInstance(id), "status", status};
}

namespace {
Json HashToJson(const RedisReply& h, const std::vector<std::string>& json_fields) {
    Json j = Json::object();
    for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
        const std::string& k = h.elements[i].str;
        const std::string& v = h.elements[i + 1].str;
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
    return HashToJson(*r, {"payload"});
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
        if (!row.elements.empty()) out.push_back(HashToJson(row, {"payload"}));
    }
    return out;
}

std::vector<RedisClient::Args> TriggerStore::EnforcementCommands(const Json& e) const {
    const std::string id = e.at("id");
    RedisClient::Args hset = {"HSET", keys_.Enforcement(id)};
    for (const auto& [k, v] : e.items()) {
        hset.push_back(k);
        hset.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    const std::string score = std::to_string(ToMicros(std::chrono::system_clock::now()));
    return {
        hset,
        {"ZADD", keys_.Enforcements(), score, id},
        {"ZADD", keys_.Enforcements() + ":ti:" + e.value("trigger_instance_id", ""), score, id},
    };
}

Result<std::vector<Json>> TriggerStore::ListEnforcementsBlocking(
    const std::string& trigger_instance, size_t offset, size_t limit, size_t* total
) {
    std::vector<Json> out;
    if (limit == 0) return out;
    const std::string zset =
        trigger_instance.empty() ? keys_.Enforcements() : keys_.Enforcements() + ":ti:" + trigger_instance;
    Result<std::vector<RedisReply>> rows =
        ZPageBlocking(*client_, zset, offset, limit, total, [this](const std::string& id) {
            return RedisClient::Args{"HGETALL", keys_.Enforcement(id)};
        });
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        if (!row.elements.empty()) out.push_back(HashToJson(row, {"rule"}));
    }
    return out;
}

}  // namespace squall::core
