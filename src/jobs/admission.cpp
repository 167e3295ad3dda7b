// Probing and the per-job budget, before a job exists (see admission.h).
#include "jobs/admission.h"

namespace sonic::jobs {

Admission admit(const std::filesystem::path& image, const std::filesystem::path& audio,
                const engine::GenerationParams& params, const ServiceConfig& config) {
  Admission out{media::probe_image(image, config.limits), media::probe_audio(audio, config.limits, params.duration_s),
                {}};
  out.cost = engine::estimate_job_cost(params, out.image.width, out.image.height, out.audio.duration_s, config.limits);
  engine::check_job_budget(out.cost, params, out.image.width, out.image.height, config.max_job_megapixel_frames);
  return out;
}

}  // namespace sonic::jobs
