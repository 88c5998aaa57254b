#include "squall/executions/store.hpp"

#include <algorithm>
#include <future>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>

#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/policies.hpp"
#include "squall/executions/status.hpp"
#include "squall/packs/content_store.hpp"

namespace squall::executions {
namespace {

using core::RedisClient;
using core::RedisReply;

// KEYS: 1 exec hash, 2 all zset, 3 action zset, 4 status zset (of the settled status when settled), 5 request
//       stream, 6 dedupe key, 7 event stream, 8 the parent's children list (KEYS[1] when there is no parent), 9 the
//       facet zset of a rule's execution (Keys::Facet; KEYS[1] when not created by a rule), 10 the trigger type's
//       and 11 the user's zset of an execution without a rule (each KEYS[1] otherwise, or when it has none), 12 the
//       per-(action, status) zset of the settled status (KEYS[1] unless settled), 13 notify stream, 14 set of the
//       trigger types rules listen to, 15 the set of facets (the facet's name is added to it), 16 the event
//       listeners' flag (Keys::EventListeners: the events go to KEYS[7] only while it exists), 17 the index of
//       executions that have a parent (Keys::WithParent; written only for them: `parent=null` lists skip them)
// ARGV: 1 id, 2 score, 3 request body ('' when settled: nothing to run), 4 use dedupe (0/1), 5 event body, 6 and 7
//       the `running` and final status events of a settled execution ('' otherwise), 8 '1' when its action notifies,
//       9.. field/value pairs
// Invariants: a record exists iff its request was enqueued (or it was settled) and, while an API process listens
// (KEYS[16]), its create event appended (one script). With ARGV[4] '1' (an idempotency key: the id is derived from it,
// KeyedExecutionId) a record already there answers its id as a status reply and nothing is written; so does a dedupe
// key KEYS[6] left by an earlier version, which stored key → id for 7 days (read until those have expired). (The
// per-(action, status) index holds final statuses only: see ListBlocking.) A settled execution (NewExecution::settled:
// core.noop) is created ended, with the indexes, events and notification its claim and end would have left
// (kTransitionBody); no request is queued. The /metrics counters are not kept here: ExecutionStore::Create counts in
// memory (core::DeferredCounters), flushed once a second.
const char* kCreateBody = R"lua(
if ARGV[4] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return redis.status_reply(ARGV[1]) end
  local existing = redis.call('GET', KEYS[6])
  if existing then return redis.status_reply(existing) end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
if KEYS[9] ~= KEYS[1] then
  redis.call('ZADD', KEYS[9], ARGV[2], ARGV[1])
  redis.call('SADD', KEYS[15], KEYS[9])
end
if KEYS[10] ~= KEYS[1] then redis.call('ZADD', KEYS[10], ARGV[2], ARGV[1]) end
if KEYS[11] ~= KEYS[1] then redis.call('ZADD', KEYS[11], ARGV[2], ARGV[1]) end
if KEYS[8] ~= KEYS[1] then
  redis.call('RPUSH', KEYS[8], ARGV[1])
  redis.call('ZADD', KEYS[17], ARGV[2], ARGV[1])
end
if ARGV[3] ~= '' then redis.call('XADD', KEYS[5], '*', 'd', ARGV[3]) end
local streamed = redis.call('EXISTS', KEYS[16]) == 1
if streamed then redis.call('XADD', KEYS[7], '*', 'd', ARGV[5]) end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[12], ARGV[2], ARGV[1])
  if streamed then
    redis.call('XADD', KEYS[7], '*', 'd', ARGV[6])
    redis.call('XADD', KEYS[7], '*', 'd', ARGV[7])
  end
  if ARGV[8] == '1' or redis.call('SISMEMBER', KEYS[14], A) == 1 then redis.call('XADD', KEYS[13], '*', 'd', ARGV[7]) end
end
return ARGV[1]
)lua";

// KEYS: 1 exec hash, 2 event stream, 3 notify stream, 4 set of the trigger types rules listen to, 5 workflow
//       event stream, 6 the event listeners' flag (the events go to KEYS[2] only while it exists)
// ARGV: 1 id, 2 tagged key prefix, 3 new status ("via>to": through `via` to `to` in one step, TransitionVia),
//       4 only-from filter (",a,b," or ""), 5 timestamp, 6.. fields
// Returns {1, previous, runner, M...} applied, {0, current, runner} refused, {0, the status it went to instead, '',
// M...} redirected by a concurrency policy, {-1} missing; M is what the /metrics counters need, read with the
// status at no extra cost: runner type, created_us, running_us, trigger_us ('' when absent). The status machine is the
// string T (",from>to,..."), generated from status.cpp; a status that is no edge's `from` is final. The status
// indexes move with the status; the event is appended in the same step (while an API process listens: KEYS[6]), so
// a consumer of the stream never misses a change and never sees one that did not happen. A final event is also queued
// for the notifier when something listens: the record's `notify` (its action has notify) or a rule on the action
// trigger (constant A). The per-(action, status) index holds final statuses only (an execution enters it once, when it
// ends): queries for an in-flight status read the status index, which holds only the work in flight (ListBlocking). The
// workflow engine gets its events the same way: a task's (an execution with a parent) final, `pending` (an inquiry) and
// `paused` (a subworkflow) events, and a workflow's (pool `workflow`) cancel, pause and resume.
const char* kTransitionBody = R"lua(
local h = redis.call('HMGET', KEYS[1], 'status', 'action_ref', 'created_us', 'parent', 'runner_id', 'log', 'notify',
  'pool', 'conc', 'runner_type', 'running_us', 'trigger_us')
local cur = h[1]
if not cur then return {-1} end
local to, via = ARGV[3], nil
local runner = h[5] or ''
local gt = string.find(to, '>', 1, true)
if gt then
  via, to = string.sub(to, 1, gt - 1), string.sub(to, gt + 1)
  if h[9] then return redis.error_reply('execution ' .. ARGV[1] .. ' has a concurrency policy: one status at a time') end
  if not string.find(T, ',' .. cur .. '>' .. via .. ',', 1, true) or
     not string.find(T, ',' .. via .. '>' .. to .. ',', 1, true) then return {0, cur, runner} end
