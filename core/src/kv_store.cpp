#include "squall/core/store/kv_store.hpp"

#include <future>

#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/core/log.hpp"

namespace squall::core {
namespace {

// KEYS: 1 record, 2 index, 3 version. ARGV: 1 member, 2 record JSON, 3 TTL in ms ("0": none).
// Returns {old record or "", new version}. Record, index and version move together (one script).
const char* kSetPair = R"lua(
local old = redis.call('GET', KEYS[1]) or ''
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
local v = redis.call('INCR', KEYS[3])
return {old, v}
)lua";

// KEYS: 1 record, 2 index, 3 version. ARGV: 1 member. Returns the old record or "" when there was none (an
// index entry left by an expired record is dropped then, without a version bump: nothing visible changed).
const char* kDeletePair = R"lua(
local old = redis.call('GET', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not old then return '' end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[3])
return old
)lua";

// KEYS: 1 index. ARGV: 1 record key prefix, 2.. members whose record was missing when listed. Drops those that
// are still missing (a set in between re-created the record and must keep its index entry).
const char* kPruneIndex = R"lua(
local n = 0
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then n = n + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return n
)lua";

const Script& PruneScript() {
    static const Script kScript(kPruneIndex);
    return kScript;
}
const Script& SetScript() {
    static const Script kScript(kSetPair);
    return kScript;
}
const Script& DeleteScript() {
    static const Script kScript(kDeletePair);
    return kScript;
}

std::string MemberOf(const std::string& scope, const std::string& user, const std::string& name) {
    return scope == kv_scope::kUser ? "user:" + user + ":" + name : "system:" + name;
}

std::string FullScope(const std::string& scope) {
    return "st2kv." + scope;
}

Error KeyNotFound(const std::string& scope, const std::string& user, const std::string& name) {
    std::string msg = "Key with name \"" + name + "\" and scope \"" + FullScope(scope) + "\"";
    if (scope == kv_scope::kUser) msg += " for user \"" + user + "\"";
    return NotFound(msg + " not found");
}

Status ValidateIdentity(const std::string& scope, const std::string& user, const std::string& name) {
    if (Status st = CheckKeyName("name", name); !st) return st;
    if (scope != kv_scope::kSystem && scope != kv_scope::kUser) {
        return InvalidArgument("scope: \"" + scope + "\" is not one of st2kv.system, st2kv.user");
    }
    if (scope == kv_scope::kUser) {
        if (user.empty()) return InvalidArgument("user: a user is required for scope st2kv.user");
        if (user.find(':') != std::string::npos) return InvalidArgument("user: \"" + user + "\" contains ':'");
        if (!IsValidUtf8(user)) return InvalidArgument("user: the user name is not valid UTF-8");
    }
    return {};
}

}  // namespace

Result<std::string> ParseKvScope(std::string_view scope, bool allow_all) {
    if (scope == "system" || scope == "st2kv.system") return std::string(kv_scope::kSystem);
    if (scope == "user" || scope == "st2kv.user") return std::string(kv_scope::kUser);
    if (allow_all && scope == "all") return std::string("all");
    return InvalidArgument(
        "scope: \"" + std::string(scope) + "\" is not one of st2kv.system, st2kv.user" + (allow_all ? ", all" : "")
    );
}

std::string KeyValuePair::Member() const {
    return MemberOf(scope, user, name);
}

Json KeyValuePair::ToApiJson(const std::string& shown_value, bool encrypted) const {
    Json j = {
        {"id", Sha256Hex(Member()).substr(0, 24)},
        {"uid", "key_value_pair:" + FullScope(scope) + ":" + (scope == kv_scope::kUser ? user + ":" : "") + name},
        {"name", name},
        {"value", shown_value},
        {"secret", secret},
        {"encrypted", encrypted},
        {"scope", FullScope(scope)},
    };
    if (scope == kv_scope::kUser) j["user"] = user;
    if (ttl > 0) j["ttl"] = ttl;
    if (expire_us > 0) {
        j["expire_timestamp"] =
            FormatIsoTimestamp(std::chrono::system_clock::time_point(std::chrono::microseconds(expire_us)));
    }
    if (!description.empty()) j["description"] = description;
    return j;
}

Json KeyValuePair::ToRecord() const {
    Json j = {{"name", name}, {"value", value}, {"secret", secret}, {"scope", scope}};
    if (scope == kv_scope::kUser) j["user"] = user;
    if (ttl > 0) j["ttl"] = ttl;
    if (expire_us > 0) j["expire_us"] = expire_us;
    if (!description.empty()) j["description"] = description;
    return j;
}

