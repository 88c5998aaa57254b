#include "squall/sensors/sensor_host.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/core/log.hpp"
#include "squall/core/store/store.hpp"
#include "squall/packs/config.hpp"

#ifndef SQUALL_SENSOR_WRAPPER_DIR
#error "SQUALL_SENSOR_WRAPPER_DIR must point at sensors/python"
#endif
#ifndef SQUALL_PYTHON_WRAPPER_DIR
#error "SQUALL_PYTHON_WRAPPER_DIR must point at actionrunners/python (the st2common shim)"
#endif

namespace squall::sensors {
namespace {

using core::Log;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kSpawnTrigger = "core.st2.sensor.process_spawn";
constexpr const char* kExitTrigger = "core.st2.sensor.process_exit";
/// How much of a malformed line the log shows.
constexpr size_t kShownLineBytes = 200;
/// Lines dispatched per turn of the loop before it looks at its leases again.
constexpr size_t kDispatchBatch = 500;

// KEYS: 1 lease. ARGV: 1 owner, 2 ttl (ms). Renews our lease or takes it back when free; 0 when another holds it.
const core::Script& RenewScript() {
    static const core::Script kScript(R"lua(
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
)lua");
    return kScript;
}

// KEYS: 1 lease. ARGV: 1 owner.
const core::Script& ReleaseScript() {
    static const core::Script kScript(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)lua");
    return kScript;
}

// KEYS: 1 members. ARGV: 1 member, 2 now (ms), 3 ttl (ms). Marks this role alive and counts the live ones.
const core::Script& MembersScript() {
    static const core::Script kScript(R"lua(
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 10)
return redis.call('ZCARD', KEYS[1])
)lua");
    return kScript;
}

std::string Shown(std::string_view line) {
    if (line.size() <= kShownLineBytes) return std::string(line);
    return std::string(line.substr(0, kShownLineBytes)) + "...";
}

std::string EnvOr(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only after start-up
    return v && *v ? std::string(v) : fallback;
}

int64_t UnixSeconds(const core::Clock& clock) {
    return core::ToMicros(clock.Now()) / 1000000;
}

}  // namespace

Result<SensorLine> ParseSensorLine(std::string_view text) {
    // Bounded like every JSON that enters: a sensor's payload nested 100,000 deep would crash the rules engine.
    Result<Json> parsed = core::ParseJsonLimited(text, "the line");
    if (!parsed) return InvalidArgument("not JSON (" + parsed.error().message + ")");
    Json j = std::move(*parsed);
    if (!j.is_object())
        return InvalidArgument("not a JSON object (expected {\"trigger\", \"payload\", \"trace_tag\"})");
    SensorLine line;
    for (const auto& [key, value] : j.items()) {
        if (key == "trigger") {
            if (!value.is_string() || !core::SplitRef(value.get<std::string>())) {
                return InvalidArgument("\"trigger\": must be a trigger type ref of the form pack.name");
            }
            line.trigger = value.get<std::string>();
        } else if (key == "payload") {
            if (value.is_null()) continue;
            if (!value.is_object()) return InvalidArgument("\"payload\": must be an object");
            line.payload = value;
        } else if (key == "trace_tag") {
            if (value.is_null()) continue;
            if (!value.is_string()) return InvalidArgument("\"trace_tag\": must be a string");
            line.trace_tag = value.get<std::string>();
        } else {
            return InvalidArgument("unknown key \"" + key + "\" (expected trigger, payload, trace_tag)");
        }
    }
    if (line.trigger.empty()) return InvalidArgument("\"trigger\" is required");
    return line;
}

/// Work for the loop thread: a line to dispatch, or a process_spawn/exit instance (`internal`).
struct SensorHost::Item {
    std::string sensor;
    std::string trigger;
    Json payload;
    std::string trace_tag;
    bool internal = false;
};