elseif not string.find(T, ',' .. cur .. '>' .. to .. ',', 1, true) then return {0, cur, runner} end
if ARGV[4] ~= '' and not string.find(ARGV[4], ',' .. cur .. ',', 1, true) then return {0, cur, runner} end
local p = ARGV[2]
local conc, redirected, extra = h[9], false, nil
if conc then
  -- A concurrency policy ("threshold|delay or cancel|slot"): a claim past the threshold of running executions in
  -- the slot is delayed (its request, field _request, kept for later) or canceled instead; a claim within it
  -- joins the slot. Counted here, atomically with the claim, whichever runner process claims.
  local th, act, slot = string.match(conc, '^(%d+)|(%a+)|(.+)$')
  extra = {}
  if to == 'running' and redis.call('SCARD', p .. 'conc:' .. slot) >= tonumber(th) then
    redirected = true
    if act == 'cancel' then
      to = 'canceled'
      extra = {'result', cjson.encode({error='canceled by policy: ' .. th .. ' concurrent executions at most'}),
        'end_timestamp', ARGV[5]}
    else
      to = 'delayed'
      for i = 6, #ARGV, 2 do
        if ARGV[i] == '_request' then redis.call('SET', p .. 'delayedreq:' .. ARGV[1], ARGV[i + 1], 'EX', 604800) end
      end
      redis.call('RPUSH', p .. 'conc:' .. slot .. ':delayed', ARGV[1])
    end
  else
    if to == 'running' then redis.call('SADD', p .. 'conc:' .. slot, ARGV[1]) end
    for i = 6, #ARGV, 2 do
      if ARGV[i] ~= '_request' then
        extra[#extra + 1] = ARGV[i]
        extra[#extra + 1] = ARGV[i + 1]
      end
    end
  end
end
local score = h[3] or '0'
redis.call('ZREM', p .. 'executions:status:' .. cur, ARGV[1])
redis.call('ZADD', p .. 'executions:status:' .. to, score, ARGV[1])
local action = h[2] or ''
local final = not string.find(T, ',' .. to .. '>', 1, true)
if final and action ~= '' then
  redis.call('ZADD', p .. 'executions:action:' .. action .. ':status:' .. to, score, ARGV[1])
end
local log = h[6] or '[]'
local entry = '{"timestamp":"' .. ARGV[5] .. '","status":"' .. to .. '"}'
if via then entry = '{"timestamp":"' .. ARGV[5] .. '","status":"' .. via .. '"},' .. entry end
if log == '[]' then log = '[' .. entry .. ']' else log = string.sub(log, 1, -2) .. ',' .. entry .. ']' end
if extra then
  redis.call('HSET', KEYS[1], 'status', to, 'log', log, unpack(extra))
else
  redis.call('HSET', KEYS[1], 'status', to, 'log', log, unpack(ARGV, 6))
end
for i = 6, #ARGV, 2 do
  if ARGV[i] == 'runner_id' and not redirected then runner = ARGV[i + 1] end
end
local streamed = redis.call('EXISTS', KEYS[6]) == 1
if via then
  if streamed then
    redis.call('XADD', KEYS[2], '*', 'd', cjson.encode({kind='status', execution_id=ARGV[1], from=cur, to=via,
      at=ARGV[5], action=action, parent=h[4] or '', runner=runner}))
  end
  cur = via
end
local event = nil
local function encoded()
  if not event then
    event = cjson.encode({kind='status', execution_id=ARGV[1], from=cur, to=to, at=ARGV[5], action=action,
      parent=h[4] or '', runner=runner})
  end
  return event
end
if streamed then redis.call('XADD', KEYS[2], '*', 'd', encoded()) end
if final and (h[7] == '1' or redis.call('SISMEMBER', KEYS[4], A) == 1) then
  redis.call('XADD', KEYS[3], '*', 'd', encoded())
end
if ((final or to == 'pending' or to == 'paused') and (h[4] or '') ~= '') or
   (h[8] == 'workflow' and (to == 'canceling' or to == 'canceled' or to == 'pausing' or to == 'resuming')) then
  redis.call('XADD', KEYS[5], '*', 'd', encoded())
end
if final and conc and redis.call('SREM', p .. 'conc:' .. string.match(conc, '^%d+|%a+|(.+)$'), ARGV[1]) == 1 then
  -- A place in the slot is free: the oldest delayed execution still delayed goes back to scheduled, its request
  -- back on its pool's stream (it claims its place like any other).
  local q = p .. 'conc:' .. string.match(conc, '^%d+|%a+|(.+)$') .. ':delayed'
  while true do
    local nid = redis.call('LPOP', q)
    if not nid then break end
    local body = redis.call('GET', p .. 'delayedreq:' .. nid)
    redis.call('DEL', p .. 'delayedreq:' .. nid)
    local d = redis.call('HMGET', p .. 'exec:' .. nid, 'status', 'pool', 'created_us', 'log', 'action_ref', 'parent')
    if body and d[1] == 'delayed' then
      redis.call('ZREM', p .. 'executions:status:delayed', nid)
      redis.call('ZADD', p .. 'executions:status:scheduled', d[3] or '0', nid)
      local dl, de = d[4] or '[]', '{"timestamp":"' .. ARGV[5] .. '","status":"scheduled"}'
      if dl == '[]' then dl = '[' .. de .. ']' else dl = string.sub(dl, 1, -2) .. ',' .. de .. ']' end
      redis.call('HSET', p .. 'exec:' .. nid, 'status', 'scheduled', 'log', dl)
      if streamed then
        redis.call('XADD', KEYS[2], '*', 'd', cjson.encode({kind='status', execution_id=nid, from='delayed',
          to='scheduled', at=ARGV[5], action=d[5] or '', parent=d[6] or '', runner=''}))
      end
      redis.call('XADD', p .. 'stream:executions:' .. (d[2] or 'default'), '*', 'd', body)
      break
    end
  end
end
if redirected then return {0, to, '', h[10] or '', score, h[11] or '', h[12] or ''} end
return {1, h[1], runner, h[10] or '', score, h[11] or '', h[12] or ''}
)lua";

// KEYS: 1 output list, 2 event stream, 3 the event listeners' flag (the event goes to KEYS[2] only while it exists).
// ARGV: 1 event body, 2.. lines
const char* kAppendOutput = R"lua(
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('XADD', KEYS[2], '*', 'd', ARGV[1]) end
return 1
)lua";

// KEYS: 1 the executions' sorted set (all). ARGV: 1 tagged prefix, 2-5 cursor, cutoff, skip, batch
// (core::RunPurgeScript),
//       6 the final statuses (",a,b,"), 7 "1": the whole record, "0": only its output.
// An execution is removed only when it has ended and so has its parent, if any (a running workflow still reads its
// tasks); its record, output, children list and every index entry go together. An index entry whose record is gone
// is dropped.
const char* kPurgeExecutions = R"lua(
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'WITHSCORES', 'LIMIT', tonumber(ARGV[4]),
  tonumber(ARGV[5]))
local p, F, whole, deleted, last, left = ARGV[1], ARGV[6], ARGV[7] == '1', 0, '', 0
local function final(s) return s and string.find(F, ',' .. s .. ',', 1, true) ~= nil end
for i = 1, #rows, 2 do
  local id = rows[i]
  if rows[i + 1] ~= last then last, left = rows[i + 1], 0 end
  local h = redis.call('HMGET', p .. 'exec:' .. id, 'status', 'action_ref', 'parent', 'rule_ref', 'trigger_type',
    'user')
  local st, action, parent = h[1], h[2] or '', h[3] or ''
  local removed = false
  if not st then
    if whole then
      redis.call('ZREM', KEYS[1], id)
      removed = true
    end
  elseif final(st) and not whole then
    deleted = deleted + redis.call('DEL', p .. 'out:' .. id)
  elseif final(st) then
    local parent_status = parent ~= '' and redis.call('HGET', p .. 'exec:' .. parent, 'status') or false
    if not parent_status or final(parent_status) then
      redis.call('DEL', p .. 'exec:' .. id, p .. 'out:' .. id, p .. 'children:' .. id)
      redis.call('ZREM', KEYS[1], id)
      if parent ~= '' then redis.call('ZREM', p .. 'executions:with-parent', id) end
      redis.call('ZREM', p .. 'executions:status:' .. st, id)
      if action ~= '' then
        redis.call('ZREM', p .. 'executions:action:' .. action, id)
        redis.call('ZREM', p .. 'executions:action:' .. action .. ':status:' .. st, id)
      end
      if h[4] then
        local facet = p .. 'executions:facet:' .. h[4] .. '|' .. (h[5] or '') .. '|' .. (h[6] or '')
        redis.call('ZREM', facet, id)
        -- An emptied facet leaves the set that filters read (a create adds it back with its next execution).
        if redis.call('EXISTS', facet) == 0 then redis.call('SREM', p .. 'executions:facets', facet) end
        redis.call('ZREM', p .. 'executions:rule:' .. h[4], id)
      end
      if h[5] then redis.call('ZREM', p .. 'executions:trigger:' .. h[5], id) end
      if h[6] then redis.call('ZREM', p .. 'executions:user:' .. h[6], id) end
      removed = true
    end
  end
  if removed then deleted = deleted + 1 else left = left + 1 end
end
return {deleted, #rows / 2, last, left}
)lua";

std::string FinalStatuses() {
    std::string out = ",";
    for (const auto& s : core::status::All()) {
        if (core::status::IsCompleted(s)) out += s + ",";
    }
    return out;
}

