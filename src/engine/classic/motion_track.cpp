// Head sway, nods and blinks (see motion_track.h). Amplitudes are in interocular units so
// the same motion looks the same at every resolution and framing.
#include "engine/classic/motion_track.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <random>

#include "engine/classic/mouth_track.h"

namespace sonic::engine::classic {
namespace {

// Amplitudes at motion_scale 1.
constexpr double kSwayShift = 0.045;
constexpr double kSwayYaw = 0.05;
constexpr double kSwayRollDeg = 1.6;
constexpr double kBobShift = 0.015;
constexpr double kNodShift = 0.05;
constexpr double kNodRollDeg = 0.6;
constexpr double kSmoothSigmaSeconds = 0.08;

// A smooth seeded noise: a sum of three sines of random frequency (0.08–0.5 Hz) and phase.
struct SlowNoise {
  std::array<double, 3> hz{}, phase{}, weight{};
  explicit SlowNoise(std::mt19937_64& rng) {
    std::uniform_real_distribution<double> freq(0.08, 0.5), ph(0.0, 2 * std::numbers::pi);
    double total = 0;
    for (size_t k = 0; k < 3; ++k) {
      hz[k] = freq(rng);
      phase[k] = ph(rng);
      weight[k] = 1.0 / static_cast<double>(k + 1);
      total += weight[k];
    }
    for (auto& w : weight) w /= total;
  }
  double at(double t) const {
    double v = 0;
    for (size_t k = 0; k < 3; ++k) v += weight[k] * std::sin(2 * std::numbers::pi * hz[k] * t + phase[k]);
    return v;
  }
};

std::vector<double> gaussian_filter(const std::vector<double>& x, double sigma_frames) {
  if (sigma_frames <= 0.3 || x.empty()) return x;
  const int radius = static_cast<int>(std::ceil(3 * sigma_frames));
  std::vector<double> kernel(static_cast<size_t>(2 * radius + 1));
  for (int k = -radius; k <= radius; ++k)
    kernel[static_cast<size_t>(k + radius)] = std::exp(-0.5 * k * k / (sigma_frames * sigma_frames));
  const long n = static_cast<long>(x.size());
  std::vector<double> out(x.size());
  for (long i = 0; i < n; ++i) {
    double sum = 0, wsum = 0;
    for (int k = -radius; k <= radius; ++k) {
      const long j = std::clamp(i + k, 0L, n - 1);  // edges held, so the first frame is not pulled to 0
      sum += kernel[static_cast<size_t>(k + radius)] * x[static_cast<size_t>(j)];
      wsum += kernel[static_cast<size_t>(k + radius)];
    }
    out[static_cast<size_t>(i)] = sum / wsum;
  }
  return out;
}

}  // namespace

std::vector<Blink> plan_blinks(double duration_s, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);  // own stream: blinks do not shift with sway
  std::uniform_real_distribution<double> first(0.4, 2.5), gap(2.5, 5.0), length(0.15, 0.32);
  std::vector<Blink> blinks;
  for (double t = first(rng); t < duration_s; t += gap(rng)) {
    const double d = length(rng);
    if (t + d > duration_s) break;
    blinks.push_back({t, d});
  }
  return blinks;
}

double blink_closure(const Blink& blink, double t) {
  const double u = (t - blink.start_s) / blink.duration_s;
  if (u <= 0 || u >= 1) return 0;
  const auto ease = [](double x) { return x * x * (3 - 2 * x); };
  if (u < 0.3) return ease(u / 0.3);           // lid falls fast
  if (u < 0.55) return 1.0;                    // closed
  return 1.0 - ease((u - 0.55) / 0.45);        // lid rises slower
}

