// Admission: what is checked about a request before a job exists for it (issue 10). The
// generate route calls admit() once the upload is stored and before JobService::submit():
//
//   1. the image's type, size and shape from its header (media::probe_image: an extreme
//      aspect ratio such as 1×40000 is refused here, before any engine work);
//   2. the recording's type and length (media::probe_audio): over the limit it is refused
//      with its true length — unless the request's `duration` is within the limit, in which
//      case only that many seconds will be used and a longer recording is fine;
//   3. the job's cost against the per-job budget (engine/job_cost.h): 422 job_too_large
//      naming the parameter to turn.
//
// Plain data in and out, so the HTTP layer only passes the stored files' paths.
#pragma once

#include <filesystem>

#include "engine/job_cost.h"
#include "engine/params.h"
#include "jobs/job_service.h"
#include "media/probe.h"

namespace sonic::jobs {

struct Admission {
  media::ImageInfo image;
  media::AudioInfo audio;
  engine::JobCost cost;
};

// Throws Error (unsupported_media_type, unreadable_media, payload_too_large,
// audio_too_long, job_too_large) with `field` set; returns what was learnt otherwise.
Admission admit(const std::filesystem::path& image, const std::filesystem::path& audio,
                const engine::GenerationParams& params, const ServiceConfig& config);

}  // namespace sonic::jobs
