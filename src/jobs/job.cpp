// The job record's vocabulary: state names, ids, and the record as the API shows it
// (see job.h). Kept apart from the SQLite store, which only reads and writes rows.
#include "jobs/job.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace sonic::jobs {

std::string_view state_name(JobState state) {
  switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::succeeded: return "succeeded";
    case JobState::failed: return "failed";
    case JobState::canceled: return "canceled";
  }
  return "queued";
}

std::optional<JobState> parse_state(std::string_view name) {
  for (JobState s : {JobState::queued, JobState::running, JobState::succeeded, JobState::failed,
                     JobState::canceled}) {
    if (state_name(s) == name) return s;
  }
  return std::nullopt;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string new_uuid() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? t[i] != '-' : !((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'))) return false;
  }
  return true;
}

nlohmann::json JobRecord::to_json() const {
  nlohmann::json j = {
      {"job_id", id},
      {"status", state_name(state)},
      {"stage", stage},
      {"progress", progress},
      {"engine", engine},
      {"params", params},
      {"cached", cached},
      {"attempts", attempts},
      {"created_at_ms", created_ms},
  };
  if (started_ms) j["started_at_ms"] = started_ms;
  if (finished_ms) j["finished_at_ms"] = finished_ms;
  if (started_ms && finished_ms) j["run_seconds"] = static_cast<double>(finished_ms - started_ms) / 1000.0;
  if (started_ms) j["queue_seconds"] = static_cast<double>(started_ms - created_ms) / 1000.0;
  if (!result.is_null()) j["result"] = result;
  if (!output_file.empty()) {
    j["output_file"] = output_file;
    j["output_expired"] = output_expired;
  }
  if (!error_code.empty()) {
    nlohmann::json e = {{"code", error_code}, {"message", error_message}};
    if (!error_field.empty()) e["field"] = error_field;
    j["error"] = e;
  }
  return j;
}

}  // namespace sonic::jobs
