// jobs/ — everything about a job after the HTTP layer accepted it (DESIGN §7): the SQLite
// store, the bounded fair queue, the result cache, per-job event logs and the engine
// workers. Calls engine/ and util/; never http/. A job travels as plain data (JobRecord)
// between the store, the queue and the workers, like llama.cpp's server tasks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace sonic::jobs {

enum class JobState { queued, running, succeeded, failed, canceled };

std::string_view state_name(JobState state);
std::optional<JobState> parse_state(std::string_view name);
inline bool is_final(JobState s) {
  return s == JobState::succeeded || s == JobState::failed || s == JobState::canceled;
}

// Milliseconds since the Unix epoch (the store's time unit).
std::int64_t now_ms();
// A random UUID v4 (job ids and stored file names).
std::string new_uuid();
// True for the 36-character lowercase UUID form new_uuid() makes.
bool is_uuid(std::string_view text);

// One row of the jobs table. Paths are file names relative to the data dir's folders
// (uploads/, outputs/), never absolute, so the data dir can move.
struct JobRecord {
  std::string id;          // UUID v4
  std::string client;      // who submitted it (fair queueing, "own jobs")
  std::string request_id;  // X-Request-Id of the submitting request
  JobState state = JobState::queued;
  std::string stage;       // engine stage while running
  double progress = 0;     // 0–1
  std::string engine;      // resolved engine name
  nlohmann::json params = nlohmann::json::object();  // resolved parameters (DESIGN §4)
  std::string image_file;  // in uploads/
  std::string audio_file;  // in uploads/
  std::string output_file; // in outputs/ (set on success)
  std::string cache_key;   // hex sha256 of engine+version+params+image+audio
  bool cached = false;     // answered from the result cache
  bool output_expired = false;
  int attempts = 0;        // times a worker started it (restart recovery retries once)
  nlohmann::json result;   // EngineResult::to_json() on success, else null
  std::string error_code;  // on failure: an ErrorCode name or "interrupted"
  std::string error_message;
  std::string error_field;
  std::int64_t created_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;

  // The API's view of the job (GET /api/jobs/{id}); urls are added by http/.
  nlohmann::json to_json() const;
};

// The current remote attempt of a job dispatched over Redis (jobs/remote/, docs/scaling.md).
// `attempt` is signed into the job's file URLs and never reused; `entry_id` is the job's
// entry in its engine's stream ("" while none is known); `worker` and `delivery` name the
// run that last started it (empty / 0 before any).
struct RemoteAttempt {
  std::string job_id;
  int attempt = 0;
  std::string engine;
  std::string entry_id;
  std::string worker;
  int delivery = 0;
  std::int64_t dispatched_ms = 0;
  bool result_received = false;
};

}  // namespace sonic::jobs