/// A sensor whose lease this host holds. Changed under mu_.
struct SensorHost::Held {
    enum class State {
        kWaiting,   ///< lease held, no process: started at next_start
        kRunning,   ///< a process runs
        kStopping,  ///< the process was told to stop
        kGone,      ///< stopped: the entry is removed (and the lease released when `release`)
    };
    std::string ref;
    Json sensor;             ///< SensorMeta::ToJson as registered
    std::string definition;  ///< sensor.dump(), to notice a changed registration
    State state = State::kWaiting;
    core::ProcessSupervisor::Handle handle = 0;
    uint64_t generation = 0;
    int pid = 0;
    unsigned restarts = 0;  ///< consecutive short runs (the backoff's exponent)
    SteadyTime next_start{};
    SteadyTime started{};
    SteadyTime renewed{};
    bool release = true;  ///< give the lease up once stopped (false when it was lost to another role)
};

SensorHost::SensorHost(SensorContext& ctx, asio::io_context& io, SensorHostOptions options)
    : ctx_(ctx),
      options_(std::move(options)),
      members_key_(ctx.triggers.keys().Prefix() + "{s}sensors:members"),
      supervisor_(io) {}

SensorHost::~SensorHost() {
    Stop();
}

std::string SensorHost::LeaseKey(const std::string& ref) const {
    return ctx_.triggers.keys().Prefix() + "{s}sensors:lease:" + ref;
}

void SensorHost::Start() {
    if (thread_.joinable()) return;
    {
        std::lock_guard lock(mu_);
        stopping_ = false;
    }
    thread_ = std::thread([this] { Loop(); });
}

void SensorHost::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

SensorHost::Stats SensorHost::stats() const {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    s.running = 0;
    for (const auto& [ref, held] : held_) {
        if (held->state == Held::State::kRunning) ++s.running;
    }
    return s;
}

uint64_t SensorHost::MalformedOf(const std::string& ref) const {
    std::lock_guard lock(mu_);
    auto it = malformed_.find(ref);
    return it == malformed_.end() ? 0 : it->second;
}

