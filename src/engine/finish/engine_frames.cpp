// Reading and resampling an engine's frames (see engine_frames.h).
#include "engine/finish/engine_frames.h"

#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "media/video_reader.h"
#include "util/error.h"

namespace sonic::engine::finish {
namespace {

std::uint32_t read_u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
}

Error bad_frames(const std::string& what) {
  return Error(ErrorCode::engine_failed, "The engine handed back unusable frames: " + what + ".");
}

}  // namespace

EngineFrames::EngineFrames(std::filesystem::path path, bool raw_rgb24, std::optional<double> fps)
    : path_(std::move(path)), raw_(raw_rgb24), fps_hint_(fps) {
  open();
}

EngineFrames::~EngineFrames() = default;

void EngineFrames::open() {
  read_ = 0;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) throw bad_frames("there is no file " + path_.filename().string());
  if (raw_) {
    raw_file_ = std::ifstream(path_, std::ios::binary);
    unsigned char header[kFrameFileHeaderBytes];
    if (!raw_file_.read(reinterpret_cast<char*>(header), sizeof header))
      throw bad_frames("the frame file is shorter than its header");
    if (std::memcmp(header, kFrameFileMagic, sizeof kFrameFileMagic) != 0)
      throw bad_frames("the frame file does not start with SNCFRM01");
    const std::uint32_t w = read_u32(header + 8), h = read_u32(header + 12), n = read_u32(header + 16);
    const std::uint32_t num = read_u32(header + 20), den = read_u32(header + 24);
    if (w < 2 || h < 2 || w > 8192 || h > 8192) throw bad_frames("the frame file states a size of " + std::to_string(w) + "x" + std::to_string(h));
    size_ = cv::Size(static_cast<int>(w), static_cast<int>(h));
    const auto frame_bytes = static_cast<std::uintmax_t>(w) * h * 3;
    const auto body = std::filesystem::file_size(path_, ec) - kFrameFileHeaderBytes;
    if (ec || body % frame_bytes != 0) throw bad_frames("the frame file does not hold a whole number of frames");
    const auto held = static_cast<long long>(body / frame_bytes);
    if (n != 0 && n != held)
      throw bad_frames("the frame file's header says " + std::to_string(n) + " frames, the file holds " + std::to_string(held));
    count_ = held;
    fps_ = fps_hint_ ? *fps_hint_ : (num > 0 && den > 0 ? static_cast<double>(num) / den : 0);
    rgb_.create(size_, CV_8UC3);
  } else {
    try {
      video_ = std::make_unique<media::VideoReader>(path_);
    } catch (const Error& e) {
      throw bad_frames("the video cannot be read (" + e.message() + ")");
    }
    const auto& info = video_->info();
    size_ = cv::Size(info.width, info.height);
    count_ = info.frame_count > 0 ? info.frame_count : -1;
    fps_ = fps_hint_ ? *fps_hint_ : info.fps;
  }
  if (!(fps_ > 0) || !std::isfinite(fps_) || fps_ > 240) throw bad_frames("no usable frame rate");
}

bool EngineFrames::read(cv::Mat& bgr) {
  if (raw_) {
    if (read_ >= count_) return false;
    if (!raw_file_.read(reinterpret_cast<char*>(rgb_.data), static_cast<std::streamsize>(rgb_.total() * 3)))
      return false;
    cv::cvtColor(rgb_, bgr, cv::COLOR_RGB2BGR);
    ++read_;
    return true;
  }
  if (!video_->read(bgr)) return false;
  if (bgr.size() != size_) throw bad_frames("the video changes its picture size");
  ++read_;
  return true;
}

void EngineFrames::rewind() {
  video_.reset();
  raw_file_ = std::ifstream();
  open();
}

ResampledFrames::ResampledFrames(EngineFrames& source, double fps, int frames)
    : source_(source), fps_(fps), frames_(frames) {}

void ResampledFrames::rewind() {
  source_.rewind();
  next_ = 0;
  source_index_ = -1;
  source_done_ = false;
  current_.release();
}

bool ResampledFrames::next(cv::Mat& bgr) {
  if (next_ >= frames_) return false;
  const auto wanted = static_cast<long long>(std::floor(next_ * source_.fps() / fps_ + 0.5));
  while (source_index_ < wanted && !source_done_) {
    if (source_.read(lookahead_)) {
      std::swap(current_, lookahead_);
      ++source_index_;
    } else {
      source_done_ = true;
    }
  }
  if (current_.empty()) throw bad_frames("there are no frames");
  current_.copyTo(bgr);
  ++next_;
  return true;
}

FrameFileWriter::FrameFileWriter(const std::filesystem::path& path, cv::Size size, int fps_num, int fps_den)
    : out_(path, std::ios::binary | std::ios::trunc), size_(size), fps_num_(fps_num), fps_den_(fps_den) {
  if (!out_) throw Error(ErrorCode::internal, "Cannot write " + path.string() + ".");
  unsigned char header[kFrameFileHeaderBytes] = {};
  out_.write(reinterpret_cast<const char*>(header), sizeof header);
}

void FrameFileWriter::write_bgr(const cv::Mat& bgr) {
  if (bgr.size() != size_ || bgr.type() != CV_8UC3) throw Error(ErrorCode::internal, "frame of the wrong size or type");
  cv::cvtColor(bgr, rgb_, cv::COLOR_BGR2RGB);
  out_.write(reinterpret_cast<const char*>(rgb_.data), static_cast<std::streamsize>(rgb_.total() * 3));
  ++count_;
}

void FrameFileWriter::close() {
  if (!out_.is_open()) return;
  unsigned char header[kFrameFileHeaderBytes] = {};
  std::memcpy(header, kFrameFileMagic, sizeof kFrameFileMagic);
  put_u32(header + 8, static_cast<std::uint32_t>(size_.width));
  put_u32(header + 12, static_cast<std::uint32_t>(size_.height));
  put_u32(header + 16, count_);
  put_u32(header + 20, static_cast<std::uint32_t>(fps_num_));
  put_u32(header + 24, static_cast<std::uint32_t>(fps_den_));
  out_.seekp(0);
  out_.write(reinterpret_cast<const char*>(header), sizeof header);
  out_.close();
}

FrameFileWriter::~FrameFileWriter() { close(); }

}  // namespace sonic::engine::finish
