// MouthTrack: speech features per video frame → mouth controls per video frame.
//
// The mapping follows uLipSync and Rhubarb Lip Sync: loudness between (speech level − 24 dB)
// and (speech level − 3 dB) maps to jaw opening 0…1, where the speech level is the clip's
// own 95th-percentile loudness, so quiet recordings move as much as loud ones; F1 adds to the
// jaw (open vowels), F2 spreads (i, e) or rounds (o, u) the lips; a sharp loudness dip between
// speech is a lip closure (p, b, m); in pauses the lips rest gently together. Shapes are held
// at least two frames and appear one frame early (anticipation), then smoothed
// asymmetrically: open within 1–2 frames, close over 3–4.
#pragma once

#include <vector>

#include "audio/speech_features.h"

namespace sonic::engine::classic {

struct MouthControls {
  double jaw = 0;       // 0 = at rest (the photo's mouth); ~1 = wide open; at most 2 at dynamic_scale 2
  double spread = 0;    // 0–1: lips pulled wide (high F2)
  double rounding = 0;  // 0–1: lips pushed round (low F2)
  double closure = 0;   // 0–1: lips pressed together (bilabial)
};

struct MouthTrackOptions {
  double fps = 25;
  double dynamic_scale = 1.0;  // multiplies every mouth amplitude
  bool smooth = true;          // attack/release smoothing; off = the raw per-frame targets
};

std::vector<MouthControls> mouth_track(const std::vector<audio::SpeechFrame>& features,
                                       const MouthTrackOptions& options);

// The clip's speech level in dBFS (95th percentile of frames above -75 dBFS), or nullopt-like
// -100 when the clip holds no sound at all. Shared with the motion track.
double speech_level_db(const std::vector<audio::SpeechFrame>& features);

// Openness 0–1 from loudness relative to the clip's speech level (the uLipSync curve).
double loudness_openness(double loudness_db, double speech_level_db);

}  // namespace sonic::engine::classic