void SensorHost::Loop() {
    auto log = core::Logger("sensors");
    SteadyTime next_pass{};
    while (true) {
        {
            std::unique_lock lock(mu_);
            cv_.wait_until(lock, next_pass, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) break;
        }
        try {
            if (std::chrono::steady_clock::now() >= next_pass) {
                PassBlocking();
                next_pass = std::chrono::steady_clock::now() + options_.poll;
            }
            DispatchPending();
        } catch (const std::exception& e) {  // the loop's per-pass boundary: log and go on
            Log(*log, spdlog::level::err, "sensors pass failed", {{"error", e.what()}});
        }
    }

    // Shutdown: stop every process, keep the leases while they stop (so that no other role starts a second copy
    // meanwhile), then give them up.
    {
        std::lock_guard lock(mu_);
        for (auto& [ref, held] : held_) StopProcess(*held);
    }
    const SteadyTime give_up = std::chrono::steady_clock::now() + options_.stop_grace + std::chrono::seconds(3);
    while (true) {
        std::vector<std::string> refs;
        bool all_gone = true;
        {
            std::lock_guard lock(mu_);
            for (auto& [ref, held] : held_) {
                refs.push_back(ref);
                if (held->state != Held::State::kGone) all_gone = false;
            }
        }
        if (all_gone || std::chrono::steady_clock::now() >= give_up) break;
        for (const auto& ref : refs) (void)RenewBlocking(ref);
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    std::vector<std::string> release;
    {
        std::lock_guard lock(mu_);
        for (auto& [ref, held] : held_) {
            if (held->release) release.push_back(ref);
        }
        held_.clear();
    }
    for (const auto& ref : release) ReleaseBlocking(ref);
    (void)ctx_.redis->CommandBlocking({"ZREM", members_key_, ctx_.instance});
    DispatchPending();  // the process_exit instances of the stopped processes
}

size_t SensorHost::MembersBlocking() {
    const int64_t now_ms = core::ToMicros(ctx_.triggers.clock().Now()) / 1000;
    Result<core::RedisReply> r = MembersScript().RunBlocking(
        *ctx_.redis, {members_key_}, {ctx_.instance, std::to_string(now_ms), std::to_string(options_.lease_ttl.count())}
    );
    if (!r || r->IsError() || r->integer < 1) return 0;
    return static_cast<size_t>(r->integer);
}

bool SensorHost::RenewBlocking(const std::string& ref) {
    Result<core::RedisReply> r = RenewScript().RunBlocking(
        *ctx_.redis, {LeaseKey(ref)}, {ctx_.instance, std::to_string(options_.lease_ttl.count())}
    );
    if (!r || r->IsError()) throw Exception(r ? Unavailable("redis: " + r->str) : r.error());
    return r->integer == 1;
}

bool SensorHost::TakeBlocking(const std::string& ref) {
    Result<core::RedisReply> r = ctx_.redis->CommandBlocking(
        {"SET", LeaseKey(ref), ctx_.instance, "NX", "PX", std::to_string(options_.lease_ttl.count())}
    );
    return r && !r->IsError() && !r->IsNil() && r->str == "OK";
}

void SensorHost::ReleaseBlocking(const std::string& ref) {
    (void)ReleaseScript().RunBlocking(*ctx_.redis, {LeaseKey(ref)}, {ctx_.instance});
}

void SensorHost::PassBlocking() {
    auto log = core::Logger("sensors");
    const SteadyTime now = std::chrono::steady_clock::now();
    size_t members = std::max<size_t>(MembersBlocking(), 1);

    Result<packs::ContentSnapshotPtr> snap = ctx_.content.GetBlocking();
    std::map<std::string, const Json*> wanted;
    if (snap) {
        for (const auto& [ref, sensor] : (*snap)->sensors) {
            if (sensor.value("enabled", true) && !sensor.value("entry_point", "").empty()) wanted[ref] = &sensor;
        }
    }

    // 1. Renew what we hold; stop what is gone, changed or lost.
    std::vector<std::string> held_refs;
    {
        std::lock_guard lock(mu_);
        for (auto& [ref, held] : held_) held_refs.push_back(ref);
    }
    for (const auto& ref : held_refs) {
        bool renewed = false;
        bool lost = false;
        try {
            renewed = RenewBlocking(ref);
            lost = !renewed;
        } catch (const Exception& e) {
            Log(*log, spdlog::level::warn, "sensor lease not renewed", {{"sensor", ref}, {"error", e.what()}});
        }
        std::lock_guard lock(mu_);
        Held& held = *held_[ref];
        if (renewed) held.renewed = now;
        const bool expiring = !renewed && now - held.renewed > options_.lease_ttl * 3 / 4;
        if (lost || expiring) {
            if (held.state != Held::State::kGone && held.state != Held::State::kStopping) {
                Log(*log,
                    spdlog::level::warn,
                    lost ? "sensor lease lost to another role: stopping it here"
                         : "sensor lease may have expired: stopping it here",
                    {{"sensor", ref}, {"instance", ctx_.instance}});
            }
            held.release = false;
            StopProcess(held);
            continue;
        }
        if (!snap) continue;  // content unreadable: keep what runs
        auto it = wanted.find(ref);
        if (it == wanted.end() || it->second->dump() != held.definition) {
            if (held.state != Held::State::kStopping && held.state != Held::State::kGone) {
                Log(*log,
                    spdlog::level::info,
                    it == wanted.end() ? "sensor disabled or removed: stopping it" : "sensor changed: restarting it",
                    {{"sensor", ref}});
            }
            StopProcess(held);
        }
    }

    // 2. Entries whose process is gone leave (giving the lease up unless it was lost).
    std::vector<std::string> release;
    size_t active = 0;
    {
        std::lock_guard lock(mu_);
        for (auto it = held_.begin(); it != held_.end();) {
            if (it->second->state == Held::State::kGone) {
                if (it->second->release) release.push_back(it->first);
                it = held_.erase(it);
                continue;
            }
            if (it->second->state != Held::State::kStopping) ++active;
            ++it;
        }
    }
    for (const auto& ref : release) ReleaseBlocking(ref);
    if (!snap) return;

    // 3. Balance: at most our share of the sensors (rounded up); one surplus sensor is handed back per pass.
    const size_t share = (wanted.size() + members - 1) / members;
    if (active > share && members > 1) {
        std::lock_guard lock(mu_);
        for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
            Held& held = *it->second;
            if (held.state == Held::State::kStopping || held.state == Held::State::kGone) continue;
            Log(*log,
                spdlog::level::info,
                "sensor handed back for another sensors role",
                {{"sensor", held.ref}, {"members", std::to_string(members)}});
            StopProcess(held);
            --active;
            break;
        }
    }

    // 4. Take free sensors up to our share.
    for (const auto& [ref, sensor] : wanted) {
        if (active >= share) break;
        {
            std::lock_guard lock(mu_);
            if (held_.count(ref)) continue;
        }
        if (!TakeBlocking(ref)) continue;
        auto held = std::make_unique<Held>();
        held->ref = ref;
        held->sensor = *sensor;
        held->definition = sensor->dump();
        held->next_start = now;
        held->renewed = now;
        Log(*log, spdlog::level::info, "sensor lease taken", {{"sensor", ref}, {"instance", ctx_.instance}});
        std::lock_guard lock(mu_);
        held_[ref] = std::move(held);
        ++active;
    }

    // 5. Start what is due.
    std::lock_guard lock(mu_);
    for (auto& [ref, held] : held_) {
        if (held->state != Held::State::kWaiting || held->next_start > now) continue;
        const std::string pack = held->sensor.value("pack", "");
        held->sensor["config"] = RenderedConfig(**snap, pack, held->ref, &held->sensor["config_revealed"]);
        std::vector<std::string> secret_keys;
        if (auto s = (*snap)->config_secrets.find(pack); s != (*snap)->config_secrets.end()) secret_keys = s->second;
        held->sensor["config_secret_keys"] = secret_keys;
        StartProcess(*held);
    }
}