const core::Script& CreateScript() {
    static const core::Script kScript(std::string("local A = '") + kActionTriggerType + "'\n" + kCreateBody);
    return kScript;
}
const core::Script& TransitionScript() {
    static const core::Script kScript(
        "local T = " + TransitionsAsLuaString() + "\nlocal A = '" + kActionTriggerType + "'\n" + kTransitionBody
    );
    return kScript;
}
const core::Script& OutputScript() {
    static const core::Script kScript(kAppendOutput);
    return kScript;
}

/// An action with a non-empty `notify` (StackStorm's notify: on-complete / on-success / on-failure).
bool ActionNotifies(const Json& action) {
    auto it = action.find("notify");
    return it != action.end() && it->is_object() && !it->empty();
}

Json ParseJsonField(const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    return j.is_discarded() ? Json(text) : j;
}

std::string Dump(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// Who an execution belongs to: its `context.user` ("" when there is none).
std::string ContextUser(const Json& context) {
    if (!context.is_object()) return {};
    auto it = context.find("user");
    return it != context.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// The ref of the rule that created `e` and the trigger type of the instance it matched ("" otherwise): the keys of
/// the executions' rule and trigger indexes.
std::string RuleRefOf(const NewExecution& e) {
    return e.rule.is_object() && e.rule.contains("ref") && e.rule["ref"].is_string() ? e.rule["ref"].get<std::string>()
                                                                                     : std::string();
}
std::string TriggerTypeOf(const NewExecution& e) {
    const Json& ti = e.trigger_instance;
    return ti.is_object() && ti.contains("trigger") && ti["trigger"].is_string() ? ti["trigger"].get<std::string>()
                                                                                 : std::string();
}

/// Appends `s` as a JSON string, as Dump writes it: quoted as it is when every byte is printable ASCII other than a
/// quote or a backslash (ids, statuses, times, refs: every value on the hot path), through the serializer otherwise.
void AppendJsonString(std::string& out, std::string_view s) {
    const bool plain =
        std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (!plain) {
        out += Dump(Json(std::string(s)));
        return;
    }
    out += '"';
    out += s;
    out += '"';
}

/// An event of execution `e` as the scripts write them (kind `create`, or `status` as kTransitionBody writes it),
/// spelled out: three of them per settled execution went through a JSON tree each.
std::string EventBody(
    const NewExecution& e,
    const char* kind,
    const std::string& from,
    const std::string& to,
    const std::string& at,
    const std::string& runner
) {
    std::string out;
    out.reserve(160 + e.request.action_ref.size() + e.parent.size() + runner.size());
    const std::pair<const char*, std::string_view> fields[] = {
        {"{\"kind\":", kind},
        {",\"execution_id\":", e.request.execution_id},
        {",\"from\":", from},
        {",\"to\":", to},
        {",\"at\":", at},
        {",\"action\":", e.request.action_ref},
        {",\"parent\":", e.parent},
        {",\"runner\":", runner},
    };
    for (const auto& [name, value] : fields) {
        out += name;
        AppendJsonString(out, value);
    }
    out += '}';
    return out;
}

/// A new execution's log: {timestamp, status} of requested and scheduled (and of running and `settled` when it is
/// created ended), all at `now`.
std::string CreationLog(const std::string& now, const std::string& settled) {
    std::string out = "[";
    for (const std::string_view status :
         {std::string_view(core::status::kRequested),
          std::string_view(core::status::kScheduled),
          std::string_view(settled.empty() ? "" : core::status::kRunning),
          std::string_view(settled)}) {
        if (status.empty()) continue;
        if (out.size() > 1) out += ',';
        out += "{\"timestamp\":";
        AppendJsonString(out, now);
        out += ",\"status\":";
        AppendJsonString(out, status);
        out += '}';
    }
    out += ']';
    return out;
}

std::vector<std::string> CreateArgs(const NewExecution& e, const std::string& now, int64_t score) {
    const core::ExecutionRequest& r = e.request;
    const core::ExecutionResult* settled = e.settled ? &*e.settled : nullptr;
    std::vector<std::string> args = {
        r.execution_id,
        std::to_string(score),
        settled ? std::string() : Dump(r.ToJson()),
        e.dedupe_key.empty() ? "0" : "1",
        EventBody(e, event_kind::kCreate, "", core::status::kScheduled, now, ""),
        settled ? EventBody(e, event_kind::kStatus, core::status::kScheduled, core::status::kRunning, now, e.settled_by)
                : std::string(),
        settled ? EventBody(e, event_kind::kStatus, core::status::kRunning, settled->status, now, e.settled_by)
                : std::string(),
        ActionNotifies(e.action) ? "1" : "0",
        "id",
        r.execution_id,
        "status",
        settled ? settled->status : core::status::kScheduled,
        "action",
        e.action_text.empty() ? Dump(e.action) : e.action_text,
        "action_ref",
        r.action_ref,
        "runner_type",
        r.runner_type,
        "parameters",
        Dump(e.masked_parameters),
        "given_parameters",
        Dump(e.given_parameters),
        "context",
        Dump(r.context),
        "start_timestamp",
        now,
        "created_us",
        std::to_string(score),
        "pool",
        e.pool,
        "notify",
        ActionNotifies(e.action) ? "1" : "0",
        "log",
        CreationLog(now, settled ? settled->status : std::string()),
    };
    if (settled) {
        args.insert(
            args.end(), {"result", Dump(settled->result), "end_timestamp", now, "running_us", std::to_string(score)}
        );
        if (!e.settled_by.empty()) {
            args.push_back("runner_id");
            args.push_back(e.settled_by);
        }
    }
    if (!e.parent.empty()) {
        args.push_back("parent");
        args.push_back(e.parent);
    }
    if (const Json* c_ptr = RequestPolicy(r, "concurrency")) {
        // The transition script counts claims in the slot (kTransitionBody): "threshold|action|slot".
        const Json& c = *c_ptr;
        args.push_back("conc");
        args.push_back(
            std::to_string(c.value("threshold", 0)) + "|" + c.value("action", "delay") + "|" + c.value("slot", "")
        );
    }
    if (!e.trigger_instance.is_null()) {
        args.push_back("trigger_instance");
        args.push_back(Dump(e.trigger_instance));
        if (const std::string type = TriggerTypeOf(e); !type.empty()) {
            args.push_back("trigger_type");  // for the purge, which removes the index entry (not shown by the API)
            args.push_back(type);
        }
    }
    if (!e.rule.is_null()) {
        args.push_back("rule");
        args.push_back(Dump(e.rule));
        if (const std::string ref = RuleRefOf(e); !ref.empty()) {
            args.push_back("rule_ref");
            args.push_back(ref);
        }
    }
    if (e.trigger_us > 0) {
        args.push_back("trigger_us");
        args.push_back(std::to_string(e.trigger_us));
    }
    if (const std::string user = ContextUser(r.context); !user.empty()) {
        args.push_back("user");
        args.push_back(user);
    }
    return args;
}

Result<std::string> ReplyString(Result<RedisReply> r) {
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->type == RedisReply::Type::kInteger) return std::to_string(r->integer);
    return r->str;
}

/// A µs field the transition script returned ('' when absent: -1).
int64_t MicrosOf(const RedisReply& r) {
    if (r.str.empty()) return -1;
    try {
        return std::stoll(r.str);
    } catch (const std::exception&) {
        return -1;
    }
}

/// One execution created (ExecutionStore::Create's reply): by runner type, and its trigger→scheduled latency (-1:
/// no trigger).
void CountCreated(
    core::DeferredCounters& counters, const std::string& hash, const std::string& runner_type, int64_t latency_us
) {
    counters.Add(hash, "created:" + runner_type);
    if (latency_us >= 0) LatencyHistograms::Observe(counters, hash, "trigger_scheduled", latency_us);
}

/// A settled execution (NewExecution::settled) as its claim and end would have counted it (CountTransition): it ran
/// 0 µs, and was claimed as it was created.
void CountSettled(
    core::DeferredCounters& counters,
    const std::string& hash,
    const std::string& runner_type,
    const std::string& status,
    int64_t trigger_latency_us
) {
    LatencyHistograms::Observe(counters, hash, "scheduled_running", 0);
    counters.Add(hash, "ended:" + runner_type + ":" + status);
    LatencyHistograms::Observe(counters, hash, "running_done", 0);
    if (trigger_latency_us >= 0) LatencyHistograms::Observe(counters, hash, "trigger_done", trigger_latency_us);
}

/// One transition from `from` ("" when a policy redirected it) to `to`, with the transition script's reply r:
/// {code, status, runner, runner type, created_us, running_us, trigger_us} (kTransitionBody).
void CountTransition(
    core::DeferredCounters& counters,
    const std::string& hash,
    const std::string& from,
    const std::string& to,
    int64_t now_us,
    const RedisReply& r
) {
    if (to == core::status::kRunning && from == core::status::kScheduled) {
        if (const int64_t created = MicrosOf(r.elements[4]); created >= 0)
            LatencyHistograms::Observe(counters, hash, "scheduled_running", now_us - created);
    }
    if (!IsFinal(to)) return;
    counters.Add(hash, "ended:" + r.elements[3].str + ":" + to);
    if (const int64_t running = MicrosOf(r.elements[5]); running >= 0)
        LatencyHistograms::Observe(counters, hash, "running_done", now_us - running);
    if (const int64_t trigger = MicrosOf(r.elements[6]); trigger >= 0)
        LatencyHistograms::Observe(counters, hash, "trigger_done", now_us - trigger);
}

}  // namespace

