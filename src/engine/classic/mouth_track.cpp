// Audio features → jaw / spread / rounding / closure per frame. See mouth_track.h for the
// rules; the numbers here were tuned by running `score` on espeak-ng and recorded speech.
#include "engine/classic/mouth_track.h"

#include <algorithm>
#include <cmath>

namespace sonic::engine::classic {
namespace {

constexpr double kSilenceDb = -75.0;       // below this a frame is digital silence
constexpr double kOpenRangeLowDb = 24.0;   // openness 0 this far below the speech level
constexpr double kOpenRangeHighDb = 3.0;   // openness 1 this far below it
constexpr double kAttackSeconds = 0.015;   // opening time constant (~1 frame at 25 fps)
constexpr double kReleaseSeconds = 0.055;  // closing time constant (~3–4 frames to settle)
constexpr double kShapeSeconds = 0.040;    // spread/rounding time constant
constexpr double kClosureDipDb = 10.0;     // dip depth that reads as a lip closure
constexpr double kPauseBelowLevelDb = 30.0;  // this far below the speech level is a pause
constexpr double kPauseClosure = 0.6;      // lips come together in pauses (a resting mouth)
constexpr double kClosureSeconds = 0.02;   // closure time constant

double smoothstep01(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

// Soft ceiling above 1.5 so dynamic_scale 2 opens wider but never absurdly (at most 2).
double soft_limit(double value) {
  if (value <= 1.5) return value;
  return 1.5 + 0.5 * std::tanh((value - 1.5) / 0.5);
}

double alpha_for(double time_constant_s, double fps) { return 1.0 - std::exp(-1.0 / (fps * time_constant_s)); }

}  // namespace

double speech_level_db(const std::vector<audio::SpeechFrame>& features) {
  std::vector<double> voiced;
  for (const auto& f : features)
    if (f.loudness_db > kSilenceDb) voiced.push_back(f.loudness_db);
  if (voiced.empty()) return -100.0;
  const size_t k = std::min(voiced.size() - 1, static_cast<size_t>(0.95 * static_cast<double>(voiced.size())));
  std::nth_element(voiced.begin(), voiced.begin() + static_cast<long>(k), voiced.end());
  return voiced[k];
}

double loudness_openness(double loudness_db, double level_db) {
  if (loudness_db <= kSilenceDb || level_db <= kSilenceDb) return 0.0;
  const double low = level_db - kOpenRangeLowDb;
  const double high = level_db - kOpenRangeHighDb;
  return smoothstep01((loudness_db - low) / (high - low));
}

std::vector<MouthControls> mouth_track(const std::vector<audio::SpeechFrame>& features,
                                       const MouthTrackOptions& options) {
  const size_t n = features.size();
  std::vector<MouthControls> target(n);
  const double level = speech_level_db(features);
  const double scale = std::max(0.0, options.dynamic_scale);

  for (size_t i = 0; i < n; ++i) {
    const auto& f = features[i];
    const double open = loudness_openness(f.loudness_db, level);
    if (f.loudness_db < level - kPauseBelowLevelDb) target[i].closure = kPauseClosure;
    if (open <= 0) continue;
    // F1 250–750 Hz: closed vowels (i, u) open the jaw less than open ones (a).
    const double f1 = std::clamp((f.f1_hz - 350.0) / 400.0, 0.0, 1.0);
    double jaw = std::pow(open, 0.8) * (0.8 + 0.4 * f1);
    // Unvoiced and bright (s, f, sh): teeth close together, lips a little spread.
    const bool fricative = f.voicing < 0.3 && f.high_band_db > f.low_band_db + 6.0;
    double spread_bias = 0;
    if (fricative) {
      jaw *= 0.45;
      spread_bias = 0.3;
    }
    // F2 1100–2000 Hz: low = rounded (o, u), high = spread (i, e).
    const double f2 = std::clamp((f.f2_hz - 1100.0) / 900.0, 0.0, 1.0);
    const double shape_weight = std::min(1.0, 2.0 * open);
    target[i].jaw = jaw;
    target[i].spread = std::clamp(std::max(0.0, 2 * f2 - 1) * shape_weight + spread_bias * shape_weight, 0.0, 1.0);
    target[i].rounding = std::clamp(std::max(0.0, 1 - 2 * f2) * shape_weight * f.voicing, 0.0, 1.0);
  }

  // Bilabial closures: a frame much quieter than speech on both sides of it.
  const int reach = std::max(1, static_cast<int>(std::lround(options.fps * 0.08)));
  for (size_t i = 1; i + 1 < n; ++i) {
    double before = -100, after = -100;
    for (int k = 1; k <= reach; ++k) {
      if (i >= static_cast<size_t>(k)) before = std::max(before, features[i - static_cast<size_t>(k)].loudness_db);
      if (i + static_cast<size_t>(k) < n) after = std::max(after, features[i + static_cast<size_t>(k)].loudness_db);
    }
    const double here = features[i].loudness_db;
    const double speech_floor = level - 15.0;
    if (level > kSilenceDb && before > speech_floor && after > speech_floor && here < level - 18.0 &&
        here < std::min(before, after) - kClosureDipDb) {
      target[i].closure = 1.0;
      target[i].jaw = 0;
      target[i].spread = target[i].rounding = 0;
      // Hold the closure two frames: the quieter neighbour joins it.
      const size_t j = features[i - 1].loudness_db < features[i + 1].loudness_db ? i - 1 : i + 1;
      target[j].closure = std::max(target[j].closure, 0.8);
      target[j].jaw = std::min(target[j].jaw, 0.15);
    }
  }

  // Anticipate by one frame and hold every shape at least two frames.
  std::vector<MouthControls> held(target);
  for (size_t i = 0; i + 1 < n; ++i) {
    held[i].jaw = std::max(target[i].jaw, target[i + 1].jaw);
    held[i].spread = std::max(target[i].spread, target[i + 1].spread);
    held[i].rounding = std::max(target[i].rounding, target[i + 1].rounding);
    if (target[i].closure > kPauseClosure || target[i + 1].closure > kPauseClosure)
      held[i].jaw = std::min(target[i].jaw, target[i + 1].jaw);
  }

  std::vector<MouthControls> out(n);
  const double attack = alpha_for(kAttackSeconds, options.fps);
  const double release = alpha_for(kReleaseSeconds, options.fps);
  const double shape = alpha_for(kShapeSeconds, options.fps);
  const double closing = alpha_for(kClosureSeconds, options.fps);
  MouthControls state;
  for (size_t i = 0; i < n; ++i) {
    const MouthControls& t = held[i];
    if (options.smooth) {
      state.jaw += (t.jaw - state.jaw) * (t.jaw > state.jaw ? attack : release);
      if (t.closure > kPauseClosure) state.jaw = std::min(state.jaw, t.jaw);  // a bilabial snaps shut
      state.spread += (t.spread - state.spread) * shape;
      state.rounding += (t.rounding - state.rounding) * shape;
      state.closure += (t.closure - state.closure) * closing;  // fast: closures are short events
    } else {
      state = t;
    }
    out[i].jaw = soft_limit(state.jaw * scale);
    out[i].spread = std::min(1.0, state.spread * scale);
    out[i].rounding = std::min(1.0, state.rounding * scale);
    out[i].closure = state.closure * std::min(1.0, scale);
  }
  return out;
}

}  // namespace sonic::engine::classic