Json SensorHost::RenderedConfig(
    const packs::ContentSnapshot& snap, const std::string& pack, const std::string& ref, Json* revealed
) {
    // StackStorm's sensor wrapper loads the config through ContentPackConfigLoader, which renders its datastore
    // values (`{{ st2kv.system.x }}`, `| decrypt_kv`) as the system user; a sensor reads the values, not the templates.
    *revealed = Json::array();
    auto log = core::Logger("sensors");
    Json stored = snap.Config(pack);
    if (!ctx_.kv || stored.dump().find("{{") == std::string::npos) return stored;
    if (Status st = ctx_.kv->RefreshBlocking(); !st) {
        Log(*log,
            spdlog::level::warn,
            "cannot read the datastore for a sensor's config; the last snapshot is used",
            {{"sensor", ref}, {"error", st.error().message}});
    }
    core::KvLookup kv = ctx_.kv->LookupFor("squall");
    core::RenderOptions render;
    render.kv = &kv;
    Result<Json> rendered = snap.ConfigContext(pack, render);
    for (const auto& v : kv.Revealed()) revealed->push_back(v);
    if (rendered) return *rendered;
    Log(*log,
        spdlog::level::warn,
        "a sensor's pack config does not render; the sensor gets it as stored",
        {{"sensor", ref}, {"error", core::MaskSecrets(rendered.error().message, kv.Revealed())}});
    return stored;
}