std::string KeyedExecutionId(const std::string& key, const std::string& time_of) {
    const std::string hash = core::Sha256Hex("execution:" + key);
    const bool timed = time_of.size() >= 8 && std::all_of(time_of.begin(), time_of.begin() + 8, [](char c) {
                           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                       });
    return (timed ? time_of.substr(0, 8) : hash.substr(16, 8)) + hash.substr(0, 16);
}

void LatencyHistograms::Observe(
    core::DeferredCounters& counters, const std::string& hash, const char* stage, int64_t micros
) {
    if (micros < 0) micros = 0;
    size_t i = 0;
    while (i < kBuckets.size() && static_cast<double>(micros) > kBuckets[i] * 1e6) ++i;
    const std::string base = std::string("lat:") + stage + ":";
    counters.Add(hash, base + std::to_string(i + 1), 1);
    counters.Add(hash, base + "sum_us", micros);
}

Error RefusedTransition(const std::string& id, const std::string& from, const std::string& to) {
    return Error(ErrorCode::kFailedPrecondition, "execution \"" + id + "\" cannot go from " + from + " to " + to);
}

Result<ExecutionEvent> ExecutionEvent::Parse(const std::string& body) {
    Json j = Json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("execution_id") || !j["execution_id"].is_string())
        return InvalidArgument("execution event: not an object with a string execution_id");
    ExecutionEvent e;
    auto str = [&j](const char* k) {
        auto it = j.find(k);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    e.kind = str("kind");
    e.execution_id = str("execution_id");
    e.from = str("from");
    e.to = str("to");
    e.at = str("at");
    e.action = str("action");
    e.parent = str("parent");
    e.runner = str("runner");
    if (j.contains("lines")) e.lines = j["lines"];
    return e;
}

ExecutionStore::ExecutionStore(core::RedisClientPtr client, const core::Clock& clock)
    : client_(std::move(client)),
      clock_(clock),
      keys_(client_->endpoint().key_prefix),
      listened_(packs::ContentKeys(client_->endpoint().key_prefix).ListenedTriggerTypes()) {}

void ExecutionStore::Create(const NewExecution& e, std::function<void(Result<std::string>)> cb) {
    const auto now_tp = clock_.Now();
    const int64_t score = core::ToMicros(now_tp);
    const std::string& id = e.request.execution_id;
    const std::string& ref = e.request.action_ref;
    const std::string user = ContextUser(e.request.context);
    const std::string rule = RuleRefOf(e), trigger = TriggerTypeOf(e);
    const std::string status = e.settled ? e.settled->status : std::string(core::status::kScheduled);
    CreateScript().Run(
        *client_,
        {keys_.Execution(id),
         keys_.All(),
         keys_.ByAction(ref),
         keys_.ByStatus(status),
         keys_.RequestStream(e.pool),
         keys_.Dedupe(e.dedupe_key.empty() ? id : e.dedupe_key),
         keys_.Events(),
         e.parent.empty() ? keys_.Execution(id) : keys_.Children(e.parent),
         // A rule's execution: its facet, in place of the rule's, trigger type's and user's indexes.
         rule.empty() ? keys_.Execution(id) : keys_.Facet(rule, trigger, user),
         !rule.empty() || trigger.empty() ? keys_.Execution(id) : keys_.ByTrigger(trigger),
         !rule.empty() || user.empty() ? keys_.Execution(id) : keys_.ByUser(user),
         e.settled ? keys_.ByActionStatus(ref, status) : keys_.Execution(id),
         keys_.Notify(),
         listened_,
         keys_.FacetSet(),
         keys_.EventListeners(),
         keys_.WithParent()},
        CreateArgs(e, core::FormatIsoTimestamp(now_tp), score),
        [client = client_,
         metrics = keys_.Metrics(),
         id,
         runner = e.request.runner_type,
         settled = e.settled ? status : std::string(),
         latency = e.trigger_us > 0 ? score - e.trigger_us : int64_t{-1},
         cb = std::move(cb)](Result<RedisReply> r) {
            // A record already there (created under the same key before) answers its id as a status reply:
            // nothing was created, nothing is counted.
            const bool stored = r && r->type == RedisReply::Type::kString;
            Result<std::string> created = ReplyString(std::move(r));
            if (created && stored) {
                CountCreated(client->counters(), metrics, runner, latency);
                if (!settled.empty()) CountSettled(client->counters(), metrics, runner, settled, latency);
            }
            cb(std::move(created));
        }
    );
}

Result<std::string> ExecutionStore::CreateBlocking(const NewExecution& e) {
    return core::WaitForCallback<std::string>([&](auto done) { Create(e, std::move(done)); });
}

void ExecutionStore::Transition(
    const std::string& id,
    const std::string& to,
    FieldMap fields,
    std::function<void(Result<TransitionResult>)> cb,
    const std::vector<std::string>& only_from
) {
    TransitionVia(id, "", to, std::move(fields), std::move(cb), only_from);
}

void ExecutionStore::TransitionVia(
    const std::string& id,
    const std::string& via,
    const std::string& to,
    FieldMap fields,
    std::function<void(Result<TransitionResult>)> cb,
    const std::vector<std::string>& only_from
) {
    std::string filter;
    if (!only_from.empty()) {
        filter = ",";
        for (const auto& f : only_from) filter += f + ",";
    }
    const auto now = clock_.Now();
    const int64_t now_us = core::ToMicros(now);
    std::vector<std::string> args = {
        id, keys_.tagged_prefix(), via.empty() ? to : via + ">" + to, filter, core::FormatIsoTimestamp(now)};
    for (auto& [k, v] : fields) {
        args.push_back(std::move(k));
        args.push_back(std::move(v));
    }
    if (to == core::status::kRunning || via == core::status::kRunning) {
        // The start of the running→done latency (/metrics), read back by the final transition.
        args.push_back("running_us");
        args.push_back(std::to_string(now_us));
    }
    TransitionScript().Run(
        *client_,
        {keys_.Execution(id),
         keys_.Events(),
         keys_.Notify(),
         listened_,
         keys_.WorkflowEvents(),
         keys_.EventListeners()},
        std::move(args),
        [client = client_, metrics = keys_.Metrics(), id, via, to, now_us, cb = std::move(cb)](Result<RedisReply> r) {
            if (!r) return cb(r.error());
            if (r->IsError()) return cb(Internal("redis: " + r->str));
            if (r->type != RedisReply::Type::kArray || r->elements.empty())
                return cb(Internal("redis: unexpected reply to a status transition"));
            const int64_t code = r->elements[0].integer;
            if (code == -1) return cb(NotFound("execution \"" + id + "\" not found"));
            TransitionResult out;
            out.applied = code == 1;
            if (r->elements.size() > 1) out.previous = r->elements[1].str;
            if (r->elements.size() > 2) out.runner_id = r->elements[2].str;
            if (r->elements.size() > 6) {
                // Applied, or redirected by a policy to the status in elements[1]: count what happened.
                const std::string& reached = out.applied ? to : out.previous;
                const std::string from = out.applied ? out.previous : std::string();
                if (out.applied && !via.empty()) {
                    // Both steps, as two transitions would count them: the second ran 0 µs after the first.
                    CountTransition(client->counters(), metrics, from, via, now_us, *r);
                    if (via == core::status::kRunning) r->elements[5].str = std::to_string(now_us);
                    CountTransition(client->counters(), metrics, via, to, now_us, *r);
                } else {
                    CountTransition(client->counters(), metrics, from, reached, now_us, *r);
                }
            }
            cb(std::move(out));
        }
    );
}

