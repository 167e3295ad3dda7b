// Unit tests of the classic engine's audio → mouth mapping (mouth_track) and of the speech
// features it reads (audio/speech_features), on synthetic signals.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "audio/speech_features.h"
#include "engine/classic/mouth_track.h"

using namespace sonic;
using namespace sonic::engine::classic;

namespace {

audio::SpeechFrame frame_at(double db, double f1 = 600, double f2 = 1500) {
  audio::SpeechFrame f;
  f.loudness_db = db;
  f.voicing = db > -70 ? 0.9 : 0;
  f.low_band_db = db;
  f.high_band_db = db - 20;
  f.f1_hz = f1;
  f.f2_hz = f2;
  return f;
}

// Syllable-like loudness: 5 frames loud, 3 frames quiet, repeated; silence at both ends.
std::vector<audio::SpeechFrame> syllables(int count) {
  std::vector<audio::SpeechFrame> out(10, frame_at(-100));
  for (int s = 0; s < count; ++s) {
    for (int k = 0; k < 5; ++k) out.push_back(frame_at(-18 - (s % 3) * 4));
    for (int k = 0; k < 3; ++k) out.push_back(frame_at(-45));
  }
  for (int k = 0; k < 10; ++k) out.push_back(frame_at(-100));
  return out;
}

double mean_jerk(const std::vector<MouthControls>& track) {
  double sum = 0;
  for (size_t i = 2; i < track.size(); ++i) sum += std::abs(track[i].jaw - 2 * track[i - 1].jaw + track[i - 2].jaw);
  return sum / static_cast<double>(track.size() - 2);
}

}  // namespace

TEST(MouthTrack, LouderOpensMore) {
  std::vector<audio::SpeechFrame> f;
  for (double db : {-40.0, -35.0, -30.0, -25.0, -20.0, -15.0})
    for (int k = 0; k < 12; ++k) f.push_back(frame_at(db));
  const auto track = mouth_track(f, {.fps = 25, .dynamic_scale = 1, .smooth = true});
  double previous = -1;
  for (size_t level = 0; level < 6; ++level) {
    const double settled = track[level * 12 + 10].jaw;
    EXPECT_GT(settled, previous) << "level " << level;
    previous = settled;
  }
  EXPECT_GT(track.back().jaw, 0.7);
}

TEST(MouthTrack, SilenceIsRest) {
  const auto track = mouth_track(std::vector<audio::SpeechFrame>(50, frame_at(-100)), {});
  for (const auto& m : track) {
    EXPECT_EQ(m.jaw, 0);
    EXPECT_EQ(m.spread, 0);
    EXPECT_EQ(m.rounding, 0);
    EXPECT_EQ(m.closure, 0);
  }
  // Silence after speech: back at rest within a few frames.
  const auto speech = mouth_track(syllables(4), {});
  EXPECT_LT(speech.back().jaw, 0.01);
  EXPECT_LT(speech[speech.size() - 5].jaw, 0.05);
}

TEST(MouthTrack, QuietRecordingMovesLikeLoudOne) {
  auto loud = syllables(6);
  auto quiet = loud;
  for (auto& f : quiet)
    if (f.loudness_db > -100) f.loudness_db -= 20;
  const auto a = mouth_track(loud, {}), b = mouth_track(quiet, {});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i].jaw, b[i].jaw, 1e-9);
}

TEST(MouthTrack, OpensFastClosesSlowly) {
  std::vector<audio::SpeechFrame> f(10, frame_at(-100));
  for (int k = 0; k < 10; ++k) f.push_back(frame_at(-15));
  for (int k = 0; k < 10; ++k) f.push_back(frame_at(-100));
  const auto track = mouth_track(f, {});
  const double open = track[18].jaw;
  ASSERT_GT(open, 0.5);
  // Anticipation: already opening one frame before the sound.
  EXPECT_GT(track[9].jaw, 0.5 * open);
  EXPECT_GT(track[10].jaw, 0.9 * open);
  // Release over several frames, not a snap.
  EXPECT_GT(track[21].jaw, 0.2 * open);
  EXPECT_LT(track[25].jaw, 0.1 * open);
}

