// Frame-synchronous speech analysis (see speech_features.h for what and why). One short
// FFT (OpenCV's dft) and one autocorrelation per video frame: at 25 fps that is 25
// windows per second of audio, a few milliseconds for a whole clip, on all cores.
#include "audio/speech_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

namespace sonic::audio {
namespace {

double to_db(double power) {
  return power > 1e-10 ? 10.0 * std::log10(power) : -100.0;
}

// The sample at index `i`, silence outside the recording.
float sample_at(const std::vector<float>& samples, long long i) {
  return (i >= 0 && i < static_cast<long long>(samples.size())) ? samples[static_cast<size_t>(i)]
                                                                : 0.0f;
}

struct BandStats {
  double energy = 0;
  double weighted_hz = 0;
  double centroid() const { return energy > 0 ? weighted_hz / energy : 0.0; }
};

// Voicing: the normalised autocorrelation peak of the window `w` (n samples) over lags
// [min_lag, max_lag], the plausible pitch periods; 0 for a silent window.
double autocorrelation_peak(const float* w, int n, int min_lag, int max_lag) {
  double r0 = 0;
  for (int k = 0; k < n; ++k) r0 += static_cast<double>(w[k]) * w[k];
  if (!(r0 > 1e-9)) return 0;  // (NaN too)
  double best = 0;
  const auto take = [&](int lag, double r) {
    // Unbias for the shrinking overlap so long periods are not penalised.
    r *= static_cast<double>(n) / (n - lag);
    best = std::max(best, r / r0);
  };
  // Four lags at a time: each sum still adds its terms in order of k (the same result to the
  // last bit), but four independent sums keep the FPU busy where one waits on its own
  // previous addition.
  int lag = min_lag;
  for (; lag + 3 <= max_lag; lag += 4) {
    std::array<double, 4> r{};
    const int common = n - (lag + 3);  // below it, all four lags have a term
    for (int k = 0; k < common; ++k) {
      const double a = w[k];
      r[0] += a * w[k + lag];
      r[1] += a * w[k + lag + 1];
      r[2] += a * w[k + lag + 2];
      r[3] += a * w[k + lag + 3];
    }
    for (int j = 0; j < 4; ++j) {
      for (int k = common; k + lag + j < n; ++k)
        r[static_cast<size_t>(j)] += static_cast<double>(w[k]) * w[k + lag + j];
      take(lag + j, r[static_cast<size_t>(j)]);
    }
  }
  for (; lag <= max_lag; ++lag) {
    double r = 0;
    for (int k = 0; k + lag < n; ++k) r += static_cast<double>(w[k]) * w[k + lag];
    take(lag, r);
  }
  return best;
}

}  // namespace

std::vector<SpeechFrame> speech_features_per_frame(const std::vector<float>& samples,
                                                   int sample_rate, double fps, int frame_count,
                                                   double window_offset_s) {
  std::vector<SpeechFrame> frames(static_cast<size_t>(std::max(frame_count, 0)));
  if (sample_rate <= 0 || fps <= 0) return frames;

  // 32 ms analysis window rounded up to a power of two for the FFT.
  int fft_size = 1;
  while (fft_size < static_cast<int>(0.032 * sample_rate)) fft_size *= 2;
  std::vector<float> hann(static_cast<size_t>(fft_size));
  for (int n = 0; n < fft_size; ++n)
    hann[static_cast<size_t>(n)] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / (fft_size - 1)));
  const double bin_hz = static_cast<double>(sample_rate) / fft_size;
  const int min_lag = std::max(1, sample_rate / 400);
  const int max_lag = std::min(fft_size - 1, sample_rate / 70);

  // Frames are independent: they are analysed on all cores (OpenCV's pool), each frame by one
  // thread in the same order of operations, so the result does not depend on the split.
  cv::parallel_for_(cv::Range(0, std::max(frame_count, 0)), [&](const cv::Range& range) {
    cv::Mat window(1, fft_size, CV_32F);
    cv::Mat spectrum;
    std::vector<float> raw(static_cast<size_t>(fft_size));

    for (int i = range.start; i < range.end; ++i) {
      SpeechFrame& f = frames[static_cast<size_t>(i)];
      const double start_s = i / fps + window_offset_s;
      const double end_s = (i + 1) / fps + window_offset_s;

      // Loudness over the frame's own interval (the same window `score` uses).
      const long long a = std::llround(start_s * sample_rate);
      const long long b = std::max(a + 1, std::llround(end_s * sample_rate));
      double sum_sq = 0;
      for (long long k = a; k < b; ++k) {
        const double s = sample_at(samples, k);
        sum_sq += s * s;
      }
      f.loudness_db = std::max(-100.0, to_db(sum_sq / static_cast<double>(b - a)));
      if (f.loudness_db <= -90) continue;  // silence: nothing else to measure

      // Spectral window centred on the interval's centre.
      const long long centre = std::llround(0.5 * (start_s + end_s) * sample_rate);
      const long long first = centre - fft_size / 2;
      double mean = 0;
      for (int n = 0; n < fft_size; ++n) {
        raw[static_cast<size_t>(n)] = sample_at(samples, first + n);
        mean += raw[static_cast<size_t>(n)];
      }
      mean /= fft_size;
      auto* w = window.ptr<float>(0);
      for (int n = 0; n < fft_size; ++n) {
        raw[static_cast<size_t>(n)] -= static_cast<float>(mean);
        w[n] = raw[static_cast<size_t>(n)] * hann[static_cast<size_t>(n)];
      }

      const double best = autocorrelation_peak(w, fft_size, min_lag, max_lag);
      f.voicing = std::clamp((best - 0.25) / 0.5, 0.0, 1.0);

      cv::dft(window, spectrum, cv::DFT_COMPLEX_OUTPUT);
      const auto* c = spectrum.ptr<cv::Vec2f>(0);
      BandStats all, low, high, f1_band, f2_band;
      for (int k = 1; k <= fft_size / 2; ++k) {
        const double hz = k * bin_hz;
        const double power =
            static_cast<double>(c[k][0]) * c[k][0] + static_cast<double>(c[k][1]) * c[k][1];
        auto add = [&](BandStats& band) {
          band.energy += power;
          band.weighted_hz += power * hz;
        };
        add(all);
        if (hz >= 150 && hz < 900) add(low);
        if (hz >= 2500 && hz < 7000) add(high);
        if (hz >= 250 && hz < 1000) add(f1_band);
        if (hz >= 900 && hz < 2800) add(f2_band);
      }
      const double norm = 1.0 / (static_cast<double>(fft_size) * fft_size);
      f.centroid_hz = all.centroid();
      f.low_band_db = std::max(-100.0, to_db(low.energy * norm));
      f.high_band_db = std::max(-100.0, to_db(high.energy * norm));
      f.f1_hz = f1_band.centroid();
      f.f2_hz = f2_band.centroid();
    }
  });
  return frames;
}

}  // namespace sonic::audio
