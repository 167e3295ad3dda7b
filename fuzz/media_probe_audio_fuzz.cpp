// Fuzz target: audio content sniffing, our own header parses (RIFF/WAVE, MP3 frames after
// ID3, Ogg, ADTS) and the forced-demuxer open with one decoded frame (media/probe.h,
// probe_audio), with and without a `duration` that relaxes the length limit. Any input must
// end in AudioInfo or a sonic::Error naming the audio field.
#include <cstdint>
#include <optional>

#include "fuzz_input.h"
#include "media/probe.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sonic::fuzz::InputFile file;
  if (size < 1) return 0;
  sonic::media::MediaLimits limits;
  limits.max_audio_seconds = 30;
  // The first byte picks the mode, so the corpus can hold both.
  const std::optional<double> use_first_s = (data[0] & 1) ? std::optional<double>(2.0) : std::nullopt;
  try {
    const auto info = sonic::media::probe_audio(file.write(data + 1, size - 1), limits, use_first_s);
    if (info.sample_rate <= 0 || info.channels <= 0 || !(info.duration_s >= 0)) sonic::fuzz::broken_promise();
    if (!use_first_s && info.duration_s > limits.max_audio_seconds) sonic::fuzz::broken_promise();
  } catch (const sonic::Error& e) {
    if (e.field() != "audio" || e.message().empty()) sonic::fuzz::broken_promise();
  }
  return 0;
}
