// The engine protocol, version 1 (docs/engine-protocol.md): the messages an external engine
// sends and receives, as plain values, and their one parser. Every rule about what a
// well-formed message is lives here, so the process supervisor only reacts to values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/engine.h"

namespace sonic::engine::external {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxLineBytes = 65536;

// What `ready` announces.
struct ReadyMessage {
  int protocol = 0;
  std::string name;
  std::string version;
  std::string description;
  std::string device;
  EngineParameters parameters;
  int max_concurrent_jobs = 1;
  nlohmann::json limits = nlohmann::json::object();  // as sent, for GET /api/engines
};

struct ProgressMessage {
  std::string job;
  std::string stage;
  double fraction = 0;
  std::optional<double> eta_s;
};

struct FrameOutput {
  enum class Format { rgb24, video } format = Format::rgb24;
  std::string path;
  std::optional<double> fps;
};

struct DoneMessage {
  std::string job;
  FrameOutput frames;
  std::optional<std::array<int, 4>> crop_box;  // x, y, w, h in source picture pixels
  std::vector<IgnoredParam> ignored;
  std::string device;
  std::optional<std::int64_t> peak_memory_bytes;
  std::string memory_kind;  // "gpu" | "host"
  std::map<std::string, double> stage_seconds;
};

struct ErrorMessage {
  std::string job;
  std::string code;  // as sent; mapped to an ErrorCode by the caller
  std::string message;
  std::string field;
};

using EngineMessage = std::variant<ReadyMessage, ProgressMessage, DoneMessage, ErrorMessage>;

// Parses one line from the engine's stdout. Throws ProtocolViolation with a sentence for
// the log and the engine's `reason` ("sent a line that is not JSON: …").
struct ProtocolViolation : std::runtime_error {
  using std::runtime_error::runtime_error;
};
EngineMessage parse_engine_message(const std::string& line);

// Server → engine.
std::string job_line(const std::string& job_id, const nlohmann::json& fields);  // adds type and job
std::string cancel_line(const std::string& job_id);
std::string shutdown_line();

// A short, printable excerpt of untrusted text for logs and reasons.
std::string excerpt(const std::string& text, std::size_t max = 80);

}  // namespace sonic::engine::external
