// Mp4Writer throughput: frames per second at 512×512 and 1024×1024 with the default options
// (x264 veryfast, crf 20, threads auto, AAC 48 kHz), plus peak memory. This is the floor under
// every later speed figure: the engine can never deliver video faster than this.
//
// Each case runs in its own child process so its peak RSS (getrusage ru_maxrss) is its own,
// not the maximum over every case before it. Frames are made before the clock starts; the
// clock covers opening the encoders, every write_frame (colour conversion, H.264 and AAC
// encoding, muxing) and finish() (flush and the faststart rewrite). A long 512×512 case
// shows that memory does not grow with the video's length.
//
// Usage: mp4_writer_bench [frames]   (default 250)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "media/mp4_writer.h"

namespace {

namespace fs = std::filesystem;
using sonic::media::Mp4Options;
using sonic::media::Mp4Writer;
using sonic::media::PcmAudio;

// Smooth gradients plus blurred noise (skin-like texture), moved and turned a little each
// frame like a talking head, with the frame number on top: neither trivially compressible
// nor pure noise.
class FrameSource {
 public:
  explicit FrameSource(int side) : side_(side), base_(side, side, CV_8UC3) {
    cv::Mat noise(side, side, CV_8UC3);
    cv::RNG rng(42);
    rng.fill(noise, cv::RNG::NORMAL, 0, 40);
    cv::GaussianBlur(noise, noise, {0, 0}, side / 256.0 + 1.0);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x)
        base_.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(90 + 80 * x / side),
                                              static_cast<uchar>(110 + 60 * y / side),
                                              static_cast<uchar>(150 + 70 * (x + y) / (2 * side)));
    base_ += noise;
    cv::circle(base_, {side / 2, side / 2}, side / 4, cv::Scalar(60, 80, 170), cv::FILLED,
               cv::LINE_AA);
  }

  cv::Mat frame(int index) const {
    const double t = index / 25.0;
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(side_ / 2.0f, side_ / 2.0f),
                                        2.0 * std::sin(t * 1.3), 1.0 + 0.01 * std::sin(t * 0.7));
    m.at<double>(0, 2) += side_ * 0.01 * std::sin(t * 2.1);
    m.at<double>(1, 2) += side_ * 0.008 * std::cos(t * 1.7);
    cv::Mat out;
    cv::warpAffine(base_, out, m, base_.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
    cv::ellipse(out, {side_ / 2, side_ * 2 / 3},
                {side_ / 12, static_cast<int>(side_ / 40 * (1.5 + std::sin(t * 9)))}, 0, 0, 360,
                cv::Scalar(30, 20, 60), cv::FILLED, cv::LINE_AA);
    cv::putText(out, std::to_string(index), {side_ / 16, side_ / 8}, cv::FONT_HERSHEY_SIMPLEX,
                side_ / 256.0, cv::Scalar(255, 255, 255), 2);
    return out;
  }

 private:
  int side_;
  cv::Mat base_;
};

long resident_kb() {
  long pages_total = 0, pages_resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Result {
  double seconds = 0;
  long rss_before_kb = 0;  // frames made, writer not yet opened
  long peak_rss_kb = 0;
  long long bytes = 0;
};

Result run_case(int side, int frames, const fs::path& dir) {
  Mp4Options options;  // defaults, as the engine uses them
  options.width = side;
  options.height = side;
  options.duration_s = static_cast<double>(frames) / options.fps;
  PcmAudio audio;
  audio.sample_rate = 16000;
  audio.samples.resize(static_cast<std::size_t>(options.duration_s * audio.sample_rate));
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] = static_cast<float>(0.3 * std::sin(2 * std::numbers::pi * 220.0 * i / 16000));

  // Frames are made ahead so the clock measures the writer only (making them on the fly
  // would hand x264's threads free time); a short ping-pong loop of distinct frames keeps
  // their memory small, and it is reported apart from the writer's.
  FrameSource source(side);
  const int distinct = std::min(frames, 25);
  std::vector<cv::Mat> made;
  for (int i = 0; i < distinct; ++i) made.push_back(source.frame(i));

  const fs::path out =
      dir / ("bench_" + std::to_string(side) + "_" + std::to_string(frames) + ".mp4");
  Result r;
  r.rss_before_kb = resident_kb();
  const auto start = std::chrono::steady_clock::now();
  {
    Mp4Writer writer(out, options, audio);
    for (int i = 0; i < writer.frame_count(); ++i) {
      // Ping-pong through the made frames so motion stays continuous.
      const int period = 2 * distinct - 2;
      const int k = period > 0 ? i % period : 0;
      writer.write_frame(made[static_cast<std::size_t>(k < distinct ? k : period - k)]);
    }
    writer.finish();
  }
  const auto stop = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(stop - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.peak_rss_kb = usage.ru_maxrss;
  r.bytes = static_cast<long long>(fs::file_size(out));
  fs::remove(out);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int frames = argc > 1 ? std::atoi(argv[1]) : 250;
  if (frames < 1) {
    std::fprintf(stderr, "usage: %s [frames]\n", argv[0]);
    return 2;
  }
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("sonic-bench-" + std::to_string(rd()));
  fs::create_directories(dir);

  struct Case {
    int side;
    int frames;
  };
  const Case cases[] = {{512, frames}, {1024, frames}, {512, frames * 6}};
  const Mp4Options defaults;
  std::printf("Mp4Writer, default options: preset %s, crf %d, %d fps, AAC %d Hz; %ld cores\n",
              defaults.preset.c_str(), defaults.crf, defaults.fps, defaults.audio_sample_rate,
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-11s %7s %9s %9s %10s %11s %13s %13s\n", "size", "frames", "seconds", "frames/s",
              "x realtime", "MB written", "peak RSS MB", "writer MB");
  std::fflush(stdout);
  int status_all = 0;
  for (const Case& c : cases) {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child == 0) {
      try {
        const Result r = run_case(c.side, c.frames, dir);
        const double fps = c.frames / r.seconds;
        std::printf("%4dx%-6d %7d %9.2f %9.1f %10.2f %11.2f %13.1f %13.1f\n", c.side, c.side,
                    c.frames, r.seconds, fps, fps / defaults.fps, r.bytes / 1e6,
                    r.peak_rss_kb / 1024.0, (r.peak_rss_kb - r.rss_before_kb) / 1024.0);
        std::fflush(stdout);
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%dx%d failed: %s\n", c.side, c.side, e.what());
        _exit(1);
      }
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) status_all = 1;
  }
  std::printf(
      "peak RSS: the whole process, including 25 pre-made frames; writer MB: peak RSS "
      "minus RSS just before the writer opened.\n");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return status_all;
}
