// The composition root (STYLE.md §1): config, registries, Redis, roles. The only place that builds the object
// graph; every class below gets exactly what it needs.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "app.hpp"
#include "embedded_redis.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/api/server.hpp"
#include "squall/core/action_token.hpp"
#include "squall/core/config.hpp"
#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/service_registry.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/store/retention.hpp"
#include "squall/executions/notifier.hpp"
#include "squall/executions/service.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/packs/references.hpp"
#include "squall/rules/engine.hpp"
#include "squall/sensors/sensor_host.hpp"
#include "squall/sensors/timers.hpp"
#include "squall/workflows/engine.hpp"
#include "squall/workflows/pack_check.hpp"

namespace squall::app {
namespace fs = std::filesystem;
using core::Log;

namespace {

/// One `INFO persistence` field ("loading", "loading_loaded_bytes", ...); empty when absent.
std::string InfoField(const std::string& info, const std::string& name) {
    const std::string key = name + ":";
    size_t at = 0;
    while ((at = info.find(key, at)) != std::string::npos) {
        if (at == 0 || info[at - 1] == '\n') {
            const size_t end = info.find_first_of("\r\n", at);
            return info.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
        }
        at += key.size();
    }
    return {};
}

/// Waits until Redis answers PING. While Redis is loading its data set (an AOF of gigabytes takes minutes), the
/// wait follows its progress (`INFO persistence`: loading_loaded_bytes) and only gives up when nothing moved for
/// `stall` — or when Redis gives no answer at all for `stall`. There is no fixed deadline: a data set of any
/// size can be loaded.
Status WaitForRedis(core::RedisClient& client, std::chrono::seconds stall, spdlog::logger& log) {
    using Clock = std::chrono::steady_clock;
    auto last_progress = Clock::now();
    auto last_log = Clock::now();
    std::string last_loaded;
    Error last = Unavailable("no answer");
    while (Clock::now() - last_progress < stall) {
        Result<core::RedisReply> r = client.CommandBlocking({"PING"});
        if (r && !r->IsError()) return {};
        last = r ? Unavailable(r->str) : r.error();
        if (r && r->str.rfind("LOADING", 0) == 0) {
            Result<core::RedisReply> info = client.CommandBlocking({"INFO", "persistence"});
            if (info && !info->IsError()) {
                const std::string loaded = InfoField(info->str, "loading_loaded_bytes");
                if (loaded != last_loaded) {
                    last_loaded = loaded;
                    last_progress = Clock::now();
                }
                if (Clock::now() - last_log >= std::chrono::seconds(5)) {
                    last_log = Clock::now();
                    core::Log(
                        log,
                        spdlog::level::info,
                        "waiting for Redis to load its data",
                        {{"loaded_percent", InfoField(info->str, "loading_loaded_perc")},
                         {"loaded_bytes", loaded},
                         {"eta_seconds", InfoField(info->str, "loading_eta_seconds")}}
                    );
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Unavailable(
        "Redis at " + client.endpoint().ToString() + " " +
        (last_loaded.empty() ? "did not answer" : "stopped making progress loading its data") + " for " +
        std::to_string(stall.count()) + " s: " + last.message
    );
}

/// DATA/admin-api-key, created on first start: written once, atomically, mode 0600 from the start.
Result<std::string> AdminKey(const std::string& data_dir) {
    const std::string path = data_dir + "/admin-api-key";
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::ifstream in(path);
        std::string key;
        if (in && std::getline(in, key) && !key.empty()) return key;
        key = core::RandomToken();
        Status created = core::CreateSecretFileBlocking(path, key + "\n");
        if (created) return key;
        if (created.error().code != ErrorCode::kAlreadyExists) return created.error();
        // Created by someone else meanwhile (or an empty file left behind): read it again.
    }
    return Unavailable("cannot read " + path + " (empty or unreadable)");
}

/// Holds DATA/lock (flock) for the life of the process, so that a second server on the same data dir stops
/// before it touches the embedded Redis's files and socket. The lock goes with the process, even on SIGKILL.
/// Returns the open descriptor, or an error naming the holder's pid.
Result<int> LockDataDir(const std::string& data_dir) {
    const std::string path = data_dir + "/lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));  // NOLINT
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {0};
        const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
        ::close(fd);
        std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        if (err == EWOULDBLOCK) {
            return Error(
                ErrorCode::kFailedPrecondition,
                "another squall server" + (holder.empty() ? std::string() : " (pid " + holder + ")") +
                    " is using the data dir " + data_dir + "; stop it first or pass another --data-dir"
            );
        }
        return Unavailable("cannot lock " + path + ": " + std::strerror(err));  // NOLINT
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The lock holds without the pid; the pid only makes the refusal message friendlier.
    }
    return fd;
}

std::string Hostname() {
    char buf[256] = {0};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

/// Loads the packs in each folder (the bundled folder first), checks what the registries can check (runner types, rule
/// operators), and registers them. Load errors are logged and stored with the pack; they never stop the rest.
void RegisterPacks(
    const std::vector<std::string>& dirs,
    packs::ContentStore& content,
    const actionrunners::RunnerRegistry& runners,
    const rules::OperatorRegistry& operators,
    const std::string& configs_dir
) {
    auto log = core::Logger("packs");
    // Rule files are checked by the rules component (criteria) and, for timer rules, by the timers' parser, so that
    // a CronTimer minute "*/0" is a load error naming the file and the field.
    packs::PackLoaderOptions options{configs_dir, {}, sensors::WithTimerCheck(rules::MakeRuleCheck(operators))};
    for (const auto& info : runners.Infos()) {
        options.runner_types.insert(info.name);
        options.runner_parameters[info.name] = info.parameters;
    }
    options.check_workflow = workflows::MakeWorkflowCheck();
    packs::PackLoader loader(options);
    // Every folder is loaded first, so that a rule may name a trigger type or an action of any pack.
    std::vector<std::vector<packs::LoadedPack>> loaded;
    packs::KnownContent known;
    for (const auto& dir : dirs) {
        loaded.push_back(loader.LoadAllBlocking(dir));
        for (const auto& pack : loaded.back()) known.Add(pack);
    }
    // A bundled pack that is not a system pack is replaced by an installed pack of the same name: registering it
    // first would only be undone (and would undo what the API changed in the installed one's content).
    std::set<std::string> installed;
    for (size_t d = 1; d < loaded.size(); ++d) {
        for (const auto& pack : loaded[d]) installed.insert(pack.meta.ref);
    }
    for (size_t d = 0; d < dirs.size(); ++d) {
        for (auto& pack : loaded[d]) {
            if (d == 0 && installed.count(pack.meta.ref) && !packs::IsSystemPack(pack.meta.ref)) continue;
            packs::CheckRuleReferences(pack, known);
            for (const auto& e : pack.errors) {
                Log(*log, spdlog::level::err, "pack content not loaded", {{"pack", pack.meta.ref}, {"error", e.What()}}
                );
            }
            for (const auto& w : pack.warnings) {
                Log(*log,
                    spdlog::level::warn,
                    "pack content unavailable",
                    {{"pack", pack.meta.ref}, {"warning", w.What()}});
            }
            if (pack.meta.ref.empty()) continue;
            // The first folder is the bundled one: its system packs are merged into, never replaced by, installed
            // packs of the same name (registered after them).
            const bool bundled = d == 0 && packs::IsSystemPack(pack.meta.ref);
            std::vector<std::string> merge_warnings;
            if (Status st = content.RegisterPackBlocking(pack, bundled, &merge_warnings, /*keep_api_edits=*/true);
                !st) {
                Log(*log,
                    spdlog::level::err,
                    "cannot register pack",
                    {{"pack", pack.meta.ref}, {"error", st.error().message}});
                continue;
            }
            for (const auto& w : merge_warnings) {
                Log(*log, spdlog::level::warn, "built-in content kept", {{"pack", pack.meta.ref}, {"warning", w}});
            }
            Log(*log,
                spdlog::level::info,
                "pack registered",
                {{"pack", pack.meta.ref},
                 {"actions", std::to_string(pack.actions.size())},
                 {"rules", std::to_string(pack.rules.size())},
                 {"errors", std::to_string(pack.errors.size())}});
        }
    }
}

}  // namespace

int ServerMain(const std::vector<std::string>& args) {
    Result<core::ServerConfig> loaded =
        core::LoadServerConfig(args, [](const char* n) { return std::getenv(n); });  // NOLINT
    if (!loaded) {
        std::cerr << "squall server: " << loaded.error().What() << "\n";
        return ExitCode(loaded.error().code);
    }
    const core::ServerConfig cfg = std::move(*loaded);
    core::SetupLogging({cfg.log_level, cfg.log_format == "json"});
    auto log = core::Logger("server");

    std::error_code ec;
    for (const char* sub : {"", "/packs", "/configs", "/keys"}) fs::create_directories(cfg.data_dir + sub, ec);
    if (ec) {
        std::cerr << "squall server: cannot create the data dir " << cfg.data_dir << ": " << ec.message() << "\n";
        return ExitCode(ErrorCode::kUnavailable);
    }
    chmod(cfg.data_dir.c_str(), 0700);
    // The embedded Redis's AOF and socket belong to one server: a second one on the same data dir is refused
    // before it starts Redis or removes the socket. (With an external --redis, several processes with different
    // roles may share a data dir.)
    int data_dir_lock = -1;  // kept open (and so locked) until the process exits
    if (cfg.redis.empty()) {
        Result<int> lock = LockDataDir(cfg.data_dir);
        if (!lock) {
            std::cerr << "squall server: " << lock.error().message << "\n";
            return ExitCode(lock.error().code);
        }
        data_dir_lock = *lock;
    }

    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 2; ++i) {
        io_threads.emplace_back([&io] {
            pthread_setname_np(pthread_self(), "squall-io");  // per-thread figures in top -H and perf
            io.run();
        });
    }

    std::promise<int> exit_code;
    auto exit_future = exit_code.get_future();
    std::atomic<bool> exit_set{false};
    auto request_exit = [&](int code) {
        if (!exit_set.exchange(true)) exit_code.set_value(code);
    };

    // Redis: external or embedded.
    core::RedisEndpoint endpoint;
    std::unique_ptr<EmbeddedRedis> embedded;
    if (!cfg.redis.empty()) {
        Result<core::RedisEndpoint> ep = core::RedisEndpoint::Parse(cfg.redis);
        if (!ep) {
            std::cerr << "squall server: --redis: " << ep.error().message << "\n";
            work.reset();
            io.stop();
            for (auto& t : io_threads) t.join();
            return ExitCode(ep.error().code);
        }
        endpoint = *ep;
    } else {
        embedded = std::make_unique<EmbeddedRedis>(io, cfg.data_dir + "/redis", cfg.redis_server, [&](Error e) {
            Log(*log, spdlog::level::critical, "embedded redis is gone; exiting", {{"error", e.message}});
            request_exit(ExitCode(e.code));
        });
        embedded->InheritLock(data_dir_lock);
        if (Status st = embedded->Start(); !st) {
            std::cerr << "squall server: " << st.error().What() << "\n";
            work.reset();
            io.stop();
            for (auto& t : io_threads) t.join();
            return ExitCode(st.error().code);
        }
        endpoint = embedded->Endpoint();
    }
    auto redis = core::RedisClient::Create(io, endpoint);
    int rc = 0;
    std::string action_token_key;  // signs the tokens actions get (ST2_ACTION_AUTH_TOKEN); shared through Redis
    std::string sensor_api_key;    // handed to sensor processes (SPEC §3.3: the API URL and key in their environment)
    {
        if (Status st = WaitForRedis(*redis, std::chrono::seconds(15), *log); !st) {
            std::cerr << "squall server: " << st.error().message << "\n";
            rc = ExitCode(st.error().code);
        }
        Result<std::string> admin_key = rc == 0 ? AdminKey(cfg.data_dir) : Result<std::string>(Internal("skipped"));
        if (rc == 0 && !admin_key) {
            std::cerr << "squall server: " << admin_key.error().message << "\n";
            rc = ExitCode(admin_key.error().code);
        }
        if (rc == 0) {
            if (Status st = api::RegisterApiKeyBlocking(*redis, *admin_key, "admin", core::SystemClock()); !st) {
                std::cerr << "squall server: cannot store the admin key: " << st.error().message << "\n";
                rc = ExitCode(st.error().code);
            }
            sensor_api_key = *admin_key;
        }
        if (rc == 0) {
            Result<std::string> key = core::LoadOrCreateActionTokenKeyBlocking(*redis);
            if (!key) {
                std::cerr << "squall server: cannot read the action token key: " << key.error().message << "\n";
                rc = ExitCode(key.error().code);
            } else {
                action_token_key = *key;
            }
        }
        if (rc != 0) {
            redis->Close();
            if (embedded) embedded->StopBlocking();
            work.reset();
            io.stop();
            for (auto& t : io_threads) t.join();
            return rc;
        }
    }

    // Registries, owned here and passed by reference (no global registry).
    rules::OperatorRegistry operators;
    rules::RegisterBuiltinOperators(operators);
    actionrunners::RunnerRegistry runners;
    actionrunners::RegisterBuiltinRunners(runners);
    sensors::SensorRegistry sensor_registry;
    sensors::RegisterBuiltinSensors(sensor_registry);

    core::RealClock clock;
    executions::ExecutionStore executions(redis, clock);
    core::TriggerStore triggers(redis, clock);
    rules::EnforcementStore enforcements(redis, clock);
    packs::ContentStore content(redis);
    // Sensors read content on every event: a snapshot up to 1 s old, re-checked on a miss. API reads check the
    // content version each time (one Redis GET), so what a finished `pack install` registered is there for the
    // very next request.
    packs::ContentCache content_cache(content, clock, std::chrono::milliseconds(1000));
    packs::ContentCache api_content_cache(content, clock, std::chrono::milliseconds(0));
    // The datastore: secrets are sealed with DATA/keys/datastore.key (created on first start, mode 0600).
    std::optional<core::SecretBox> kv_box;
    Result<core::SecretBox> box = core::SecretBox::LoadOrCreateBlocking(cfg.data_dir + "/keys/datastore.key");
    if (box) {
        kv_box.emplace(std::move(*box));
    } else {
        Log(*log, spdlog::level::err, "datastore secrets are disabled", {{"error", box.error().message}});
    }
    core::KvStore kv_store(redis, kv_box ? &*kv_box : nullptr, clock, &triggers);
    core::KvCache kv_cache(kv_store);
    // The one way executions are created, canceled and re-run (packs/executions). Workflows pause and resume.
    executions::ExecutionService execution_service(
        executions, &api_content_cache, &kv_cache, {"orquesta", "action-chain"}
    );
    // core.noop and any runner whose result is known without running: created ended, no runner hop
    // (docs/decisions.md, "Settled at creation").
    const executions::ExecutionService::KnownResult known_results =
        [&runners](const std::string& runner_type, const std::string& action_ref) {
            return runners.KnownResult(runner_type, action_ref);
        };
    if (Status st = content.RegisterRunnerTypesBlocking(runners.Infos()); !st) {
        Log(*log, spdlog::level::err, "cannot register runner types", {{"error", st.error().message}});
    }
    const std::string packs_dir = cfg.packs_dir.empty() ? std::string(SQUALL_SOURCE_PACKS_DIR) : cfg.packs_dir;
    if (cfg.HasRole("api") || cfg.HasRole("rules"))
        RegisterPacks({packs_dir, cfg.data_dir + "/packs"}, content, runners, operators, cfg.data_dir + "/configs");

    const std::string consumer = Hostname() + "-" + std::to_string(getpid());
    execution_service.SetKnownResults(known_results, consumer + "-api");
    std::string listen = cfg.listen;  // the real port replaces :0 once the API is bound
    std::string api_url = "http://" + listen + "/api/v1";
    sensors::SensorContext sensor_ctx{triggers, content_cache, redis, consumer, &kv_cache};
    sensors::WebhookSensor webhooks(sensor_ctx);

    std::unique_ptr<api::ApiServer> api_server;
    if (cfg.HasRole("api")) {
        const auto colon = cfg.listen.rfind(':');
        api::ApiOptions opts;
        opts.host = cfg.listen.substr(0, colon);
        opts.port = std::atoi(cfg.listen.substr(colon + 1).c_str());
        opts.threads = cfg.http_threads;
        opts.stream_heartbeat = std::chrono::seconds(cfg.stream_heartbeat);
        opts.max_connections = static_cast<size_t>(cfg.max_connections);
        opts.max_connections_per_client = static_cast<size_t>(cfg.max_connections_per_client);
        opts.webhook_lane = cfg.webhook_lane != 0;
        opts.max_queue_depth = cfg.max_queue_depth;
        opts.token_ttl = cfg.token_ttl;
        opts.token_max_ttl = cfg.token_max_ttl;
        api_server = std::make_unique<api::ApiServer>(
            api::ApiDeps{
                redis,
                executions,
                execution_service,
                triggers,
                enforcements,
                content,
                api_content_cache,
                webhooks,
                operators,
                clock,
                &kv_store,
                &kv_cache,
                cfg.data_dir,
                // The event stream's reader: its own connection (XREAD BLOCK holds it), with room for batches of
                // large output entries.
                core::RedisClient::Create(io, endpoint, {.command_timeout = std::chrono::seconds(30)}),
                action_token_key},
            opts
        );
        if (Status st = api_server->Start(); !st) {
            std::cerr << "squall server: " << st.error().message << "\n";
            request_exit(ExitCode(st.error().code));
        } else {
            listen = opts.host + ":" + std::to_string(api_server->port());
            api_url = "http://" + listen + "/api/v1";
        }
    }
    // The rules engine and the runner write on connections of their own (docs/decisions.md "One Redis connection
    // per busy role"): a webhook's write does not queue behind a batch of 512 creates or a burst of claims on one
    // socket, and the replies of each are handled on the client's own strand, so the io threads work in parallel.
    // Each reads the datastore on its own connection too: a stream consumer reads a batch its handler left pending
    // again at once only when its own connection changed (a failover; core/src/redis/stream.cpp), so every Redis call
    // of the handler must go through that connection. With the shared datastore cache, a failed read on the shared
    // connection left a batch of trigger instances pending until the reclaim, 30 s later.
    struct RoleConnection {
        core::RedisClientPtr client;
        std::unique_ptr<core::KvStore> kv_store;
        std::unique_ptr<core::KvCache> kv_cache;
    };
    std::vector<RoleConnection> role_connections;
    const auto role_connection = [&]() -> RoleConnection& {
        RoleConnection c{core::RedisClient::Create(io, endpoint), nullptr, nullptr};
        c.kv_store = std::make_unique<core::KvStore>(c.client, kv_box ? &*kv_box : nullptr, clock, &triggers);
        c.kv_cache = std::make_unique<core::KvCache>(*c.kv_store);
        return role_connections.emplace_back(std::move(c));
    };
    std::vector<std::unique_ptr<rules::RulesEngine>> rules_engines;
    if (cfg.HasRole("rules")) {
        // More than one consumer in the group (docs/decisions.md, "Rules consumers"): while one waits for Redis
        // (its batch's reads and writes) another matches, so Redis and the io threads are kept busy together.
        for (int i = 0; i < cfg.rules_consumers; ++i) {
            RoleConnection& c = role_connection();
            auto& e = rules_engines.emplace_back(std::make_unique<rules::RulesEngine>(
                io,
                c.client,
                operators,
                consumer + "-rules" + (i == 0 ? std::string() : "-" + std::to_string(i + 1)),
                c.kv_cache.get(),
                clock
            ));
            e->SetKnownResults(known_results);
            e->Start();
        }
    }
    std::unique_ptr<actionrunners::RunnerContainer> runner;
    if (cfg.HasRole("runner")) {
        actionrunners::RunnerContainerOptions ropts;
        ropts.pool = cfg.pool;
        ropts.workers = static_cast<size_t>(cfg.workers);
        ropts.consumer_name = consumer + "-runner-" + cfg.pool;
        ropts.api_url = api_url;
        ropts.action_token_key = action_token_key;
        ropts.data_dir = cfg.data_dir;
        ropts.check_rule = sensors::WithTimerCheck(rules::MakeRuleCheck(operators));
        ropts.check_workflow = workflows::MakeWorkflowCheck();
        RoleConnection& c = role_connection();
        ropts.kv = c.kv_cache.get();
        runner = std::make_unique<actionrunners::RunnerContainer>(io, c.client, runners, ropts, clock);
        runner->Start();
    }
    std::unique_ptr<actionrunners::Reaper> reaper;
    if (cfg.HasRole("gc")) {
        reaper = std::make_unique<actionrunners::Reaper>(io, redis, std::chrono::seconds(10), clock);
        reaper->Start(cfg.purge_inquiries != 0);
    }
    // Retention: each store purges its own records; the sweeper paces them (core/store/retention.hpp).
    std::shared_ptr<core::RetentionSweeper> retention;
    if (cfg.HasRole("gc")) {
        using std::placeholders::_1, std::placeholders::_2, std::placeholders::_3, std::placeholders::_4;
        std::vector<core::RetentionRule> rules = {
            {"executions",
             cfg.executions_ttl,
             std::bind(&executions::ExecutionStore::Purge, &executions, _1, _2, _3, _4)},
            {"execution output",
             cfg.output_ttl,
             std::bind(&executions::ExecutionStore::PurgeOutput, &executions, _1, _2, _3, _4),
             true},
            {"trigger instances",
             cfg.trigger_instances_ttl,
             std::bind(&core::TriggerStore::Purge, &triggers, _1, _2, _3, _4)},
            {"rule enforcements",
             cfg.enforcements_ttl,
             std::bind(&rules::EnforcementStore::Purge, &enforcements, _1, _2, _3, _4)},
        };
        retention = core::RetentionSweeper::Create(io, clock, std::move(rules));
        retention->Start();
    }
    std::unique_ptr<sensors::TimerSensor> timers;
    if (cfg.HasRole("timers")) {
        timers = std::make_unique<sensors::TimerSensor>(sensor_ctx);
        timers->Start();
    }
    std::unique_ptr<sensors::SensorHost> sensor_host;
    if (cfg.HasRole("sensors")) {
        sensors::SensorHostOptions sopts;
        sopts.api_url = api_url;
        sopts.api_key = sensor_api_key;
        sopts.data_dir = cfg.data_dir;
        sensor_host = std::make_unique<sensors::SensorHost>(sensor_ctx, io, sopts);
        sensor_host->Start();
    }
    std::unique_ptr<executions::Notifier> notifier;
    if (cfg.HasRole("notifier")) {
        notifier =
            std::make_unique<executions::Notifier>(io, redis, executions, triggers, content, consumer + "-notifier");
        notifier->Start();
    }

    std::unique_ptr<workflows::WorkflowEngine> workflow_engine;
    if (cfg.HasRole("workflow")) {
        workflows::WorkflowEngineOptions wopts;
        wopts.consumer_name = consumer + "-workflow";
        wopts.api_url = api_url;
        wopts.kv = &kv_cache;
        wopts.content = &content_cache;  // snapshots up to 1 s old: a config change reaches the next chain
        workflow_engine = std::make_unique<workflows::WorkflowEngine>(io, redis, execution_service, wopts);
        workflow_engine->Start();
    }

    // The service registry (GET /api/v1/service-registry): this process, its roles and pool, with a heartbeat.
    core::ServiceMember member;
    member.id = consumer;
    member.hostname = Hostname();
    member.pid = getpid();
    member.roles = cfg.roles;
    member.pool = cfg.HasRole("runner") ? cfg.pool : "";
    member.listen = api_server ? listen : "";
    core::ServiceHeartbeat heartbeat(io, redis, member, clock, {});
    heartbeat.Start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& e, int sig) {
        if (!e) {
            Log(*log, spdlog::level::info, "shutting down", {{"signal", std::to_string(sig)}});
            request_exit(0);
        }
    });

