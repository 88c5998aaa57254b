// The composition root (STYLE.md §1): config, registries, Redis, roles. The only place that builds the object
// graph; every class below gets exactly what it needs.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "app.hpp"
#include "embedded_redis.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/api/server.hpp"
#include "squall/core/config.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/executions/notifier.hpp"
#include "squall/executions/service.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/rules/engine.hpp"

namespace squall::app {
namespace fs = std::filesystem;
using core::Log;

namespace {

Status WaitForRedis(core::RedisClient& client, std::chrono::seconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    Error last = Unavailable("no answer");
    while (std::chrono::steady_clock::now() < until) {
        Result<core::RedisReply> r = client.CommandBlocking({"PING"});
        if (r && !r->IsError()) return {};
        last = r ? Unavailable(r->str) : r.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Unavailable(
        "Redis at " + client.endpoint().ToString() + " did not answer within " + std::to_string(deadline.count()) +
        " s: " + last.message
    );
}

/// DATA/admin-api-key, created on first start with mode 0600.
Result<std::string> AdminKey(const std::string& data_dir) {
    const std::string path = data_dir + "/admin-api-key";
    std::ifstream in(path);
    std::string key;
    if (in && std::getline(in, key) && !key.empty()) return key;
    key = core::RandomToken();
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) return Unavailable("cannot write " + tmp);
        out << key << "\n";
    }
    chmod(tmp.c_str(), 0600);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return Unavailable("cannot create " + path + ": " + ec.message());
    return key;
}

std::string Hostname() {
    char buf[256] = {0};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

/// Loads the packs in each folder, checks what the registries can check (runner types, rule operators), and
/// registers them. Load errors are logged and stored with the pack; they never stop the rest.
void RegisterPacks(
    const std::vector<std::string>& dirs,
    packs::ContentStore& content,
    const actionrunners::RunnerRegistry& runners,
    const rules::OperatorRegistry& operators,
    const std::string& configs_dir
) {
    auto log = core::Logger("packs");
    packs::PackLoaderOptions options{configs_dir, {}, rules::MakeRuleCheck(operators)};
    for (const auto& info : runners.Infos()) options.runner_types.insert(info.name);
    packs::PackLoader loader(options);
    for (const auto& dir : dirs) {
        for (auto& pack : loader.LoadAllBlocking(dir)) {
            for (const auto& e : pack.errors) {
                Log(*log, spdlog::level::err, "pack content not loaded", {{"pack", pack.meta.ref}, {"error", e.What()}}
                );
            }
            if (pack.meta.ref.empty()) continue;
            if (Status st = content.RegisterPackBlocking(pack); !st) {
                Log(*log,
                    spdlog::level::err,
                    "cannot register pack",
                    {{"pack", pack.meta.ref}, {"error", st.error().message}});
                continue;
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

    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 2; ++i) io_threads.emplace_back([&io] { io.run(); });

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
    std::string action_api_key;  // handed to actions (python action_service); masked in their output
    {
        if (Status st = WaitForRedis(*redis, std::chrono::seconds(15)); !st) {
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
            action_api_key = *admin_key;
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
    // The one way executions are created, canceled and re-run (packs/executions). No runner pauses yet.
    executions::ExecutionService execution_service(executions, &api_content_cache, &kv_cache);
    if (Status st = content.RegisterRunnerTypesBlocking(runners.Infos()); !st) {
        Log(*log, spdlog::level::err, "cannot register runner types", {{"error", st.error().message}});
    }
    const std::string packs_dir = cfg.packs_dir.empty() ? std::string(SQUALL_SOURCE_PACKS_DIR) : cfg.packs_dir;
    if (cfg.HasRole("api") || cfg.HasRole("rules"))
        RegisterPacks({packs_dir, cfg.data_dir + "/packs"}, content, runners, operators, cfg.data_dir + "/configs");

    const std::string consumer = Hostname() + "-" + std::to_string(getpid());
    std::string listen = cfg.listen;  // the real port replaces :0 once the API is bound
    std::string api_url = "http://" + listen + "/api/v1";
    sensors::SensorContext sensor_ctx{triggers, content_cache};
    sensors::WebhookSensor webhooks(sensor_ctx);

    std::unique_ptr<api::ApiServer> api_server;
    if (cfg.HasRole("api")) {
        const auto colon = cfg.listen.rfind(':');
        api::ApiOptions opts;
        opts.host = cfg.listen.substr(0, colon);
        opts.port = std::atoi(cfg.listen.substr(colon + 1).c_str());
        opts.threads = cfg.http_threads;
        api_server = std::make_unique<api::ApiServer>(
            api::ApiDeps{
                redis,
                executions,
                execution_service,
                triggers,
                content,
                api_content_cache,
                webhooks,
                operators,
                clock,
                &kv_store,
                &kv_cache,
                cfg.data_dir},
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
    std::unique_ptr<rules::RulesEngine> rules_engine;
    if (cfg.HasRole("rules")) {
        rules_engine =
            std::make_unique<rules::RulesEngine>(io, redis, operators, consumer + "-rules", &kv_cache, clock);
        rules_engine->Start();
    }
    std::unique_ptr<actionrunners::RunnerContainer> runner;
    if (cfg.HasRole("runner")) {
        actionrunners::RunnerContainerOptions ropts;
        ropts.pool = cfg.pool;
        ropts.workers = static_cast<size_t>(cfg.workers);
        ropts.consumer_name = consumer + "-runner-" + cfg.pool;
        ropts.api_url = api_url;
        ropts.api_key = action_api_key;
        ropts.data_dir = cfg.data_dir;
        ropts.check_rule = rules::MakeRuleCheck(operators);
        ropts.kv = &kv_cache;
        runner = std::make_unique<actionrunners::RunnerContainer>(io, redis, runners, ropts, clock);
        runner->Start();
    }
    std::unique_ptr<actionrunners::Reaper> reaper;
    if (cfg.HasRole("gc")) {
        reaper = std::make_unique<actionrunners::Reaper>(io, redis, std::chrono::seconds(10), clock);
        reaper->Start();
    }
    std::unique_ptr<executions::Notifier> notifier;
    if (cfg.HasRole("notifier")) {
        notifier =
            std::make_unique<executions::Notifier>(io, redis, executions, triggers, content, consumer + "-notifier");
        notifier->Start();
    }

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
    if (api_server) api_server->Stop();
    std::promise<void> rules_stopped;
    if (rules_engine) {
        rules_engine->Stop([&] { rules_stopped.set_value(); });
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
    if (reaper) reaper->Stop();
    signals.cancel();
    redis->Close();
    if (embedded) embedded->StopBlocking();
    work.reset();
    io.stop();
    for (auto& t : io_threads) t.join();
    Log(*log, spdlog::level::info, "stopped", {{"exit_code", std::to_string(rc)}});
    return rc;
}

}  // namespace squall::app
