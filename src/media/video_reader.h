// VideoReader: decodes the picture of any common video file (ours or another tool's)
// frame by frame, for `sonic-server score` and for tests.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>

namespace sonic::media {

struct VideoInfo {
  int width = 0;
  int height = 0;
  double fps = 0;            // average frame rate
  double duration_s = 0;     // of the video stream
  long long frame_count = 0; // as the container states it (0 when unknown)
  std::string codec;         // e.g. "h264"
  std::string profile;       // e.g. "High"
  std::string pixel_format;  // e.g. "yuv420p"
  bool has_audio = false;
  std::string audio_codec;   // e.g. "aac"
  double audio_duration_s = 0;
};

class VideoReader {
 public:
  // Throws Error(unreadable_media) when the file has no decodable video stream.
  explicit VideoReader(const std::filesystem::path& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  // Next frame as 8-bit BGR; false at the end of the stream.
  bool read(cv::Mat& bgr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when the file's "moov" box comes before its "mdat" box (faststart).
bool moov_before_mdat(const std::filesystem::path& path);

}  // namespace sonic::media
