// Audio decoding to mono float PCM at a rate the caller picks.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
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

// For `sample_rate` below: the recording's own rate (its audio stream's; 48 kHz for a
// header claiming more than 384 kHz), read back from the result's sample_rate or from
// AudioStream::sample_rate().
constexpr int kRecordingRate = 0;

// Decodes any supported audio file (and the audio track of a video file such as our own
// MP4 output) to mono float PCM at `sample_rate` (e.g. 16000 for analysis, or
// kRecordingRate). The result's length is the decoded length, exactly. Refuses audio longer
// than limits.max_audio_seconds (audio_too_long) before decoding when the container states
// its length, and stops decoding at the limit otherwise. Throws Error like probe_audio.
// `use_first_s` (a job's `duration`): only the first this many seconds are decoded and
// returned, and a longer recording is not refused (see probe_audio).
PcmAudio decode_audio(const std::filesystem::path& path, int sample_rate,
                      const MediaLimits& limits = {}, std::optional<double> use_first_s = std::nullopt);

// The same decoding a chunk at a time, for long tracks that need not be in memory at once
// (the MP4 writer pulls the output track from it): memory stays flat whatever the length.
// Checks, limits and errors as decode_audio (the first read may throw what decode_audio
// throws while decoding); the samples, read to the end, are exactly decode_audio's.
class AudioStream {
 public:
  AudioStream(const std::filesystem::path& path, int sample_rate, const MediaLimits& limits = {},
              std::optional<double> use_first_s = std::nullopt);
  ~AudioStream();
  AudioStream(const AudioStream&) = delete;
  AudioStream& operator=(const AudioStream&) = delete;

  int sample_rate() const;  // the rate read() gives (the recording's with kRecordingRate)
  // The length the container states (checked against the limit), 0 when it states none.
  double stated_seconds() const;
  // Up to `n` samples into `out`; fewer only at the end, 0 after it.
  std::size_t read(float* out, std::size_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Returns `audio` cut or padded with silence to exactly round(duration_s * sample_rate) samples.
PcmAudio fit_to_duration(PcmAudio audio, double duration_s);

}  // namespace sonic::media