Result<TransitionResult> ExecutionStore::TransitionBlocking(
    const std::string& id, const std::string& to, FieldMap fields, const std::vector<std::string>& only_from
) {
    return core::WaitForCallback<TransitionResult>([&](auto done) {
        Transition(id, to, std::move(fields), std::move(done), only_from);
    });
}

namespace {

/// The parsed `action` fields of one page of records, by their text: the executions of one action store the same
/// text, which is then parsed once for the page (a list answer's largest cost was parsing it again and again).
using ParsedActions = std::unordered_map<std::string, Json>;

/// The fields of a record that ListFilter checks one by one, in this order (RecordMatches).
const std::vector<std::string> kFilterFields = {
    "status", "action_ref", "rule_ref", "trigger_type", "user", "parent", "runner_type", "created_us"};

/// Whether a record whose kFilterFields are `f` (HMGET replies) passes every field of `filter` but `ids`.
bool RecordMatches(const ListFilter& filter, const std::vector<RedisReply>& f) {
    if (f.size() < kFilterFields.size()) return false;
    const auto keeps = [](const std::string& want, const RedisReply& have) { return want.empty() || have.str == want; };
    if (!keeps(filter.status, f[0]) || !keeps(filter.action, f[1]) || !keeps(filter.rule, f[2]) ||
        !keeps(filter.trigger, f[3]) || !keeps(filter.user, f[4]) || !keeps(filter.parent, f[5]) ||
        !keeps(filter.runner, f[6])) {
        return false;
    }
    if (filter.top_level && !f[5].str.empty()) return false;
    if (filter.after_us || filter.before_us) {
        const int64_t created = std::strtoll(f[7].str.c_str(), nullptr, 10);
        if (filter.after_us && created <= *filter.after_us) return false;
        if (filter.before_us && created >= *filter.before_us) return false;
    }
    return true;
}

/// Reads a sorted set of executions (scored by creation time) in slices, newest first (oldest first), within the
/// filter's exclusive time bounds. Each slice starts at the last score read, past the entries of that score already
/// read: executions created meanwhile (newer scores) neither shift nor repeat what a later slice reads.
class ScoreSlices {
public:
    ScoreSlices(RedisClient& client, std::string zset, const ListFilter& filter)
        : client_(client),
          zset_(std::move(zset)),
          oldest_first_(filter.oldest_first),
          low_(filter.after_us ? "(" + std::to_string(*filter.after_us) : "-inf"),
          high_(filter.before_us ? "(" + std::to_string(*filter.before_us) : "+inf") {}

    /// The next ids and scores (WITHSCORES pairs); empty at the end.
    Result<std::vector<std::pair<std::string, std::string>>> Next(size_t count) {
        std::vector<std::pair<std::string, std::string>> out;
        if (done_) return out;
        RedisClient::Args range = {"ZRANGE", zset_};
        if (oldest_first_) {
            range.insert(range.end(), {bound_.empty() ? low_ : bound_, high_, "BYSCORE"});
        } else {
            range.insert(range.end(), {bound_.empty() ? high_ : bound_, low_, "BYSCORE", "REV"});
        }
        range.insert(range.end(), {"LIMIT", std::to_string(skip_), std::to_string(count), "WITHSCORES"});
        Result<RedisReply> r = client_.CommandBlocking(std::move(range));
        if (!r) return r.error();
        if (r->IsError()) return Internal("redis: " + r->str);
        for (size_t j = 0; j + 1 < r->elements.size(); j += 2)
            out.emplace_back(r->elements[j].str, r->elements[j + 1].str);
        if (out.size() < count) done_ = true;
        if (!out.empty()) {
            const std::string& last = out.back().second;
            size_t same = 0;
            for (auto it = out.rbegin(); it != out.rend() && it->second == last; ++it) ++same;
            skip_ = last == bound_ ? skip_ + same : same;
            bound_ = last;
        }
        return out;
    }

private:
    RedisClient& client_;
    const std::string zset_;
    const bool oldest_first_;
    const std::string low_, high_;
    std::string bound_;  ///< the last score read (inclusive); empty: the filter's bound
    size_t skip_ = 0;    ///< entries of score bound_ already read
    bool done_ = false;
};

/// Whether a record listed for `filter` needs its top-level attribute `name` (ListFilter::only, ::without).
bool Wants(const ListFilter* filter, std::string_view name) {
    if (filter == nullptr) return true;
    const auto has = [name](const std::vector<std::string>& names) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    return (filter->only.empty() || has(filter->only)) && !has(filter->without);
}

/// ExecutionStore::FromHash, with `actions` (may be null) holding the actions parsed for the page so far, and only
/// the attributes `filter` (may be null: all) wants.
Json RecordFromHash(const RedisReply& h, ParsedActions* actions, const ListFilter* filter = nullptr) {
    // The hash's fields, found in place (no copy of the record's strings).
    const auto field = [&h](std::string_view name) -> const std::string* {
        for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
            if (h.elements[i].str == name) return &h.elements[i + 1].str;
        }
        return nullptr;
    };
    static const std::string kNone;
    const auto text = [&field](std::string_view name) -> const std::string& {
        const std::string* v = field(name);
        return v != nullptr ? *v : kNone;
    };
    const auto parsed = [&field](std::string_view name, Json otherwise) {
        const std::string* v = field(name);
        return v != nullptr ? ParseJsonField(*v) : otherwise;
    };
    const auto wants = [filter](std::string_view name) { return Wants(filter, name); };
    const bool want_liveaction = wants("liveaction");
    Json action = Json::object();
    if (const std::string* a = field("action"); a != nullptr && (wants("action") || want_liveaction)) {
        if (actions == nullptr) {
            action = ParseJsonField(*a);
        } else {
            auto it = actions->find(*a);
            if (it == actions->end()) it = actions->emplace(*a, ParseJsonField(*a)).first;
            action = it->second;
        }
    }
    const std::string& id = text("id");
    const std::string& status = text("status");
    const std::string& runner_type = text("runner_type");
    Json j = Json::object();
    j["id"] = id;
    if (wants("status")) j["status"] = status;
    if (wants("action")) j["action"] = action;
    if (wants("runner")) j["runner"] = {{"name", runner_type}, {"runner_module", runner_type}};
    Json parameters = wants("parameters") || want_liveaction ? parsed("parameters", Json::object()) : Json();
    if (wants("parameters")) j["parameters"] = parameters;
    if (wants("context")) j["context"] = parsed("context", Json::object());
    if (wants("result")) j["result"] = parsed("result", Json::object());
    if (wants("start_timestamp")) j["start_timestamp"] = text("start_timestamp");
    if (wants("log")) j["log"] = parsed("log", Json::array());
    if (wants("children")) j["children"] = Json::array();
    if (want_liveaction) {
        const std::string* runner_id = field("runner_id");
        j["liveaction"] = {
            {"id", id},
            {"action", action.value("ref", "")},
            {"status", status},
            {"parameters", std::move(parameters)},
            {"runner_info", runner_id != nullptr ? Json{{"hostname", *runner_id}} : Json::object()},
        };
    }
    if (const std::string* pool = field("pool"); pool != nullptr && wants("pool")) j["pool"] = *pool;
    if (const std::string* parent = field("parent"); parent != nullptr && !parent->empty() && wants("parent"))
        j["parent"] = *parent;
    if (const std::string* ti = field("trigger_instance");
        ti != nullptr && (wants("trigger_instance") || wants("trigger") || wants("trigger_type"))) {
        Json instance = ParseJsonField(*ti);
        const std::string type = instance.value("trigger", "");
        if (wants("trigger_instance")) j["trigger_instance"] = std::move(instance);
        if (wants("trigger")) j["trigger"] = {{"type", type}};
        if (wants("trigger_type")) j["trigger_type"] = {{"ref", type}};
    }
    if (const std::string* rule = field("rule"); rule != nullptr && wants("rule")) j["rule"] = ParseJsonField(*rule);
    if (const std::string* end = field("end_timestamp"); end != nullptr && !end->empty()) {
        j["end_timestamp"] = *end;
        std::chrono::system_clock::time_point a;
        std::chrono::system_clock::time_point b;
        if (core::ParseIsoTimestamp(text("start_timestamp"), &a) && core::ParseIsoTimestamp(*end, &b)) {
            j["elapsed_seconds"] = std::chrono::duration<double>(b - a).count();
        }
    }
    return j;
}

}  // namespace

