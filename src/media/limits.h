// media/ — reading and writing pictures and sound. The only code that includes FFmpeg
// headers. Callers get plain data (cv::Mat frames, float PCM) and sonic::Error values.
#pragma once

#include <cstdint>

namespace sonic::media {

// Hard input limits (DESIGN §5); every one is configurable by the caller.
struct MediaLimits {
  std::int64_t max_image_pixels = 40'000'000;  // checked from the header, before decoding
  double max_audio_seconds = 300.0;            // checked from the container when it says
};

}  // namespace sonic::media
