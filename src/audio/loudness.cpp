// audio/loudness.cpp — RMS level per video frame, the envelope both the engine's mouth and
// `score` start from. Frame i owns the samples [floor(i·r/fps), floor((i+1)·r/fps)), so
// frames of a non-integer length (44.1 kHz at 30 fps) tile the signal with no gap or
// overlap and no drift; the last frame may be short and is measured over what it has.
#include "audio/loudness.h"

#include <cmath>
#include <string>

#include "util/error.h"

namespace sonic::audio {

namespace {
constexpr double kFloorDbfs = -100.0;
}

std::vector<double> loudness_dbfs_per_frame(const std::vector<float>& samples, int sample_rate,
                                            double fps) {
  if (sample_rate <= 0 || !(fps > 0) || !std::isfinite(fps)) {
    throw Error(ErrorCode::invalid_param,
                "loudness needs a positive sample rate and frame rate (got " +
                    std::to_string(sample_rate) + " Hz, " + std::to_string(fps) + " fps)");
  }
  const double per_frame = static_cast<double>(sample_rate) / fps;
  const auto n = samples.size();
  const auto frames =
      static_cast<std::size_t>(std::ceil(static_cast<double>(n) / per_frame - 1e-9));
  // Boundaries are computed from i, never accumulated, so rounding cannot drift.
  const auto boundary = [&](std::size_t i) {
    const auto b = static_cast<std::size_t>(std::floor(static_cast<double>(i) * per_frame + 1e-9));
    return b < n ? b : n;
  };

  std::vector<double> dbfs;
  dbfs.reserve(frames);
  const double floor_power = std::pow(10.0, kFloorDbfs / 10.0);
  for (std::size_t i = 0; i < frames; ++i) {
    const std::size_t begin = boundary(i);
    const std::size_t end = boundary(i + 1);
    double sum = 0.0;
    for (std::size_t s = begin; s < end; ++s) sum += static_cast<double>(samples[s]) * samples[s];
    const double power = end > begin ? sum / static_cast<double>(end - begin) : 0.0;
    dbfs.push_back(power > floor_power ? 10.0 * std::log10(power) : kFloorDbfs);
  }
  return dbfs;
}

}  // namespace sonic::audio
