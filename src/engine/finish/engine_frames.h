// finish/ — the finishing step every engine's video goes through (DESIGN §2 "finishing"):
// read the engine's frames, resample them to the requested fps, compose them into the
// output picture (full_frame paste-back), measure and correct the audio-to-mouth lag
// (align_mouth), and write the MP4 with our own writer and the user's original audio.
// Calls media/, face/ (through quality/'s measurer) and audio/; never jobs/ or http/.
//
// EngineFrames reads what an engine handed back — the protocol's rgb24 frame file
// (docs/engine-protocol.md) or any video FFmpeg reads — one BGR frame at a time, never the
// whole video at once. ResampledFrames turns it into exactly N frames at the output fps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>

namespace sonic::media {
class VideoReader;
}

namespace sonic::engine::finish {

inline constexpr char kFrameFileMagic[8] = {'S', 'N', 'C', 'F', 'R', 'M', '0', '1'};
inline constexpr std::size_t kFrameFileHeaderBytes = 32;

class EngineFrames {
 public:
  // `raw_rgb24`: the frame file; otherwise a video file. `fps` (from the `done` message)
  // wins over what the file says. Throws Error(engine_failed) naming what is wrong: a missing
  // file, a bad header, a size that is not a whole number of frames, no frame rate.
  EngineFrames(std::filesystem::path path, bool raw_rgb24, std::optional<double> fps);
  ~EngineFrames();
  EngineFrames(const EngineFrames&) = delete;
  EngineFrames& operator=(const EngineFrames&) = delete;

  double fps() const { return fps_; }
  cv::Size size() const { return size_; }
  long long count() const { return count_; }  // -1 when the container does not say
  // Next frame as 8-bit BGR of size(); false at the end.
  bool read(cv::Mat& bgr);
  // Back to the first frame (the finishing step reads twice when it measures the mouth).
  void rewind();

 private:
  void open();
  std::filesystem::path path_;
  bool raw_;
  std::optional<double> fps_hint_;
  double fps_ = 0;
  cv::Size size_;
  long long count_ = -1;
  long long read_ = 0;
  std::ifstream raw_file_;
  std::unique_ptr<media::VideoReader> video_;
  cv::Mat rgb_;
};

// Exactly `frames` frames at `fps` from `source`: output frame k shows the source frame
// nearest in time (k × source_fps / fps, rounded), the last one held when the source ends
// early. Throws Error(engine_failed) when the source has no frame at all.
class ResampledFrames {
 public:
  ResampledFrames(EngineFrames& source, double fps, int frames);
  bool next(cv::Mat& bgr);  // false after `frames` frames
  void rewind();
  int index() const { return next_; }
  int total() const { return frames_; }

 private:
  EngineFrames& source_;
  double fps_;
  int frames_;
  int next_ = 0;
  long long source_index_ = -1;  // index of `current_`
  cv::Mat current_, lookahead_;
  bool source_done_ = false;
};

// Writes the protocol's frame file (tests, benchmarks, engines written in C++).
class FrameFileWriter {
 public:
  FrameFileWriter(const std::filesystem::path& path, cv::Size size, int fps_num, int fps_den = 1);
  void write_bgr(const cv::Mat& bgr);
  void close();  // rewrites the header with the frame count
  ~FrameFileWriter();

 private:
  std::ofstream out_;
  cv::Size size_;
  int fps_num_, fps_den_;
  std::uint32_t count_ = 0;
  cv::Mat rgb_;
};

}  // namespace sonic::engine::finish
