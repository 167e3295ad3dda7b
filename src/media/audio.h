// Audio decoding to mono float PCM at a rate the caller picks.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "media/limits.h"

namespace sonic::media {

struct PcmAudio {
  int sample_rate = 0;
  std::vector<float> samples;  // mono, nominally in [-1, 1]
  double duration_s() const {
    return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

// Decodes any supported audio file (and the audio track of a video file such as our own
// MP4 output) to mono float PCM at `sample_rate` (e.g. 16000 for analysis, 48000 for the
// output track). The result's length is the decoded length, exactly. Refuses audio longer
// than limits.max_audio_seconds (audio_too_long) before decoding when the container states
// its length, and stops decoding at the limit otherwise. Throws Error like probe_audio.
// `use_first_s` (a job's `duration`): only the first this many seconds are decoded and
// returned, and a longer recording is not refused (see probe_audio).
PcmAudio decode_audio(const std::filesystem::path& path, int sample_rate,
                      const MediaLimits& limits = {}, std::optional<double> use_first_s = std::nullopt);

// Returns `audio` cut or padded with silence to exactly round(duration_s * sample_rate) samples.
PcmAudio fit_to_duration(PcmAudio audio, double duration_s);

}  // namespace sonic::media
