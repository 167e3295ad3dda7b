// MotionTrack: head pose and blinks per video frame.
//
// Head: slow sway (sideways shift, yaw-like parallax, roll) from seeded low-frequency noise,
// livelier while speaking, plus nods on speech emphasis (loudness onsets). Everything is
// multiplied by motion_scale, so 0 gives exactly the same pose in every frame.
// Blinks: seeded random intervals of 2.5–5 s (12–24 per minute, never periodic), each
// 150–320 ms long. smooth_motion Gaussian-filters the head tracks; without it the nods are
// raw steps (what a naive pipeline gives: visibly jerkier).
// Deterministic: one std::mt19937_64 seeded from the job's seed, no clocks, no threads.
#pragma once

#include <cstdint>
#include <vector>

#include "audio/speech_features.h"

namespace sonic::engine::classic {

// Units: tx, ty, yaw in interocular distances (eye centre to eye centre); roll in degrees.
struct HeadPose {
  double tx = 0;    // sideways shift, + = right in the picture
  double ty = 0;    // vertical shift, + = down (nod)
  double roll_deg = 0;
  double yaw = 0;   // parallax shift: the nose moves more than the face outline
};

struct MotionFrame {
  HeadPose head;
  double blink = 0;  // 0 = eyes as in the photo, 1 = closed
};

struct Blink {
  double start_s = 0;
  double duration_s = 0;
};

struct MotionTrackOptions {
  double fps = 25;
  double motion_scale = 1.0;
  bool smooth = true;
  std::uint64_t seed = 0;
};

std::vector<MotionFrame> motion_track(const std::vector<audio::SpeechFrame>& features,
                                      const MotionTrackOptions& options);

// The blinks of a clip of `duration_s` for `seed` (used by motion_track; exposed for tests).
std::vector<Blink> plan_blinks(double duration_s, std::uint64_t seed);

// Eyelid closure 0–1 at time t for one blink: fast close, short hold, slower open.
double blink_closure(const Blink& blink, double t);

}  // namespace sonic::engine::classic