void SensorHost::StartProcess(Held& held) {
    auto log = core::Logger("sensors");
    const Json& s = held.sensor;
    const std::string pack = s.value("pack", "");
    const std::string entry = s.value("entry_point", "");
    std::string artifact = s.value("artifact_uri", "");
    if (artifact.rfind("file://", 0) == 0) artifact = artifact.substr(7);
    const std::string pack_path =
        artifact.size() > entry.size() + 9 ? artifact.substr(0, artifact.size() - entry.size() - 9) : std::string();

    core::ProcessSpec spec;
    const bool python = entry.size() > 3 && entry.compare(entry.size() - 3, 3, ".py") == 0;
    if (python) {
        std::string interpreter = options_.python.empty() ? EnvOr("SQUALL_PYTHON", "python3") : options_.python;
        const std::string venv = options_.data_dir + "/virtualenvs/" + pack + "/bin/python";
        if (!options_.data_dir.empty() && ::access(venv.c_str(), X_OK) == 0) interpreter = venv;
        std::string types;
        for (const auto& t : s.value("trigger_types", Json::array())) {
            types += (types.empty() ? "" : ",") + t.get<std::string>();
        }
        const std::string wrapper_dir = EnvOr("SQUALL_SENSOR_WRAPPER_DIR", SQUALL_SENSOR_WRAPPER_DIR);
        spec.argv = {
            interpreter,
            "-u",
            wrapper_dir + "/squall_sensor_wrapper.py",
            "--pack=" + pack,
            "--file-path=" + artifact,
            "--class-name=" + s.value("class_name", ""),
            "--trigger-type-refs=" + types};
        if (s.value("poll_interval", 0) > 0) {
            spec.argv.push_back("--poll-interval=" + std::to_string(s.value("poll_interval", 0)));
        }
        spec.env["PYTHONPATH"] = wrapper_dir + ":" + EnvOr("SQUALL_PYTHON_WRAPPER_DIR", SQUALL_PYTHON_WRAPPER_DIR);
        spec.env["PYTHONDONTWRITEBYTECODE"] = "1";
    } else {
        spec.argv = {artifact};
    }
    for (const char* name : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}) {
        if (const char* v = std::getenv(name); v) spec.env[name] = v;  // NOLINT(concurrency-mt-unsafe)
    }
    spec.env["SQUALL_API_URL"] = options_.api_url;
    spec.env["SQUALL_API_KEY"] = options_.api_key;
    spec.env["SQUALL_SENSOR_REF"] = held.ref;
    spec.env["SQUALL_SENSOR_POLL_INTERVAL"] = std::to_string(s.value("poll_interval", 0));
    spec.env["SQUALL_SENSOR_TRIGGER_TYPES"] = s.value("trigger_types", Json::array()).dump();
    spec.cwd = pack_path;
    const Json config = s.value("config", Json::object());
    spec.stdin_data = config.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    spec.capture = false;
    spec.max_output_bytes = options_.max_line_bytes;
    spec.parent_death_signal = SIGKILL;  // a sensor never outlives its role (another role takes it over)
    spec.cancel_grace = options_.stop_grace;
    if (!options_.api_key.empty()) spec.secrets.push_back(options_.api_key);
    for (auto& v : packs::SecretValuesOf(config, s.value("config_secret_keys", std::vector<std::string>()))) {
        spec.secrets.push_back(std::move(v));
    }
    for (const auto& v : s.value("config_revealed", Json::array())) {
        if (v.is_string() && !v.get_ref<const std::string&>().empty()) spec.secrets.push_back(v);
    }

    const std::string ref = held.ref;
    const uint64_t generation = next_generation_++;
    std::string cmd;
    for (const auto& a : spec.argv) cmd += (cmd.empty() ? "" : " ") + a;
    spec.on_spawned = [this, ref, generation, cmd](int pid) { OnSpawned(ref, generation, pid, cmd); };
    held.generation = generation;
    held.state = Held::State::kRunning;
    held.started = std::chrono::steady_clock::now();
    held.pid = 0;
    held.handle = supervisor_.Start(
        std::move(spec),
        [this, ref](std::string_view stream, std::string line) { OnLine(ref, stream, std::move(line)); },
        [this, ref, generation](core::ProcessOutcome outcome) { OnExit(ref, generation, outcome); }
    );
    Log(*log, spdlog::level::debug, "sensor starting", {{"sensor", ref}, {"cmd", cmd}});
}