TEST(MouthTrack, DynamicScaleScalesAmplitude) {
  const auto f = syllables(6);
  const auto base = mouth_track(f, {.fps = 25, .dynamic_scale = 1.0, .smooth = true});
  const auto more = mouth_track(f, {.fps = 25, .dynamic_scale = 1.2, .smooth = true});
  const auto none = mouth_track(f, {.fps = 25, .dynamic_scale = 0.0, .smooth = true});
  double sum_base = 0, sum_more = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    sum_base += base[i].jaw;
    sum_more += more[i].jaw;
    EXPECT_GE(more[i].jaw + 1e-12, base[i].jaw);
    EXPECT_EQ(none[i].jaw, 0);
    EXPECT_EQ(none[i].closure, 0);
  }
  EXPECT_GT(sum_more, 1.1 * sum_base);
}

TEST(MouthTrack, SmoothingLowersJerk) {
  const auto f = syllables(10);
  const auto smooth = mouth_track(f, {.fps = 25, .dynamic_scale = 1, .smooth = true});
  const auto raw = mouth_track(f, {.fps = 25, .dynamic_scale = 1, .smooth = false});
  EXPECT_LT(mean_jerk(smooth), 0.8 * mean_jerk(raw));
}

TEST(MouthTrack, SharpDipBetweenSpeechIsAClosure) {
  std::vector<audio::SpeechFrame> f(5, frame_at(-100));
  for (int k = 0; k < 6; ++k) f.push_back(frame_at(-18));
  f.push_back(frame_at(-40));  // "b"
  for (int k = 0; k < 6; ++k) f.push_back(frame_at(-18));
  const auto track = mouth_track(f, {});
  EXPECT_GT(track[11].closure, 0.8);
  EXPECT_LT(track[11].jaw, 0.3);
  // In the pause before the speech the lips only rest together, less than in a "b".
  EXPECT_GT(track[3].closure, 0.3);
  EXPECT_LT(track[3].closure, 0.7);
  EXPECT_EQ(track[3].jaw, 0);
}

TEST(MouthTrack, FormantsShapeTheLips) {
  std::vector<audio::SpeechFrame> ee(20, frame_at(-18, 300, 2300)), oo(20, frame_at(-18, 350, 800));
  const auto spread = mouth_track(ee, {}), round = mouth_track(oo, {});
  EXPECT_GT(spread[15].spread, 0.5);
  EXPECT_LT(spread[15].rounding, 0.1);
  EXPECT_GT(round[15].rounding, 0.5);
  EXPECT_LT(round[15].spread, 0.1);
}

TEST(SpeechFeatures, LoudnessVoicingAndBands) {
  const int rate = 16000;
  std::vector<float> samples(rate * 2, 0.0f);
  // First second: a 150 Hz voiced buzz (harmonics); second: white noise, band-passed by nothing.
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  for (int i = 0; i < rate; ++i) {
    double v = 0;
    for (int h = 1; h <= 8; ++h) v += std::sin(2 * std::numbers::pi * 150 * h * i / rate) / h;
    samples[static_cast<size_t>(i)] = static_cast<float>(0.2 * v);
  }
  for (int i = rate; i < 2 * rate; ++i) samples[static_cast<size_t>(i)] = noise(rng);
  const auto f = audio::speech_features_per_frame(samples, rate, 25, 60);
  ASSERT_EQ(f.size(), 60u);
  EXPECT_GT(f[10].voicing, 0.7);
  EXPECT_LT(f[35].voicing, 0.4);
  EXPECT_GT(f[35].high_band_db, f[10].high_band_db + 10);
  EXPECT_GT(f[35].centroid_hz, f[10].centroid_hz);
  EXPECT_NEAR(f[35].loudness_db, -20.0, 1.0);  // RMS 0.1
  EXPECT_EQ(f[55].loudness_db, -100.0);         // past the end: silence
  // A window offset reads later audio.
  const auto shifted = audio::speech_features_per_frame(samples, rate, 25, 60, 0.2);
  EXPECT_NEAR(shifted[20].loudness_db, f[25].loudness_db, 1e-9);
}
