// Unit tests of the classic engine's head motion and blinks (motion_track).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/classic/motion_track.h"

using namespace sonic;
using namespace sonic::engine::classic;

namespace {

std::vector<audio::SpeechFrame> speech_like(int frames) {
  std::vector<audio::SpeechFrame> out(static_cast<size_t>(frames));
  for (int i = 0; i < frames; ++i) {
    const int phase = i % 20;  // a 0.8 s "phrase": loud onset, decay, pause
    out[static_cast<size_t>(i)].loudness_db = phase < 12 ? -15.0 - phase : -100.0;
  }
  return out;
}

double head_jerk(const std::vector<MotionFrame>& t) {
  double sum = 0;
  for (size_t i = 2; i < t.size(); ++i)
    sum += std::hypot(t[i].head.tx - 2 * t[i - 1].head.tx + t[i - 2].head.tx,
                      t[i].head.ty - 2 * t[i - 1].head.ty + t[i - 2].head.ty);
  return sum / static_cast<double>(t.size() - 2);
}

}  // namespace

TEST(MotionTrack, ScaleZeroIsAStillHead) {
  const auto track = motion_track(speech_like(250), {.fps = 25, .motion_scale = 0.0, .smooth = true, .seed = 5});
  for (const auto& m : track) {
    EXPECT_EQ(m.head.tx, 0);
    EXPECT_EQ(m.head.ty, 0);
    EXPECT_EQ(m.head.roll_deg, 0);
    EXPECT_EQ(m.head.yaw, 0);
  }
}

TEST(MotionTrack, ScaleOneMovesAndScaleTwoMovesMore) {
  const auto f = speech_like(250);
  const auto one = motion_track(f, {.fps = 25, .motion_scale = 1.0, .smooth = true, .seed = 5});
  const auto two = motion_track(f, {.fps = 25, .motion_scale = 2.0, .smooth = true, .seed = 5});
  double range_one = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    range_one = std::max(range_one, std::abs(one[i].head.tx) + std::abs(one[i].head.ty));
    EXPECT_NEAR(two[i].head.tx, 2 * one[i].head.tx, 1e-12);
  }
  EXPECT_GT(range_one, 0.02);
}

TEST(MotionTrack, BlinksAreNaturalOnTwentySeconds) {
  for (std::uint64_t seed : {0ULL, 1ULL, 42ULL, 1234567ULL}) {
    const auto blinks = plan_blinks(20.0, seed);
    const double per_minute = static_cast<double>(blinks.size()) * 3.0;
    EXPECT_GE(per_minute, 10) << "seed " << seed;
    EXPECT_LE(per_minute, 25) << "seed " << seed;
    std::vector<double> gaps;
    for (size_t i = 0; i < blinks.size(); ++i) {
      EXPECT_GE(blinks[i].duration_s, 0.1);
      EXPECT_LE(blinks[i].duration_s, 0.4);
      if (i > 0) gaps.push_back(blinks[i].start_s - blinks[i - 1].start_s);
    }
    // Not in lock-step: the intervals vary.
    double mean = 0, var = 0;
    for (double g : gaps) mean += g / static_cast<double>(gaps.size());
    for (double g : gaps) var += (g - mean) * (g - mean) / static_cast<double>(gaps.size());
    EXPECT_GT(std::sqrt(var), 0.2) << "seed " << seed;
  }
}

TEST(MotionTrack, EveryBlinkClosesTheEyesInSomeFrame) {
  const auto track = motion_track(speech_like(500), {.fps = 25, .motion_scale = 1, .smooth = true, .seed = 9});
  const auto blinks = plan_blinks(20.0, 9);
  int closed_runs = 0;
  bool closed = false;
  for (const auto& m : track) {
    const bool now = m.blink > 0.9;
    if (now && !closed) ++closed_runs;
    closed = now;
  }
  EXPECT_EQ(closed_runs, static_cast<int>(blinks.size()));
  // Same at 10 fps, where a frame is longer than the shortest blink's closed phase.
  const auto slow = motion_track(speech_like(200), {.fps = 10, .motion_scale = 1, .smooth = true, .seed = 9});
  closed_runs = 0;
  closed = false;
  for (const auto& m : slow) {
    const bool now = m.blink > 0.9;
    if (now && !closed) ++closed_runs;
    closed = now;
  }
  EXPECT_EQ(closed_runs, static_cast<int>(blinks.size()));
}

TEST(MotionTrack, SameSeedSameTrackOtherSeedOtherTrack) {
  const auto f = speech_like(200);
  const auto a = motion_track(f, {.fps = 25, .motion_scale = 1, .smooth = true, .seed = 11});
  const auto b = motion_track(f, {.fps = 25, .motion_scale = 1, .smooth = true, .seed = 11});
  const auto c = motion_track(f, {.fps = 25, .motion_scale = 1, .smooth = true, .seed = 12});
  bool differs = false;
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(a[i].head.tx, b[i].head.tx);
    EXPECT_EQ(a[i].head.roll_deg, b[i].head.roll_deg);
    EXPECT_EQ(a[i].blink, b[i].blink);
    differs = differs || a[i].head.tx != c[i].head.tx;
  }
  EXPECT_TRUE(differs);
}

TEST(MotionTrack, SmoothingLowersJerk) {
  const auto f = speech_like(250);
  const auto smooth = motion_track(f, {.fps = 25, .motion_scale = 1, .smooth = true, .seed = 3});
  const auto raw = motion_track(f, {.fps = 25, .motion_scale = 1, .smooth = false, .seed = 3});
  EXPECT_LT(head_jerk(smooth), 0.5 * head_jerk(raw));
}
