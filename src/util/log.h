// Logging: JSON lines on stderr (optionally also a file), one object per line, so an
// operator can feed them to any log pipeline. Thin wrapper over spdlog.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sonic::log {

enum class Level { debug, info, warn, error };

// Configure once at start-up; safe to skip (defaults: info, stderr only).
void init(Level level, const std::string& file_path = {});
Level parse_level(std::string_view name);  // "debug" | "info" | "warn" | "error"

// Writes {"ts":…, "level":…, "msg":…, …fields}. Thread-safe.
void write(Level level, std::string_view message, const nlohmann::json& fields = nlohmann::json::object());
inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::debug, m, f); }
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::info, m, f); }
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::warn, m, f); }
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::error, m, f); }

}  // namespace sonic::log
