// What every job runner does around Engine::generate() — the local engine threads of
// `serve` and the remote `worker` alike — so a client sees the same progress events
// wherever its job ran: the recorded parameters turned back into GenerationParams, and the
// progress throttle (a stage change at once, otherwise a step of 1 % or 500 ms).
//
// Threads: a ProgressThrottle belongs to the one thread running its job.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/params.h"

namespace sonic::jobs {

// Rebuilds GenerationParams from the JSON a job recorded (GenerationParams::to_json()).
engine::GenerationParams params_from_json(const nlohmann::json& recorded, double max_audio_s);

class ProgressThrottle {
 public:
  ProgressThrottle() : started_(std::chrono::steady_clock::now()), last_write_(started_) {}
  // True when this report should be passed on (and remembers it).
  bool due(const std::string& stage, double fraction);
  double elapsed_s() const;

 private:
  std::chrono::steady_clock::time_point started_, last_write_;
  std::string last_stage_;
  double last_fraction_ = -1;
};

// The data of a `progress` event: job_id, stage, fraction, elapsed_s and, past 2 %, eta_s.
nlohmann::json progress_event_data(const std::string& job_id, const std::string& stage, double fraction,
                                   double elapsed_s);

}  // namespace sonic::jobs
