// Engine-agnostic align_mouth: measure the audio-to-mouth lag of an engine's frames with our
// own landmark scorer (quality/, the one behind `sonic-server score`) and shift the audio by
// it when the measurement is trustworthy and the lag is small (within ±3 frames: larger lags
// are more likely a measurement error on a face that hardly moves than a real offset).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "engine/finish/engine_frames.h"
#include "media/audio.h"

namespace sonic::engine::finish {

struct MouthAlignment {
  std::optional<double> measured_lag_ms;  // positive: the mouth moves after the sound
  std::optional<double> correlation;      // mouth opening vs loudness at that lag
  double audio_shift_ms = 0;              // applied: positive = the audio starts later
  bool applied = false;
  std::string reason;                     // why nothing was applied, when it was not

  nlohmann::json to_json() const;
};

inline constexpr int kMaxAlignFrames = 3;

// Reads `frames` to the end (the caller rewinds it afterwards). `audio` is the analysis
// audio (any rate), already fitted to the video's duration. `progress` gets 0–1.
MouthAlignment measure_mouth_alignment(ResampledFrames& frames, const media::PcmAudio& audio, int fps,
                                       const CancelToken& cancel, const std::function<void(double)>& progress);

// `audio` delayed by `shift_ms` (silence in front) or advanced (its start cut) when negative;
// the length is unchanged.
media::PcmAudio shift_audio(media::PcmAudio audio, double shift_ms);

}  // namespace sonic::engine::finish
