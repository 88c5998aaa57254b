#include "squall/sensors/payload.hpp"

#include <cctype>
#include <thread>

#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/core/store/store.hpp"

namespace squall::sensors {
namespace {

// KEYS: 1 the delivery's key, 2 the instance it makes. ARGV: 1 claim ttl (ms), 2 done ttl (ms).
// A delivery is done when its key says so or its instance exists (the key may have been lost with a claim that
// expired after the instance was stored); else it is free unless a claim is held.
const char* kClaim = R"lua(
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 'duplicate' end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 'duplicate'
end
if v then return 'inflight' end
redis.call('SET', KEYS[1], 'claimed', 'PX', ARGV[1])
return 'claimed'
)lua";

const core::Script& ClaimScript() {
    static const core::Script kScript(kClaim);
    return kScript;
}

constexpr std::chrono::milliseconds kClaimTtl{30000};
constexpr std::chrono::milliseconds kInFlightWait{5000};
// Stale claims remembered by one process (DeliveryDedupe::ReleaseBlocking); past this many, forgotten (they expire).
constexpr size_t kMaxStale = 10000;

int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Result<std::string> PercentDecode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= text.size() || HexDigit(text[i + 1]) < 0 || HexDigit(text[i + 2]) < 0) {
                return InvalidArgument("request body: a bad %-escape at byte " + std::to_string(i));
            }
            out += static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    if (!core::IsValidUtf8(out)) return InvalidArgument("request body: a form field is not UTF-8");
    return out;
}

}  // namespace

Status PayloadValidator::Validate(
    const packs::ContentSnapshot& snapshot, const std::string& trigger, const Json& payload
) {
    std::shared_ptr<const packs::JsonSchema> schema;
    {
        std::lock_guard lock(mu_);
        if (version_ != snapshot.version) {
            compiled_.clear();
            version_ = snapshot.version;
        }
        auto it = compiled_.find(trigger);
        if (it == compiled_.end()) {
            auto type = snapshot.trigger_types.find(trigger);
            const Json none = Json::object();
            const Json& s = type == snapshot.trigger_types.end() ? none : type->second.value("payload_schema", none);
            if (s.is_object() && !s.empty()) {
                Result<packs::JsonSchema> c = packs::JsonSchema::Compile(s);
                // A schema that does not compile was refused when its pack loaded; should one get here, it
                // checks nothing rather than refusing every event.
                if (c) schema = std::make_shared<const packs::JsonSchema>(std::move(*c));
            }
            compiled_.emplace(trigger, schema);
        } else {
            schema = it->second;
        }
    }
    if (!schema) return {};
    packs::SchemaMessageOptions options;
    options.subject = "field";
    Status st = schema->Validate(payload, "payload", options);
    if (st) return {};
    rejected_.fetch_add(1);
    return InvalidArgument("payload of trigger \"" + trigger + "\": " + st.error().message);
}

std::string DeliveryDedupe::Key(const std::string& scope, const std::string& key) const {
    return redis_->endpoint().key_prefix + "{ti}webhook:dedupe:" + core::Sha256Hex(scope + "\n" + key);
}

Result<DeliveryDedupe::Claim> DeliveryDedupe::ClaimBlocking(
    const std::string& scope, const std::string& key, const std::string& instance_key
) {
    const auto deadline = std::chrono::steady_clock::now() + kInFlightWait;
    while (true) {
        Result<core::RedisReply> r = ClaimScript().RunBlocking(
            *redis_, {Key(scope, key), instance_key}, {std::to_string(kClaimTtl.count()), "1000"}
        );
        if (!r) return r.error();
        if (r->IsError()) return Internal("redis: " + r->str);
        if (r->str == "claimed") return Claim::kClaimed;
        if (r->str == "duplicate") return Claim::kDuplicate;
        if (TakeOverStale(Key(scope, key))) continue;
        // Another request (maybe in another API process) is storing this delivery right now: wait for its outcome
        // rather than answer "duplicate" for an instance that may yet fail to be stored.
        if (std::chrono::steady_clock::now() >= deadline) {
            return Unavailable("the same delivery is being stored by another request; retry later");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

Status DeliveryDedupe::DoneBlocking(const std::string& scope, const std::string& key, std::chrono::seconds ttl) {
    Result<core::RedisReply> r =
        redis_->CommandBlocking({"SET", Key(scope, key), "done", "EX", std::to_string(ttl.count())});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    return {};
}

void DeliveryDedupe::ReleaseBlocking(const std::string& scope, const std::string& key) {
    const std::string k = Key(scope, key);
    Result<core::RedisReply> r = redis_->CommandBlocking({"DEL", k});
    if (r && !r->IsError()) return;
    // Best effort: the claim expires anyway (30 s); meanwhile a retry reaching this process takes it over.
    std::lock_guard lock(mu_);
    if (stale_.size() >= kMaxStale) stale_.clear();
    stale_.insert(k);
}

bool DeliveryDedupe::TakeOverStale(const std::string& k) {
    {
        std::lock_guard lock(mu_);
        if (!stale_.count(k)) return false;
    }
    // The request that claimed it ended (failed) in this process: nobody is storing the delivery. Should another
    // process claim it between our DEL and our claim, the instance id (derived from the delivery) still makes one
    // instance at most.
    Result<core::RedisReply> r = redis_->CommandBlocking({"DEL", k});
    if (!r || r->IsError()) return false;
    std::lock_guard lock(mu_);
    stale_.erase(k);
    return true;
}

std::string DeliveryInstanceId(const std::string& scope, const std::string& key) {
    return core::Sha256Hex("delivery\n" + scope + "\n" + key).substr(0, 24);
}

Result<Json> ParseFormUrlEncoded(std::string_view text) {
    Json out = Json::object();
    size_t start = 0;
    while (start <= text.size()) {
        size_t amp = text.find('&', start);
        if (amp == std::string_view::npos) amp = text.size();
        const std::string_view pair = text.substr(start, amp - start);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            Result<std::string> name = PercentDecode(pair.substr(0, eq));
            if (!name) return name.error();
            Result<std::string> value =
                eq == std::string_view::npos ? Result<std::string>(std::string()) : PercentDecode(pair.substr(eq + 1));
            if (!value) return value.error();
            if (!out.contains(*name)) out[*name] = Json::array();
            out[*name].push_back(*value);
        }
        start = amp + 1;
    }
    return out;
}

bool IsFormContentType(std::string_view content_type) {
    std::string lower(content_type.substr(0, content_type.find(';')));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!lower.empty() && lower.back() == ' ') lower.pop_back();
    return lower == "application/x-www-form-urlencoded";
}

}  // namespace squall::sensors