Result<KeyValuePair> KeyValuePair::FromRecord(const std::string& text) {
    Json j = Json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("value") ||
        !j["value"].is_string()) {
        return Internal("datastore: a stored record is malformed");
    }
    KeyValuePair p;
    p.name = j["name"];
    p.value = j["value"];
    p.secret = core::BoolOr(j, "secret", false);
    p.scope = j.value("scope", std::string(kv_scope::kSystem));
    p.user = j.value("user", "");
    p.ttl = j.value("ttl", int64_t{0});
    p.expire_us = j.value("expire_us", int64_t{0});
    p.description = j.value("description", "");
    return p;
}

KvStore::KvStore(RedisClientPtr client, const SecretBox* box, const Clock& clock, TriggerStore* triggers)
    : client_(std::move(client)),
      keys_(client_->endpoint().key_prefix),
      box_(box),
      clock_(clock),
      triggers_(triggers) {}

Result<std::string> KvStore::ClearValue(const KeyValuePair& pair) const {
    if (!pair.secret) return pair.value;
    if (!box_) return Unavailable("datastore: no encryption key is configured; secrets cannot be read");
    return box_->Decrypt(pair.value);
}

void KvStore::EmitChange(const char* trigger, Json payload) {
    if (!triggers_) return;
    TriggerInstance ti;
    ti.id = NewId();
    ti.trigger = trigger;
    ti.payload = std::move(payload);
    ti.occurrence_time = FormatIsoTimestamp(clock_.Now());
    Result<std::string> r = triggers_->EmitBlocking(ti);
    if (!r) {
        Log(*Logger("store"),
            spdlog::level::warn,
            "cannot emit datastore trigger",
            {{"trigger", trigger}, {"error", r.error().message}});
    }
}

Result<KeyValuePair> KvStore::SetBlocking(KeyValuePair pair) {
    if (Status st = ValidateIdentity(pair.scope, pair.user, pair.name); !st) return st.error();
    if (pair.scope == kv_scope::kSystem) pair.user.clear();
    if (pair.ttl < 0 || pair.ttl > kMaxKvTtlSeconds) {
        return InvalidArgument(
            "ttl: " + std::to_string(pair.ttl) + " is out of range (1 to " + std::to_string(kMaxKvTtlSeconds) +
            " seconds)"
        );
    }
    const std::string clear = pair.value;
    if (pair.secret) {
        if (!box_) return Unavailable("datastore: no encryption key is configured; secrets cannot be stored");
        Result<std::string> enc = box_->Encrypt(pair.value);
        if (!enc) return enc.error();
        pair.value = std::move(*enc);
    }
    pair.expire_us = pair.ttl > 0 ? ToMicros(clock_.Now()) + pair.ttl * 1000000 : 0;
    const std::string member = pair.Member();
    Result<RedisReply> r = SetScript().RunBlocking(
        *client_,
        {keys_.KvPair(member), keys_.KvIndex(), keys_.KvVersion()},
        {member, pair.ToRecord().dump(), std::to_string(pair.ttl * 1000)}
    );
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (!r->IsArray() || r->elements.size() != 2) return Internal("redis: unexpected reply to the datastore set");

    const Json now_json = pair.ToApiJson(pair.secret ? kKvMask : clear, pair.secret);
    const std::string& old_text = r->elements[0].str;
    if (old_text.empty()) {
        EmitChange("core.st2.key_value_pair.create", {{"object", now_json}});
        return pair;
    }
    Result<KeyValuePair> old = KeyValuePair::FromRecord(old_text);
    if (!old) return pair;  // the write went through; a malformed old record only loses the update triggers
    const Json old_json = old->ToApiJson(old->secret ? kKvMask : old->value, old->secret);
    EmitChange("core.st2.key_value_pair.update", {{"object", now_json}});
    Result<std::string> old_clear = ClearValue(*old);
    if (!old_clear || *old_clear != clear || old->secret != pair.secret) {
        EmitChange("core.st2.key_value_pair.value_change", {{"old_object", old_json}, {"new_object", now_json}});
    }
    return pair;
}

