#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace squall::core {

/// Log set-up, done once in main before any thread starts (the one sanctioned global: spdlog's registry).
struct LogOptions {
    std::string level = "info";  ///< trace, debug, info, warn, error, critical, off
    bool json = false;           ///< one JSON object per line instead of text
};
void SetupLogging(const LogOptions& options);

/// The named logger of a component, e.g. Logger("rules") → "squall.rules". Created on first use.
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

/// A stable context field (`trigger_id`, `rule`, `execution_id`, `action`, `runner`, ...).
using Field = std::pair<std::string_view, std::string_view>;

/// Logs `message` with fields: text form "message key=value key2="quoted value"", JSON form
/// {"ts":...,"level":...,"logger":...,"msg":...,"key":"value"}. Values must already be masked.
void Log(
    spdlog::logger& logger,
    spdlog::level::level_enum level,
    std::string_view message,
    std::initializer_list<Field> fields = {}
);

}  // namespace squall::core
