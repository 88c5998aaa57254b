#include "squall/core/log.hpp"

#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <nlohmann/json.hpp>

namespace squall::core {
namespace {

// Set once by SetupLogging in main before threads start; read-only afterwards.
std::atomic<bool> g_json{false};  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

bool NeedsQuotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v) {
        if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
    }
    return false;
}

}  // namespace

void SetupLogging(const LogOptions& options) {
    g_json = options.json;
    spdlog::set_level(spdlog::level::from_str(options.level));
    if (options.json) {
        spdlog::set_pattern("%v");
    } else {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
    }
}

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
    const std::string name = "squall." + std::string(component);
    static std::mutex mu;  // guards create-if-missing in spdlog's registry
    std::lock_guard lock(mu);
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = spdlog::stderr_color_mt(name);
    logger->set_level(spdlog::get_level());
    return logger;
}

void Log(
    spdlog::logger& logger,
    spdlog::level::level_enum level,
    std::string_view message,
    std::initializer_list<Field> fields
) {
    if (!logger.should_log(level)) return;
    if (g_json) {
        nlohmann::json j;
        j["ts"] =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        j["level"] = spdlog::level::to_string_view(level).data();
        j["logger"] = logger.name();
        j["msg"] = message;
        for (const auto& [k, v] : fields) j[std::string(k)] = v;
        logger.log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return;
    }
    std::string line(message);
    for (const auto& [k, v] : fields) {
        line += ' ';
        line += k;
        line += '=';
        if (NeedsQuotes(v)) {
            line += nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else {
            line += v;
        }
    }
    logger.log(level, "{}", line);
}

}  // namespace squall::core
