// The two messages that cross Redis (docs/scaling.md "Messages"): a job entry the server
// adds to an engine stream, and an event a worker (or a lease script) adds to the events
// stream. Plain data with their field/JSON forms; files never travel in them, only signed
// URLs and the sha256 each download must match.
//
// Versioned (`v`): a worker refuses a job message of a version it does not know with a
// clear failure instead of guessing, so servers and workers can be upgraded one by one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/remote/stream_leases.h"
#include "media/limits.h"

namespace sonic::jobs::remote {

inline constexpr int kMessageVersion = 1;

struct RemoteInput {
  std::string url;     // path and query on the API server, signed for this attempt
  std::string sha256;  // of the stored upload; the worker checks the download against it
  std::uint64_t bytes = 0;
  std::string name;    // the stored file's name (its extension), for logs
};

struct JobMessage {
  std::string job_id;
  int attempt = 0;  // the server's dispatch number; never reused for a job
  std::string engine;
  std::string request_id;
  nlohmann::json params = nlohmann::json::object();  // the job's recorded parameters
  media::MediaLimits limits;
  RemoteInput image;
  RemoteInput audio;
  std::string result_url;  // PUT the finished MP4 here (signed for this attempt)
  std::uint64_t max_result_bytes = 0;
  std::int64_t dispatched_ms = 0;

  nlohmann::json to_json() const;
  // Error(invalid_param) naming what is missing or of another version.
  static JobMessage from_json(const nlohmann::json& j);
  // The stream entry: job, attempt (for the lease scripts and operators) and payload.
  Fields entry_fields() const;
  static JobMessage from_entry(const Fields& fields);
};

// Event types on the events stream.
namespace event_type {
inline constexpr const char* started = "started";
inline constexpr const char* progress = "progress";
inline constexpr const char* succeeded = "succeeded";
inline constexpr const char* failed = "failed";
inline constexpr const char* canceled = "canceled";
inline constexpr const char* released = "released";  // handed back on a graceful stop
inline constexpr const char* dead = "dead";          // dead-lettered by a lease script
}  // namespace event_type

struct WorkerEvent {
  std::string type;
  std::string job_id;
  int attempt = 0;
  std::string entry;     // the job entry this run holds
  int delivery = 0;      // its delivery count
  std::string worker;    // consumer name ("server" for the server's dead letters)
  std::string new_entry; // released: where the job waits now
  nlohmann::json data = nlohmann::json::object();

  Fields to_fields() const;
  static WorkerEvent from_fields(const Fields& fields);
};

}  // namespace sonic::jobs::remote
