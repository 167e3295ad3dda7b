// align_mouth for every engine (see mouth_alignment.h).
#include "engine/finish/mouth_alignment.h"

#include <cmath>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "audio/loudness.h"
#include "quality/score.h"

namespace sonic::engine::finish {
namespace {

// Below these the measurement says more about landmark jitter than about the engine.
constexpr double kMinMouthStd = 0.01;
constexpr double kMinCorrelation = 0.2;
constexpr double kMinFaceShare = 0.5;
// Frames are measured at most this wide: the mouth's opening is a ratio, which a smaller
// picture keeps, and the detector's cost grows with the area (a 512 px engine frame costs
// about 3× more than at 320 px for the same lag).
constexpr int kMeasureWidth = 320;

}  // namespace

nlohmann::json MouthAlignment::to_json() const {
  nlohmann::json out = {{"measured_lag_ms", measured_lag_ms ? nlohmann::json(*measured_lag_ms) : nlohmann::json()},
                        {"correlation", correlation ? nlohmann::json(*correlation) : nlohmann::json()},
                        {"audio_shift_ms", audio_shift_ms},
                        {"applied", applied}};
  if (!reason.empty()) out["reason"] = reason;
  return out;
}

MouthAlignment measure_mouth_alignment(ResampledFrames& frames, const media::PcmAudio& audio, int fps,
                                       const CancelToken& cancel, const std::function<void(double)>& progress) {
  quality::FrameMeasurer measurer;
  std::vector<quality::FrameMeasure> measures;
  cv::Mat frame, small;
  int total = 0;
  while (frames.next(frame)) {
    cancel.throw_if_canceled();
    if (frame.cols > kMeasureWidth) {
      const double f = static_cast<double>(kMeasureWidth) / frame.cols;
      cv::resize(frame, small, cv::Size(), f, f, cv::INTER_AREA);
      measures.push_back(measurer.next(small));
    } else {
      measures.push_back(measurer.next(frame));
    }
    ++total;
    if (progress && total % 5 == 0) progress(static_cast<double>(frames.index()) / std::max(1, frames.total()));
  }
  MouthAlignment a;
  std::vector<double> loudness = audio::loudness_dbfs_per_frame(audio.samples, audio.sample_rate, fps);
  const quality::ScoreReport report = quality::score_frames(std::move(measures), fps, std::move(loudness));
  a.measured_lag_ms = report.best_lag_ms;
  a.correlation = report.best_lag_correlation;
  const double frame_ms = 1000.0 / fps;
  if (report.frames == 0 || report.detection_rate < kMinFaceShare) {
    a.reason = "no face was found in most of the engine's frames";
  } else if (report.mouth_opening_std < kMinMouthStd) {
    a.reason = "the mouth barely moves, so its lag cannot be measured";
  } else if (!report.best_lag_ms || !report.best_lag_correlation || *report.best_lag_correlation < kMinCorrelation) {
    a.reason = "the mouth does not follow the sound closely enough to measure a lag";
  } else if (std::abs(*report.best_lag_ms) > kMaxAlignFrames * frame_ms + 1e-6) {
    a.reason = fmt::format("the measured lag ({:.0f} ms) is beyond ±{} frames; left as it is", *report.best_lag_ms,
                           kMaxAlignFrames);
  } else {
    a.audio_shift_ms = *report.best_lag_ms;
    a.applied = std::abs(a.audio_shift_ms) > 0.5;
    if (!a.applied) a.reason = "already in sync";
  }
  return a;
}

media::PcmAudio shift_audio(media::PcmAudio audio, double shift_ms) {
  const auto n = static_cast<long long>(std::llround(std::abs(shift_ms) / 1000.0 * audio.sample_rate));
  if (n == 0 || audio.samples.empty()) return audio;
  const std::size_t size = audio.samples.size();
  const auto count = static_cast<std::size_t>(std::min<long long>(n, static_cast<long long>(size)));
  if (shift_ms > 0) {
    audio.samples.insert(audio.samples.begin(), count, 0.0f);
    audio.samples.resize(size);
  } else {
    audio.samples.erase(audio.samples.begin(), audio.samples.begin() + static_cast<std::ptrdiff_t>(count));
    audio.samples.resize(size, 0.0f);
  }
  return audio;
}

}  // namespace sonic::engine::finish