void SensorHost::StopProcess(Held& held) {
    if (held.state == Held::State::kWaiting) {
        held.state = Held::State::kGone;
    } else if (held.state == Held::State::kRunning) {
        held.state = Held::State::kStopping;
        supervisor_.Cancel(held.handle);
    }
}

void SensorHost::OnSpawned(const std::string& ref, uint64_t generation, int pid, const std::string& cmd) {
    std::lock_guard lock(mu_);
    auto it = held_.find(ref);
    if (it == held_.end() || it->second->generation != generation) return;
    it->second->pid = pid;
    ++stats_.spawned;
    Log(*core::Logger("sensors"),
        spdlog::level::info,
        "sensor process started",
        {{"sensor", ref}, {"pid", std::to_string(pid)}});
    Item item;
    item.sensor = ref;
    item.trigger = kSpawnTrigger;
    item.payload = {
        {"id", it->second->sensor.value("class_name", ref)},
        {"ref", ref},
        {"timestamp", UnixSeconds(ctx_.triggers.clock())},
        {"pid", pid},
        {"cmd", cmd}};
    item.internal = true;
    queue_.push_back(std::move(item));  // internal items are never dropped: at most two per process
    cv_.notify_all();
}

void SensorHost::OnExit(const std::string& ref, uint64_t generation, const core::ProcessOutcome& outcome) {
    auto log = core::Logger("sensors");
    std::lock_guard lock(mu_);
    auto it = held_.find(ref);
    if (it == held_.end() || it->second->generation != generation) return;
    Held& held = *it->second;
    const auto now = std::chrono::steady_clock::now();
    if (outcome.spawn_error) {
        Log(*log,
            spdlog::level::err,
            "sensor process not started",
            {{"sensor", ref}, {"error", outcome.spawn_error->message}});
    } else {
        ++stats_.exited;
        Item item;
        item.sensor = ref;
        item.trigger = kExitTrigger;
        item.payload = {
            {"id", held.sensor.value("class_name", ref)},
            {"ref", ref},
            {"timestamp", UnixSeconds(ctx_.triggers.clock())},
            {"exit_code", outcome.exit_code}};
        item.internal = true;
        queue_.push_back(std::move(item));
        cv_.notify_all();
    }
    if (held.state == Held::State::kStopping || stopping_) {
        held.state = Held::State::kGone;
        Log(*log,
            spdlog::level::info,
            "sensor process stopped",
            {{"sensor", ref}, {"exit_code", std::to_string(outcome.exit_code)}});
        return;
    }
    if (now - held.started >= options_.stable_after) held.restarts = 0;
    auto delay = options_.backoff_initial;
    for (unsigned i = 0; i < held.restarts && delay < options_.backoff_max; ++i) delay *= 2;
    delay = std::min(delay, options_.backoff_max);
    ++held.restarts;
    held.state = Held::State::kWaiting;
    held.next_start = now + delay;
    if (!outcome.spawn_error) {
        Log(*log,
            spdlog::level::warn,
            "sensor process exited; restarting it",
            {{"sensor", ref},
             {"exit_code", std::to_string(outcome.exit_code)},
             {"restart_in_ms", std::to_string(delay.count())}});
    }
}

