// What one job will cost, known before any engine work (issue 10, "bounded work per job").
//
// Rendering and encoding cost grows with output pixels × frames (the classic engine warps
// and x264 encodes every output pixel of every frame; a diffusion engine is worse), so the
// per-job budget is a number of megapixel-frames, checked at submission from the request's
// parameters, the picture's size (from its header) and the recording's length (probed).
//
// The output size is bounded for every framing, including ones this build may not know yet:
//   crop mode   shorter side = min_resolution (rounded to even); longer side = shorter × the
//               crop's ratio: 1 for 1:1, 16/9 for 9:16 and 16:9, 5/4 for 4:5, the picture's
//               own ratio for `original`, and for a ratio not known here the widest of them;
//   full_frame  the picture scaled down so its longer side fits limits.max_full_frame_side.
// The aspect ratio is read from the parameters' JSON (`aspect_ratio`), absent meaning the
// square crop of builds without that parameter.
//
// Measured figures behind the default budget and the timeout: docs/jobs.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/params.h"
#include "media/limits.h"

namespace sonic::engine {

struct JobCost {
  int width = 0;  // upper bound of the output frame
  int height = 0;
  std::int64_t frames = 0;  // round(duration × fps), as the engines render
  double duration_s = 0;
  double megapixel_frames() const { return static_cast<double>(width) * height * static_cast<double>(frames) / 1e6; }
};

// `picture_width`/`height` as the header states them (orientation does not change the
// bound); `audio_seconds` = the recording's length, used when params has no duration.
// The crop's aspect ratio is params' `aspect_ratio` when it has one.
JobCost estimate_job_cost(const GenerationParams& params, int picture_width, int picture_height,
                          double audio_seconds, const media::MediaLimits& limits);
// The same for a given aspect ratio: "1:1" (or empty), "9:16", "4:5", "16:9", any "W:H",
// "original" (the picture's own); anything else gets the widest bound of them all.
JobCost estimate_job_cost(const GenerationParams& params, std::string_view aspect_ratio, int picture_width,
                          int picture_height, double audio_seconds, const media::MediaLimits& limits);

// Throws Error(job_too_large, field = the knob to turn) when the job is over
// `budget_megapixel_frames` (0 or less = no budget). The message states the job's size,
// the limit, and a value of that knob that fits.
void check_job_budget(const JobCost& cost, const GenerationParams& params, int picture_width, int picture_height,
                      double budget_megapixel_frames);

}  // namespace sonic::engine