Result<KeyValuePair> KvStore::GetBlocking(const std::string& scope, const std::string& user, const std::string& name) {
    if (Status st = ValidateIdentity(scope, user, name); !st) return st.error();
    Result<RedisReply> r = client_->CommandBlocking({"GET", keys_.KvPair(MemberOf(scope, user, name))});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->IsNil()) return KeyNotFound(scope, user, name);
    Result<KeyValuePair> p = KeyValuePair::FromRecord(r->str);
    if (!p) return p.error();
    // Redis expires the record itself; this covers the moments between our clock and Redis's.
    if (p->Expired(clock_.Now())) return KeyNotFound(scope, user, name);
    return p;
}

Result<std::vector<KeyValuePair>> KvStore::ListBlocking(
    const std::string& scope, const std::string& user, const std::string& prefix
) {
    std::vector<std::string> bases;
    if (scope == kv_scope::kSystem || scope == "all") bases.push_back("system:");
    if (scope == kv_scope::kUser || scope == "all") {
        if (user.empty() || user.find(':') != std::string::npos) {
            if (scope == kv_scope::kUser) return InvalidArgument("user: a valid user is required for scope st2kv.user");
        } else {
            bases.push_back("user:" + user + ":");
        }
    }
    if (bases.empty()) return InvalidArgument("scope: \"" + scope + "\" is not one of st2kv.system, st2kv.user, all");
    std::vector<RedisClient::Args> ranges;
    for (const auto& base : bases) {
        // "\xff" never occurs in UTF-8, so "(" + it bounds exactly the members that start with base + prefix.
        ranges.push_back({"ZRANGEBYLEX", keys_.KvIndex(), "[" + base + prefix, "(" + base + prefix + "\xff"});
    }
    Result<std::vector<RedisReply>> members = client_->PipelineBlocking(std::move(ranges));
    if (!members) return members.error();
    RedisClient::Args mget = {"MGET"};
    std::vector<std::string> names;
    for (const auto& reply : *members) {
        if (reply.IsError()) return Internal("redis: " + reply.str);
        for (const auto& m : reply.elements) {
            names.push_back(m.str);
            mget.push_back(keys_.KvPair(m.str));
        }
    }
    std::vector<KeyValuePair> out;
    if (names.empty()) return out;
    Result<RedisReply> records = client_->CommandBlocking(std::move(mget));
    if (!records) return records.error();
    if (records->IsError()) return Internal("redis: " + records->str);
    std::vector<std::string> stale = {keys_.KvPair("")};
    const auto now = clock_.Now();
    for (size_t i = 0; i < records->elements.size() && i < names.size(); ++i) {
        const RedisReply& rec = records->elements[i];
        if (rec.IsNil()) {
            stale.push_back(names[i]);
            continue;
        }
        Result<KeyValuePair> p = KeyValuePair::FromRecord(rec.str);
        if (p && !p->Expired(now)) out.push_back(std::move(*p));
    }
    if (stale.size() > 1) {
        // Index entries of expired records: dropping them is housekeeping, so its failure is only logged.
        PruneScript().Run(*client_, {keys_.KvIndex()}, std::move(stale), [](Result<RedisReply> r) {
            if (!r || r->IsError()) {
                Log(*Logger("store"),
                    spdlog::level::debug,
                    "cannot prune the datastore index",
                    {{"error", r ? r->str : r.error().message}});
            }
        });
    }
    return out;
}

Result<KeyValuePair> KvStore::DeleteBlocking(
    const std::string& scope, const std::string& user, const std::string& name
) {
    if (Status st = ValidateIdentity(scope, user, name); !st) return st.error();
    const std::string member = MemberOf(scope, user, name);
    Result<RedisReply> r =
        DeleteScript().RunBlocking(*client_, {keys_.KvPair(member), keys_.KvIndex(), keys_.KvVersion()}, {member});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->str.empty()) return KeyNotFound(scope, user, name);
    Result<KeyValuePair> old = KeyValuePair::FromRecord(r->str);
    if (!old) return old.error();
    EmitChange(
        "core.st2.key_value_pair.delete", {{"object", old->ToApiJson(old->secret ? kKvMask : old->value, old->secret)}}
    );
    return old;
}

void KvStore::Version(std::function<void(Result<int64_t>)> cb) {
    client_->Command({"GET", keys_.KvVersion()}, [cb = std::move(cb)](Result<RedisReply> r) {
        if (!r) return cb(r.error());
        if (r->IsError()) return cb(Internal("redis: " + r->str));
        if (r->IsNil()) return cb(int64_t{0});
        try {
            return cb(static_cast<int64_t>(std::stoll(r->str)));
        } catch (const std::exception&) {
            return cb(Internal("datastore: kv:version is not a number"));
        }
    });
}