void SensorHost::OnLine(const std::string& ref, std::string_view stream, std::string line) {
    auto log = core::Logger("sensors");
    if (stream == "stderr") {
        Log(*log, spdlog::level::info, "sensor stderr", {{"sensor", ref}, {"line", line}});
        return;
    }
    if (line.empty()) return;
    Result<SensorLine> parsed = ParseSensorLine(line);
    if (!parsed) {
        {
            std::lock_guard lock(mu_);
            ++stats_.malformed;
            ++malformed_[ref];
        }
        Log(*log,
            spdlog::level::warn,
            "sensor wrote a malformed line",
            {{"sensor", ref}, {"error", parsed.error().message}, {"line", Shown(line)}});
        return;
    }
    Item item;
    item.sensor = ref;
    item.trigger = std::move(parsed->trigger);
    item.payload = std::move(parsed->payload);
    item.trace_tag = std::move(parsed->trace_tag);
    Enqueue(std::move(item));
}

void SensorHost::Enqueue(Item item) {
    uint64_t dropped = 0;
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= options_.max_queue) {
            dropped = ++stats_.dropped;
        } else {
            queue_.push_back(std::move(item));
        }
    }
    if (dropped == 0) {
        cv_.notify_all();
    } else if ((dropped & (dropped - 1)) == 0) {  // 1, 2, 4, 8, ...: the log is not flooded
        Log(*core::Logger("sensors"),
            spdlog::level::err,
            "sensor line dropped: the dispatch queue is full",
            {{"sensor", item.sensor}, {"dropped_total", std::to_string(dropped)}});
    }
}

void SensorHost::DispatchPending() {
    for (size_t n = 0; n < kDispatchBatch; ++n) {
        Item item;
        {
            std::lock_guard lock(mu_);
            if (queue_.empty()) return;
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        HandleItem(item);
    }
}

void SensorHost::HandleItem(const Item& item) {
    auto log = core::Logger("sensors");
    Result<packs::ContentSnapshotPtr> snap = ctx_.content.GetBlocking();
    // A trigger type registered a moment ago may not be in the cached snapshot yet: look again before refusing.
    if (snap && !(*snap)->trigger_types.count(item.trigger)) snap = ctx_.content.RecheckBlocking();
    if (!snap) {
        Log(*log,
            spdlog::level::err,
            "sensor trigger not dispatched: cannot read the trigger types",
            {{"sensor", item.sensor}, {"trigger", item.trigger}, {"error", snap.error().message}});
        return;
    }
    if (!item.internal && !(*snap)->trigger_types.count(item.trigger)) {
        {
            std::lock_guard lock(mu_);
            ++stats_.invalid;
        }
        Log(*log,
            spdlog::level::warn,
            "sensor dispatched an unknown trigger type: refused",
            {{"sensor", item.sensor}, {"trigger", item.trigger}});
        ctx_.triggers.Count("rejected", item.trigger);
        return;
    }
    if (Status valid = validator_.Validate(**snap, item.trigger, item.payload); !valid) {
        {
            std::lock_guard lock(mu_);
            ++stats_.invalid;
        }
        Log(*log,
            spdlog::level::warn,
            "sensor payload refused",
            {{"sensor", item.sensor}, {"trigger", item.trigger}, {"error", valid.error().message}});
        ctx_.triggers.Count("rejected", item.trigger);
        return;
    }
    core::TriggerInstance ti;
    ti.id = core::NewId();
    ti.trigger = item.trigger;
    ti.payload = item.payload;
    ti.trace_tag = item.trace_tag;
    ti.occurrence_time = core::FormatIsoTimestamp(ctx_.triggers.clock().Now());
    Result<std::string> stored = ctx_.triggers.EmitBlocking(ti);
    if (!stored) {
        Log(*log,
            spdlog::level::err,
            "sensor trigger not stored",
            {{"sensor", item.sensor}, {"trigger", item.trigger}, {"error", stored.error().message}});
        return;
    }
    std::lock_guard lock(mu_);
    if (!item.internal) ++stats_.dispatched;
}

}  // namespace squall::sensors