std::vector<MotionFrame> motion_track(const std::vector<audio::SpeechFrame>& features,
                                      const MotionTrackOptions& options) {
  const size_t n = features.size();
  const double fps = options.fps;
  std::vector<MotionFrame> out(n);

  // Blinks: the strongest closure inside each frame's interval, so a short blink is never
  // missed between two frame instants at low frame rates.
  const auto blinks = plan_blinks(static_cast<double>(n) / fps, static_cast<std::uint64_t>(options.seed));
  for (const Blink& b : blinks) {
    const long first = static_cast<long>(std::floor(b.start_s * fps));
    const long last = static_cast<long>(std::ceil((b.start_s + b.duration_s) * fps));
    for (long i = std::max(0L, first); i <= last && i < static_cast<long>(n); ++i) {
      double peak = 0;
      for (int s = 0; s <= 8; ++s) peak = std::max(peak, blink_closure(b, (static_cast<double>(i) + s / 8.0) / fps));
      out[static_cast<size_t>(i)].blink = std::max(out[static_cast<size_t>(i)].blink, peak);
    }
  }

  const double scale = std::max(0.0, options.motion_scale);
  if (scale == 0.0 || n == 0) return out;  // a still head: the same pose in every frame

  std::mt19937_64 rng(options.seed);
  const SlowNoise sway(rng), yaw(rng), roll(rng), bob(rng);

  // Speech activity (0–1, slow) and emphasis onsets from the loudness envelope.
  const double level = speech_level_db(features);
  std::vector<double> activity(n);
  for (size_t i = 0; i < n; ++i) activity[i] = loudness_openness(features[i].loudness_db, level);
  activity = gaussian_filter(activity, 0.3 * fps);

  std::vector<double> nod_y(n, 0.0), nod_roll(n, 0.0);
  const int rise = std::max(1, static_cast<int>(std::lround(0.1 * fps)));
  const int min_gap = static_cast<int>(std::lround(0.7 * fps));
  const int nod_len = std::max(2, static_cast<int>(std::lround(0.3 * fps)));
  std::uniform_real_distribution<double> nod_side(-1.0, 1.0);
  long last_nod = -min_gap;
  for (size_t i = static_cast<size_t>(rise); i < n; ++i) {
    const double jump = features[i].loudness_db - features[i - static_cast<size_t>(rise)].loudness_db;
    const bool loud = features[i].loudness_db > level - 8.0;
    if (!loud || jump < 10.0 || static_cast<long>(i) - last_nod < min_gap) continue;
    last_nod = static_cast<long>(i);
    const double strength = std::clamp(jump / 20.0, 0.5, 1.0);
    const double side = nod_side(rng);
    // Raw nod: a step down held for ~0.3 s. smooth_motion turns it into a soft dip.
    for (int k = 0; k < nod_len && i + static_cast<size_t>(k) < n; ++k) {
      nod_y[i + static_cast<size_t>(k)] += kNodShift * strength;
      nod_roll[i + static_cast<size_t>(k)] += kNodRollDeg * strength * side;
    }
  }

  std::vector<double> tx(n), ty(n), rl(n), yw(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / fps;
    const double liveliness = 0.45 + 0.55 * activity[i];
    tx[i] = kSwayShift * sway.at(t) * liveliness;
    yw[i] = kSwayYaw * yaw.at(t) * liveliness;
    rl[i] = kSwayRollDeg * roll.at(t) * liveliness + nod_roll[i];
    ty[i] = kBobShift * bob.at(t) * liveliness + nod_y[i];
  }
  if (options.smooth) {
    const double sigma = kSmoothSigmaSeconds * fps;
    tx = gaussian_filter(tx, sigma);
    ty = gaussian_filter(ty, sigma);
    rl = gaussian_filter(rl, sigma);
    yw = gaussian_filter(yw, sigma);
  }
  for (size_t i = 0; i < n; ++i) {
    out[i].head.tx = tx[i] * scale;
    out[i].head.ty = ty[i] * scale;
    out[i].head.roll_deg = rl[i] * scale;
    out[i].head.yaw = yw[i] * scale;
  }
  return out;
}

}  // namespace sonic::engine::classic