Json ExecutionStore::FromHash(const RedisReply& h) {
    return RecordFromHash(h, nullptr);
}

Result<Json> ExecutionStore::GetBlocking(const std::string& id) {
    Result<RedisReply> r = client_->CommandBlocking({"HGETALL", keys_.Execution(id)});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->elements.empty()) return NotFound("execution \"" + id + "\" not found");
    Json j = FromHash(*r);
    // Workflow tasks: the ids of the executions this one created, in creation order.
    Result<RedisReply> children = client_->CommandBlocking({"LRANGE", keys_.Children(id), "0", "-1"});
    if (children && children->IsArray()) {
        for (const auto& c : children->elements) j["children"].push_back(c.str);
    }
    return j;
}

Result<std::vector<Json>> ExecutionStore::RecordsOfPage(const std::vector<RedisReply>& rows, const ListFilter& filter) {
    std::vector<Json> out;
    ParsedActions actions;
    // A workflow's children are a list of their own (GetBlocking reads it too): the list answered [] for them.
    std::vector<RedisClient::Args> reads;
    std::vector<size_t> workflows;
    const bool children = Wants(&filter, "children");
    for (const auto& row : rows) {
        if (row.elements.empty()) continue;
        out.push_back(RecordFromHash(row, &actions, &filter));
        if (!children) continue;
        for (size_t i = 0; i + 1 < row.elements.size(); i += 2) {
            if (row.elements[i].str != "runner_type") continue;
            const std::string& runner = row.elements[i + 1].str;
            if (runner == "orquesta" || runner == "action-chain") {
                workflows.push_back(out.size() - 1);
                reads.push_back({"LRANGE", keys_.Children(out.back().value("id", "")), "0", "-1"});
            }
            break;
        }
    }
    if (reads.empty()) return out;
    Result<std::vector<RedisReply>> lists = client_->PipelineBlocking(std::move(reads));
    if (!lists) return lists.error();
    for (size_t i = 0; i < workflows.size() && i < lists->size(); ++i) {
        for (const auto& c : (*lists)[i].elements) out[workflows[i]]["children"].push_back(c.str);
    }
    return out;
}

Result<std::vector<Json>> ExecutionStore::ListBlocking(
    const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    std::vector<Json> out;
    if (limit == 0) return out;
    if (filter.top_level || !filter.parent.empty() || !filter.runner.empty() || filter.after_us || filter.before_us ||
        filter.oldest_first || filter.ids) {
        return ListUnindexedBlocking(filter, offset, limit, total);
    }
    const bool by_user = !filter.user.empty();
    const bool by_rule = !filter.rule.empty();
    const bool by_trigger = !filter.trigger.empty();
    const int narrowing = !filter.action.empty() + !filter.status.empty() + by_rule + by_trigger;
    if (by_user || by_rule || by_trigger) {
        Result<std::vector<std::string>> sources = SourcesBlocking(filter);
        if (!sources) return sources.error();
        if (by_user && narrowing > 0) {
            // A user's executions, filtered: the indexes that hold them read whole (the user's facets and index; with
            // a rule or trigger type, that one's facets and its older index).
            return ScanFilteredBlocking(*sources, std::numeric_limits<size_t>::max(), filter, offset, limit, total);
        }
        if (narrowing > 1) {
            // The narrowest indexes of the filter (a rule's, then a trigger type's), the newest kCombinedScan of each.
            return ScanFilteredBlocking(*sources, kCombinedScan, filter, offset, limit, total);
        }
        // One of the three alone: its indexes hold exactly its executions, O(page) each.
        Result<std::vector<RedisReply>> rows = MergedPageBlocking(*sources, offset, limit, total);
        if (!rows) return rows.error();
        return RecordsOfPage(*rows, filter);
    }
    if (!filter.action.empty() && !filter.status.empty() && !IsFinal(filter.status)) {
        return ListInFlightBlocking(filter, offset, limit, total);
    }
    // Every other filter combination reads one index: O(page) at any number of executions.
    const std::string zset = !filter.action.empty() && !filter.status.empty()
                                 ? keys_.ByActionStatus(filter.action, filter.status)
                             : !filter.action.empty() ? keys_.ByAction(filter.action)
                             : !filter.status.empty() ? keys_.ByStatus(filter.status)
                                                      : keys_.All();
    Result<std::vector<RedisReply>> rows =
        core::ZPageBlocking(*client_, zset, offset, limit, total, [this](const std::string& id) {
            return RedisClient::Args{"HGETALL", keys_.Execution(id)};
        });
    if (!rows) return rows.error();
    return RecordsOfPage(*rows, filter);
}

Result<std::vector<Json>> ExecutionStore::ListUnindexedBlocking(
    const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    if (filter.ids || !filter.parent.empty()) {
        // A known set of executions (a trigger instance's, a workflow's tasks): each one's fields read and checked.
        std::vector<std::string> candidates;
        if (!filter.parent.empty()) {
            Result<RedisReply> children =
                client_->CommandBlocking({"LRANGE", keys_.Children(filter.parent), "0", "-1"});
            if (!children) return children.error();
            if (children->IsError()) return Internal("redis: " + children->str);
            for (const auto& c : children->elements) {
                if (!filter.ids || std::find(filter.ids->begin(), filter.ids->end(), c.str) != filter.ids->end())
                    candidates.push_back(c.str);
            }
        } else {
            candidates = *filter.ids;
        }
        std::vector<RedisClient::Args> reads;
        for (const auto& id : candidates) {
            RedisClient::Args read = {"HMGET", keys_.Execution(id)};
            read.insert(read.end(), kFilterFields.begin(), kFilterFields.end());
            reads.push_back(std::move(read));
        }
        std::vector<std::pair<double, std::string>> matching;
        if (!reads.empty()) {
            Result<std::vector<RedisReply>> rows = client_->PipelineBlocking(std::move(reads));
            if (!rows) return rows.error();
            for (size_t i = 0; i < rows->size() && i < candidates.size(); ++i) {
                const auto& f = (*rows)[i].elements;
                if (f.size() < kFilterFields.size() || f[0].str.empty()) continue;  // purged, or never there
                if (RecordMatches(filter, f))
                    matching.emplace_back(std::strtod(f[7].str.c_str(), nullptr), candidates[i]);
            }
        }
        return PageOfMatches(std::move(matching), filter, offset, limit, total);
    }
    // Nothing to check record by record (time bounds, order, top-level only): the index paged by score.
    const bool per_record = !filter.runner.empty() || !filter.user.empty() || !filter.rule.empty() ||
                            !filter.trigger.empty() ||
                            (!filter.action.empty() && !filter.status.empty() && !IsFinal(filter.status));
    if (!per_record) {
        const std::string zset = !filter.action.empty() && !filter.status.empty()
                                     ? keys_.ByActionStatus(filter.action, filter.status)
                                 : !filter.action.empty() ? keys_.ByAction(filter.action)
                                 : !filter.status.empty() ? keys_.ByStatus(filter.status)
                                                          : keys_.All();
        if (!filter.top_level) return PageByScoreBlocking(zset, filter, offset, limit, total);
        if (zset == keys_.All()) return TopLevelPageBlocking(filter, offset, limit, total);
    }
    // The narrowest index of the indexed fields (as ListBlocking picks it), scanned within the time bounds.
    std::vector<std::string> zsets;
    if (!filter.user.empty() || !filter.rule.empty() || !filter.trigger.empty()) {
        Result<std::vector<std::string>> sources = SourcesBlocking(filter);
        if (!sources) return sources.error();
        zsets = std::move(*sources);
    } else if (!filter.action.empty() && !filter.status.empty()) {
        // The per-(action, status) index holds final statuses only; an in-flight status's index holds its work.
        zsets.push_back(
            IsFinal(filter.status) ? keys_.ByActionStatus(filter.action, filter.status) : keys_.ByStatus(filter.status)
        );
    } else {
        zsets.push_back(
            !filter.action.empty()   ? keys_.ByAction(filter.action)
            : !filter.status.empty() ? keys_.ByStatus(filter.status)
                                     : keys_.All()
        );
    }
    return ScanFilteredBlocking(zsets, kCombinedScan, filter, offset, limit, total);
}

