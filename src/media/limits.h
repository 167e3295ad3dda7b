// media/ — reading and writing pictures and sound. The only code that includes FFmpeg
// headers. Callers get plain data (cv::Mat frames, float PCM) and sonic::Error values.
#pragma once

#include <cstdint>

namespace sonic::media {

// Hard input limits (DESIGN §5); every one is configurable by the caller.
struct MediaLimits {
  std::int64_t max_image_pixels = 40'000'000;  // checked from the header, before decoding
  double max_audio_seconds = 300.0;            // checked from the container when it says
  // full_frame output is scaled down so that its longer side fits (bounds a job's cost on
  // a huge picture; framing applies it, the job budget counts with it).
  int max_full_frame_side = 2048;
};

}  // namespace sonic::media