void KvStore::Load(std::function<void(Result<KvSnapshotPtr>)> cb) {
    auto client = client_;
    const Keys keys = keys_;
    client_->Pipeline(
        {{"GET", keys_.KvVersion()}, {"ZRANGE", keys_.KvIndex(), "0", "-1"}},
        [client, keys, cb = std::move(cb)](Result<std::vector<RedisReply>> r) mutable {
            if (!r) return cb(r.error());
            if ((*r)[0].IsError() || (*r)[1].IsError()) return cb(Internal("redis: " + (*r)[0].str + (*r)[1].str));
            auto snap = std::make_shared<KvSnapshot>();
            snap->version = (*r)[0].IsNil() ? 0 : std::atoll((*r)[0].str.c_str());
            if ((*r)[1].elements.empty()) return cb(KvSnapshotPtr(std::move(snap)));
            RedisClient::Args mget = {"MGET"};
            for (const auto& m : (*r)[1].elements) mget.push_back(keys.KvPair(m.str));
            client->Command(std::move(mget), [snap, cb = std::move(cb)](Result<RedisReply> recs) {
                if (!recs) return cb(recs.error());
                if (recs->IsError()) return cb(Internal("redis: " + recs->str));
                for (const auto& rec : recs->elements) {
                    if (rec.IsNil()) continue;
                    Result<KeyValuePair> p = KeyValuePair::FromRecord(rec.str);
                    if (p) snap->pairs.emplace(p->Member(), std::move(*p));
                }
                cb(KvSnapshotPtr(snap));
            });
        }
    );
}

KvLookup::KvLookup(KvSnapshotPtr snapshot, const SecretBox* box, const Clock& clock, std::string user)
    : snapshot_(std::move(snapshot)), box_(box), clock_(clock), user_(std::move(user)) {}

std::optional<std::string> KvLookup::Get(std::string_view scope, std::string_view key) const {
    if (!snapshot_) return std::nullopt;
    std::string member;
    if (scope == kv_scope::kSystem) {
        member = "system:" + std::string(key);
    } else if (scope == kv_scope::kUser && !user_.empty()) {
        member = "user:" + user_ + ":" + std::string(key);
    } else {
        return std::nullopt;
    }
    auto it = snapshot_->pairs.find(member);
    if (it == snapshot_->pairs.end() || it->second.Expired(clock_.Now())) return std::nullopt;
    return it->second.value;
}

Result<std::string> KvLookup::Decrypt(std::string_view ciphertext) const {
    if (!box_) return KeyValueLookup::Decrypt(ciphertext);
    Result<std::string> plain = box_->Decrypt(ciphertext);
    if (plain) {
        std::lock_guard lock(revealed_->mu);
        revealed_->items.push_back(*plain);
    }
    return plain;
}

std::vector<std::string> KvLookup::Revealed() const {
    std::lock_guard lock(revealed_->mu);
    return revealed_->items;
}

KvCache::KvCache(KvStore& store) : store_(store), snapshot_(std::make_shared<KvSnapshot>()) {}

KvSnapshotPtr KvCache::Snapshot() const {
    std::lock_guard lock(mu_);
    return snapshot_;
}

void KvCache::Install(KvSnapshotPtr snap) {
    std::lock_guard lock(mu_);
    // Two refreshes can race; the newer version wins.
    if (snap->version >= snapshot_->version) snapshot_ = std::move(snap);
}

void KvCache::Refresh(std::function<void(Status)> next) {
    store_.Version([this, next = std::move(next)](Result<int64_t> v) mutable {
        if (!v) return next(v.error());
        if (Snapshot()->version == *v) return next(Status{});
        store_.Load([this, next = std::move(next)](Result<KvSnapshotPtr> snap) mutable {
            if (!snap) return next(snap.error());
            Install(std::move(*snap));
            next(Status{});
        });
    });
}

Status KvCache::RefreshBlocking() {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    Refresh([promise](Status st) { promise->set_value(std::move(st)); });
    return future.get();
}

KvLookup KvCache::LookupFor(std::string user) const {
    return KvLookup(Snapshot(), store_.box(), store_.clock(), std::move(user));
}

}  // namespace squall::core