Result<std::vector<Json>> ExecutionStore::PageByScoreBlocking(
    const std::string& zset, const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    const std::string low = filter.after_us ? "(" + std::to_string(*filter.after_us) : "-inf";
    const std::string high = filter.before_us ? "(" + std::to_string(*filter.before_us) : "+inf";
    RedisClient::Args range = {"ZRANGE", zset};
    if (filter.oldest_first) {
        range.insert(range.end(), {low, high, "BYSCORE"});
    } else {
        range.insert(range.end(), {high, low, "BYSCORE", "REV"});
    }
    range.insert(range.end(), {"LIMIT", std::to_string(offset), std::to_string(limit)});
    Result<std::vector<RedisReply>> page = client_->PipelineBlocking({{"ZCOUNT", zset, low, high}, std::move(range)});
    if (!page) return page.error();
    if ((*page)[0].IsError()) return Internal("redis: " + (*page)[0].str);
    if ((*page)[1].IsError()) return Internal("redis: " + (*page)[1].str);
    std::vector<std::string> ids;
    for (const auto& id : (*page)[1].elements) ids.push_back(id.str);
    size_t fetched = 0;
    Result<std::vector<Json>> records = FetchPage(ids, filter, 0, limit, &fetched);
    *total = static_cast<size_t>(std::max<int64_t>(0, (*page)[0].integer));
    return records;
}

Result<std::vector<Json>> ExecutionStore::TopLevelPageBlocking(
    const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    // All() less the executions that have a parent: both counted within the time bounds, and All() read in slices
    // until the page's top-level executions are found, each slice's parents told by one ZMSCORE.
    const std::string low = filter.after_us ? "(" + std::to_string(*filter.after_us) : "-inf";
    const std::string high = filter.before_us ? "(" + std::to_string(*filter.before_us) : "+inf";
    Result<std::vector<RedisReply>> counts =
        client_->PipelineBlocking({{"ZCOUNT", keys_.All(), low, high}, {"ZCOUNT", keys_.WithParent(), low, high}});
    if (!counts) return counts.error();
    for (const auto& c : *counts) {
        if (c.IsError()) return Internal("redis: " + c.str);
    }
    *total = static_cast<size_t>(std::max<int64_t>(0, (*counts)[0].integer - (*counts)[1].integer));
    constexpr size_t kSlice = 500;
    ScoreSlices slices(*client_, keys_.All(), filter);
    std::vector<std::string> top;
    while (top.size() < offset + limit) {
        Result<std::vector<std::pair<std::string, std::string>>> ids = slices.Next(kSlice);
        if (!ids) return ids.error();
        if (ids->empty()) break;
        RedisClient::Args which = {"ZMSCORE", keys_.WithParent()};
        for (const auto& [id, score] : *ids) which.push_back(id);
        Result<RedisReply> parents = client_->CommandBlocking(std::move(which));
        if (!parents) return parents.error();
        if (parents->IsError()) return Internal("redis: " + parents->str);
        for (size_t i = 0; i < ids->size() && i < parents->elements.size(); ++i) {
            if (parents->elements[i].IsNil()) top.push_back((*ids)[i].first);
        }
    }
    size_t fetched = 0;
    return FetchPage(top, filter, offset, limit, &fetched);
}

Result<std::vector<std::string>> ExecutionStore::SourcesBlocking(const ListFilter& filter) {
    Result<RedisReply> facets = client_->CommandBlocking({"SMEMBERS", keys_.FacetSet()});
    if (!facets) return facets.error();
    if (facets->IsError()) return Internal("redis: " + facets->str);
    std::vector<std::string> out;
    const std::string prefix = keys_.FacetPrefix();
    for (const auto& f : facets->elements) {
        // <prefix><rule>|<trigger type>|<user>: rule and trigger refs hold no '|'; the user, last, may.
        if (f.str.rfind(prefix, 0) != 0) continue;
        const size_t a = f.str.find('|', prefix.size());
        const size_t b = a == std::string::npos ? a : f.str.find('|', a + 1);
        if (b == std::string::npos) continue;
        if (!filter.rule.empty() && f.str.compare(prefix.size(), a - prefix.size(), filter.rule) != 0) continue;
        if (!filter.trigger.empty() && f.str.compare(a + 1, b - a - 1, filter.trigger) != 0) continue;
        if (!filter.user.empty() && f.str.compare(b + 1, std::string::npos, filter.user) != 0) continue;
        out.push_back(f.str);
    }
    out.push_back(
        !filter.rule.empty()      ? keys_.ByRule(filter.rule)
        : !filter.trigger.empty() ? keys_.ByTrigger(filter.trigger)
                                  : keys_.ByUser(filter.user)
    );
    return out;
}

