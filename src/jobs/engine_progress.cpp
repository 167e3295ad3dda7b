// Shared around Engine::generate() (see engine_progress.h).
#include "jobs/engine_progress.h"

namespace sonic::jobs {

using namespace std::chrono_literals;

engine::GenerationParams params_from_json(const nlohmann::json& recorded, double max_audio_s) {
  nlohmann::json config = nlohmann::json::object();
  if (recorded.is_object()) {
    for (auto it = recorded.begin(); it != recorded.end(); ++it)
      if (!it.value().is_null()) config[it.key()] = it.value();
  }
  return engine::apply_config(engine::GenerationParams{}, config, max_audio_s);
}

bool ProgressThrottle::due(const std::string& stage, double fraction) {
  auto now = std::chrono::steady_clock::now();
  if (stage == last_stage_ && fraction < 1.0 && fraction - last_fraction_ < 0.01 && now - last_write_ < 500ms)
    return false;
  last_stage_ = stage;
  last_fraction_ = fraction;
  last_write_ = now;
  return true;
}

double ProgressThrottle::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

nlohmann::json progress_event_data(const std::string& job_id, const std::string& stage, double fraction,
                                   double elapsed_s) {
  nlohmann::json data = {{"job_id", job_id}, {"stage", stage}, {"fraction", fraction}, {"elapsed_s", elapsed_s}};
  if (fraction > 0.02) data["eta_s"] = elapsed_s * (1.0 - fraction) / fraction;
  return data;
}

}  // namespace sonic::jobs