    if (!exit_set) {
        std::cout << "Squall is running.\n"
                  << "  API:           " << api_url << "\n"
                  << "  Web UI:        http://" << listen << "/\n"
                  << "  Admin API key: " << cfg.data_dir << "/admin-api-key\n"
                  << "  Redis:         " << (embedded ? "embedded, " : "") << endpoint.ToString() << "\n"
                  << "  Roles:         ";
        for (size_t i = 0; i < cfg.roles.size(); ++i) std::cout << (i ? "," : "") << cfg.roles[i];
        std::cout << "\nTry:  export SQUALL_API_URL=" << api_url << " SQUALL_API_KEY=$(cat " << cfg.data_dir
                  << "/admin-api-key)\n      squall run core.local cmd='echo hello'\n"
                  << std::flush;
    }

    rc = exit_future.get();

    // Stop taking work, finish or hand back in-flight work, flush, exit.
    heartbeat.StopBlocking();
    if (api_server) api_server->Stop();
    for (auto& e : rules_engines) {
        std::promise<void> rules_stopped;
        e->Stop([&] { rules_stopped.set_value(); });
        rules_stopped.get_future().wait_for(std::chrono::seconds(10));
    }
    if (runner) {
        std::promise<void> runner_stopped;
        runner->Stop(std::chrono::seconds(cfg.shutdown_grace), [&] { runner_stopped.set_value(); });
        runner_stopped.get_future().wait_for(std::chrono::seconds(cfg.shutdown_grace + 15));
    }
    if (notifier) {
        std::promise<void> notifier_stopped;
        notifier->Stop([&] { notifier_stopped.set_value(); });
        notifier_stopped.get_future().wait_for(std::chrono::seconds(10));
    }
    if (workflow_engine) {
        std::promise<void> workflow_stopped;
        workflow_engine->Stop([&] { workflow_stopped.set_value(); });
        workflow_stopped.get_future().wait_for(std::chrono::seconds(10));
        workflow_engine.reset();
    }
    if (reaper) reaper->Stop();
    if (retention) retention->Stop();
    if (timers) timers->Stop();            // gives the lease up: another timers role takes over at once
    if (sensor_host) sensor_host->Stop();  // SIGTERM, SIGKILL after a grace; then gives the leases up
    signals.cancel();
    // The /metrics counters this process counted since the last flush (a second's worth at most).
    std::vector<core::RedisClientPtr> clients = {redis};
    for (const auto& c : role_connections) clients.push_back(c.client);
    for (auto& client : clients) {
        if (Status st = client->counters().FlushBlocking(); !st) {
            Log(*log, spdlog::level::warn, "cannot send the last metrics counters", {{"error", st.error().message}});
        }
        client->Close();
    }
    if (embedded) {
        // The roles' connections (stream readers, the event hub's) close on their own strands, some after Redis is
        // gone: not a loss worth a warning.
        core::RedisClient::ExpectRedisToStop();
        embedded->StopBlocking();
    }
    work.reset();
    io.stop();
    for (auto& t : io_threads) t.join();
    Log(*log, spdlog::level::info, "stopped", {{"exit_code", std::to_string(rc)}});
    return rc;
}

}  // namespace squall::app