Result<std::vector<RedisReply>> ExecutionStore::MergedPageBlocking(
    const std::vector<std::string>& zsets, size_t offset, size_t limit, size_t* total
) {
    const auto fetch = [this](const std::string& id) { return RedisClient::Args{"HGETALL", keys_.Execution(id)}; };
    if (zsets.size() == 1) return core::ZPageBlocking(*client_, zsets[0], offset, limit, total, fetch);
    // The indexes that hold anything: usually one (a rule's facet; or only the older index, before any facet was
    // written), which is paged as it is, O(page) at any offset.
    std::vector<RedisClient::Args> cards;
    for (const auto& z : zsets) cards.push_back({"ZCARD", z});
    Result<std::vector<RedisReply>> counts = client_->PipelineBlocking(std::move(cards));
    if (!counts) return counts.error();
    std::vector<std::string> held;
    *total = 0;
    for (size_t i = 0; i < zsets.size() && i < counts->size(); ++i) {
        if ((*counts)[i].IsError()) return Internal("redis: " + (*counts)[i].str);
        if ((*counts)[i].integer <= 0) continue;
        held.push_back(zsets[i]);
        *total += static_cast<size_t>((*counts)[i].integer);
    }
    if (held.empty()) return std::vector<RedisReply>();
    if (held.size() == 1) return core::ZPageBlocking(*client_, held[0], offset, limit, total, fetch);
    // Each index's newest offset + limit, merged newest first (the indexes share no execution): O(offset + page)
    // per index.
    std::vector<RedisClient::Args> reads;
    for (const auto& z : held) reads.push_back({"ZREVRANGE", z, "0", std::to_string(offset + limit - 1), "WITHSCORES"});
    Result<std::vector<RedisReply>> replies = client_->PipelineBlocking(std::move(reads));
    if (!replies) return replies.error();
    std::vector<std::pair<double, std::string>> rows;
    for (const auto& range : *replies) {
        if (range.IsError()) return Internal("redis: " + range.str);
        for (size_t j = 0; j + 1 < range.elements.size(); j += 2)
            rows.emplace_back(std::strtod(range.elements[j + 1].str.c_str(), nullptr), range.elements[j].str);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<RedisClient::Args> fetches;
    for (size_t i = offset; i < rows.size() && fetches.size() < limit; ++i) fetches.push_back(fetch(rows[i].second));
    if (fetches.empty()) return std::vector<RedisReply>();
    return client_->PipelineBlocking(std::move(fetches));
}

Result<std::vector<Json>> ExecutionStore::ScanFilteredBlocking(
    const std::vector<std::string>& zsets,
    size_t max_scan,
    const ListFilter& filter,
    size_t offset,
    size_t limit,
    size_t* total
) {
    // Each index's newest max_scan entries read in slices, each slice's fields read in one pipeline and compared
    // with every field of the filter; the matches of all of them newest first; the page's records fetched once.
    constexpr size_t kSlice = 1000;
    std::vector<std::pair<double, std::string>> matching;
    for (const auto& zset : zsets) {
        ScoreSlices slices(*client_, zset, filter);
        for (size_t scanned = 0; scanned < max_scan;) {
            Result<std::vector<std::pair<std::string, std::string>>> ids = slices.Next(kSlice);
            if (!ids) return ids.error();
            if (ids->empty()) break;
            scanned += ids->size();
            std::vector<RedisClient::Args> reads;
            reads.reserve(ids->size());
            for (const auto& [id, score] : *ids) {
                RedisClient::Args read = {"HMGET", keys_.Execution(id)};
                read.insert(read.end(), kFilterFields.begin(), kFilterFields.end());
                reads.push_back(std::move(read));
            }
            Result<std::vector<RedisReply>> rows = client_->PipelineBlocking(std::move(reads));
            if (!rows) return rows.error();
            for (size_t i = 0; i < rows->size() && i < ids->size(); ++i) {
                if (RecordMatches(filter, (*rows)[i].elements))
                    matching.emplace_back(std::strtod((*ids)[i].second.c_str(), nullptr), (*ids)[i].first);
            }
        }
    }
    return PageOfMatches(std::move(matching), filter, offset, limit, total);
}

Result<std::vector<Json>> ExecutionStore::PageOfMatches(
    std::vector<std::pair<double, std::string>> matching,
    const ListFilter& filter,
    size_t offset,
    size_t limit,
    size_t* total
) {
    std::stable_sort(matching.begin(), matching.end(), [&filter](const auto& a, const auto& b) {
        return filter.oldest_first ? a.first < b.first : a.first > b.first;
    });
    std::vector<std::string> ids;
    ids.reserve(matching.size());
    for (auto& m : matching) ids.push_back(std::move(m.second));
    return FetchPage(ids, filter, offset, limit, total);
}

Result<std::vector<Json>> ExecutionStore::FetchPage(
    const std::vector<std::string>& ids, const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    *total = ids.size();
    std::vector<Json> out;
    std::vector<RedisClient::Args> fetches;
    for (size_t i = offset; i < ids.size() && fetches.size() < limit; ++i) {
        fetches.push_back({"HGETALL", keys_.Execution(ids[i])});
    }
    if (fetches.empty()) return out;
    Result<std::vector<RedisReply>> rows = client_->PipelineBlocking(std::move(fetches));
    if (!rows) return rows.error();
    return RecordsOfPage(*rows, filter);
}

Result<std::vector<Json>> ExecutionStore::ListInFlightBlocking(
    const ListFilter& filter, size_t offset, size_t limit, size_t* total
) {
    // An in-flight status (requested ... canceling) holds only the work not finished yet, so its index is read whole
    // (newest first, in slices) and filtered by action: the per-(action, status) index is kept for final statuses
    // only, which spares every execution two index moves per transition on the hot path.
    constexpr size_t kSlice = 1000;
    std::vector<std::string> matching;
    for (size_t start = 0;; start += kSlice) {
        Result<RedisReply> ids = client_->CommandBlocking(
            {"ZREVRANGE", keys_.ByStatus(filter.status), std::to_string(start), std::to_string(start + kSlice - 1)}
        );
        if (!ids) return ids.error();
        if (ids->IsError()) return Internal("redis: " + ids->str);
        if (ids->elements.empty()) break;
        std::vector<RedisClient::Args> reads;
        reads.reserve(ids->elements.size());
        for (const auto& id : ids->elements) reads.push_back({"HGET", keys_.Execution(id.str), "action_ref"});
        Result<std::vector<RedisReply>> refs = client_->PipelineBlocking(std::move(reads));
        if (!refs) return refs.error();
        for (size_t i = 0; i < refs->size() && i < ids->elements.size(); ++i) {
            if ((*refs)[i].str == filter.action) matching.push_back(ids->elements[i].str);
        }
        if (ids->elements.size() < kSlice) break;
    }
    return FetchPage(matching, filter, offset, limit, total);
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
    std::string event = R"({"kind":"output","execution_id":)" + Json(id).dump() + R"(,"lines":[)";
    for (size_t i = 0; i < json_lines.size(); ++i) {
        if (i) event += ",";
        event += json_lines[i];
    }
    event += "]}";
    std::vector<std::string> args;
    args.reserve(json_lines.size() + 1);
    args.push_back(std::move(event));
    args.insert(args.end(), json_lines.begin(), json_lines.end());
    OutputScript().Run(
        *client_,
        {keys_.Output(id), keys_.Events(), keys_.EventListeners()},
        std::move(args),
        [id](Result<RedisReply> r) {
            if (!r || r->IsError()) {
                core::Log(
                    *core::Logger("store"),
                    spdlog::level::warn,
                    "cannot store execution output",
                    {{"execution_id", id}, {"error", r ? r->str : r.error().message}}
                );
            }
        }
    );
}

void ExecutionStore::Purge(
    int64_t cutoff_us, const core::PurgeCursor& from, size_t batch, std::function<void(Result<core::PurgeStep>)> done
) {
    static const core::Script kScript(kPurgeExecutions);
    core::RunPurgeScript(
        kScript,
        *client_,
        keys_.All(),
        keys_.tagged_prefix(),
        cutoff_us,
        from,
        batch,
        {FinalStatuses(), "1"},
        std::move(done)
    );
}

void ExecutionStore::PurgeOutput(
    int64_t cutoff_us, const core::PurgeCursor& from, size_t batch, std::function<void(Result<core::PurgeStep>)> done
) {
    static const core::Script kScript(kPurgeExecutions);
    core::RunPurgeScript(
        kScript,
        *client_,
        keys_.All(),
        keys_.tagged_prefix(),
        cutoff_us,
        from,
        batch,
        {FinalStatuses(), "0"},
        std::move(done)
    );
}

void ExecutionStore::SendControl(const std::string& runner, const Json& message, std::function<void(Status)> cb) {
    const std::string stream = keys_.Control(runner);
    client_->Pipeline(
        {{"XADD", stream, "*", "d", Dump(message)}, {"EXPIRE", stream, "86400"}},
        [cb = std::move(cb)](Result<std::vector<RedisReply>> r) {
            if (!r) return cb(r.error());
            if ((*r)[0].IsError()) return cb(Internal("redis: " + (*r)[0].str));
            cb(Status{});
        }
    );
}

Status ExecutionStore::SendControlBlocking(const std::string& runner, const Json& message) {
    return core::WaitForCallback<void>([&](auto done) { SendControl(runner, message, std::move(done)); });
}

}  // namespace squall::executions
