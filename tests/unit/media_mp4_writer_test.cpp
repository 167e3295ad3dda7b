// Mp4Writer and VideoReader, checked from the outside: every file written here is decoded
// again by our VideoReader and inspected by the ffprobe/ffmpeg command-line tools, so a bug
// shared by the writer and the reader cannot hide itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "media/mp4_writer.h"
#include "media/padded_bgr.h"
#include "media/video_reader.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::media {
namespace {

namespace fs = std::filesystem;
using sonic::test::run_ok;
using sonic::test::shell_quote;
using sonic::test::TempDir;

// A picture that changes every frame (moving smooth gradients) with the frame number drawn
// on it, so a dropped, repeated or black frame shows in the comparison.
cv::Mat synthetic_frame(int index, int width, int height) {
  cv::Mat frame(height, width, CV_8UC3);
  const double two_pi = 2 * std::numbers::pi;
  for (int y = 0; y < height; ++y) {
    auto* row = frame.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      row[x][0] =
          cv::saturate_cast<uchar>(128 + 100 * std::sin(two_pi * (x + 3.0 * index) / width));
      row[x][1] =
          cv::saturate_cast<uchar>(128 + 100 * std::sin(two_pi * (y - 2.0 * index) / height));
      row[x][2] = cv::saturate_cast<uchar>(
          128 + 90 * std::cos(two_pi * (x + y + 5.0 * index) / (width + height)));
    }
  }
  cv::putText(frame, std::to_string(index), {width / 8, height / 2}, cv::FONT_HERSHEY_SIMPLEX,
              width / 128.0, cv::Scalar(255, 255, 255), std::max(2, width / 100));
  return frame;
}

PcmAudio sine(int sample_rate, double seconds, double amplitude = 0.5, double hz = 440) {
  PcmAudio audio;
  audio.sample_rate = sample_rate;
  audio.samples.resize(static_cast<std::size_t>(std::llround(seconds * sample_rate)));
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] =
        static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * i / sample_rate));
  return audio;
}

void write_video(const fs::path& path, const Mp4Options& options, const PcmAudio& audio) {
  Mp4Writer writer(path, options, audio);
  for (int i = 0; i < writer.frame_count(); ++i)
    writer.write_frame(synthetic_frame(i, options.width, options.height));
  writer.finish();
}

nlohmann::json ffprobe(const fs::path& path) {
  std::string out =
      run_ok("ffprobe -v error -show_streams -show_format -of json " + shell_quote(path.string()));
  return nlohmann::json::parse(out);
}

const nlohmann::json& stream_of(const nlohmann::json& probe, const std::string& type) {
  for (const auto& s : probe.at("streams"))
    if (s.at("codec_type") == type) return s;
  throw std::runtime_error("no " + type + " stream in ffprobe output");
}

double number(const nlohmann::json& value) {
  return std::stod(value.get<std::string>());
}

// The output's audio decoded by the ffmpeg tool, as 48 kHz mono float.
std::vector<float> decoded_audio(const fs::path& video, const fs::path& raw) {
  run_ok("ffmpeg -v error -y -i " + shell_quote(video.string()) + " -vn -f f32le -ac 1 -ar 48000 " +
         shell_quote(raw.string()));
  std::string bytes = sonic::test::read_file(raw);
  std::vector<float> samples(bytes.size() / sizeof(float));
  std::memcpy(samples.data(), bytes.data(), samples.size() * sizeof(float));
  return samples;
}

double rms(const std::vector<float>& s, double from_s, double to_s, int rate = 48000) {
  auto a = static_cast<std::size_t>(from_s * rate);
  auto b = std::min(s.size(), static_cast<std::size_t>(to_s * rate));
  if (b <= a) return -1;
  double sum = 0;
  for (std::size_t i = a; i < b; ++i) sum += double{s[i]} * s[i];
  return std::sqrt(sum / static_cast<double>(b - a));
}

template <typename F>
void expect_error(ErrorCode code, const std::string& field, F&& action) {
  try {
    action();
    ADD_FAILURE() << "expected Error(" << code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    if (!field.empty()) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

struct Case {
  const char* name;
  double duration_s;
  int fps;
  int audio_rate;
  double audio_s;
};

class Mp4WriterRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(Mp4WriterRoundTrip, DecodesToExactlyWhatWasAsked) {
  const Case c = GetParam();
  TempDir dir;
  const fs::path out = dir / "out.mp4";
  Mp4Options options;
  options.width = 256;
  options.height = 192;
  options.fps = c.fps;
  options.duration_s = c.duration_s;
  const PcmAudio audio = sine(c.audio_rate, c.audio_s);
  const int frames = static_cast<int>(std::lround(c.duration_s * c.fps));
  const double video_s = static_cast<double>(frames) / c.fps;

  {
    Mp4Writer writer(out, options, audio);
    EXPECT_EQ(writer.frame_count(), frames);
    EXPECT_EQ(writer.output_path(), out);
    for (int i = 0; i < frames; ++i) {
      EXPECT_FALSE(fs::exists(out)) << "the real name must appear only at finish()";
      writer.write_frame(synthetic_frame(i, options.width, options.height));
    }
    EXPECT_EQ(writer.frames_written(), frames);
    writer.finish();
  }
  ASSERT_TRUE(fs::exists(out));
  EXPECT_EQ(dir.file_count(), 1u) << "temporary files were left behind";
  EXPECT_TRUE(moov_before_mdat(out));

  // What an independent tool sees.
  const nlohmann::json probe = ffprobe(out);
  const auto& v = stream_of(probe, "video");
  EXPECT_EQ(v.at("codec_name"), "h264");
  EXPECT_EQ(v.at("profile"), "High");
  EXPECT_EQ(v.at("pix_fmt"), "yuv420p");
  EXPECT_EQ(v.at("width"), options.width);
  EXPECT_EQ(v.at("height"), options.height);
  EXPECT_EQ(v.at("avg_frame_rate"), std::to_string(c.fps) + "/1");
  EXPECT_EQ(v.at("r_frame_rate"), std::to_string(c.fps) + "/1");
  EXPECT_EQ(number(v.at("nb_frames")), frames);
  EXPECT_NEAR(number(v.at("duration")), video_s, 1e-3);
  EXPECT_NEAR(number(v.at("start_time")), 0.0, 1e-3);
  const auto& a = stream_of(probe, "audio");
  EXPECT_EQ(a.at("codec_name"), "aac");
  EXPECT_EQ(a.at("profile"), "LC");
  EXPECT_EQ(a.at("sample_rate"), "48000");
  EXPECT_EQ(a.at("channels"), 1);
  const double audio_s = number(a.at("duration"));
  EXPECT_LE(std::abs(audio_s - video_s), 1.0 / c.fps)
      << "audio " << audio_s << " s vs video " << video_s << " s";
  EXPECT_NEAR(number(probe.at("format").at("duration")), video_s, 1.0 / c.fps);
  EXPECT_EQ(
      probe.at("format").at("format_name").get<std::string>().find("mp4") != std::string::npos,
      true);

  // Frames the ffmpeg decoder actually produces, not what the header claims.
  const std::string counted = run_ok(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames "
      "-of default=nokey=1:noprint_wrappers=1 " +
      shell_quote(out.string()));
  EXPECT_EQ(std::stoi(counted), frames);

  // What our reader sees, and that the pictures are the ones we pushed.
  VideoReader reader(out);
  const VideoInfo& info = reader.info();
  EXPECT_EQ(info.width, options.width);
  EXPECT_EQ(info.height, options.height);
  EXPECT_DOUBLE_EQ(info.fps, c.fps);
  EXPECT_NEAR(info.duration_s, video_s, 1e-3);
  EXPECT_EQ(info.frame_count, frames);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(info.profile, "High");
  EXPECT_EQ(info.pixel_format, "yuv420p");
  EXPECT_TRUE(info.has_audio);
  EXPECT_EQ(info.audio_codec, "aac");
  EXPECT_LE(std::abs(info.audio_duration_s - info.duration_s), 1.0 / c.fps);

  int decoded = 0;
  double worst_psnr = 1e9;
  cv::Mat bgr;
  while (reader.read(bgr)) {
    ASSERT_EQ(bgr.type(), CV_8UC3);
    ASSERT_EQ(bgr.cols, options.width);
    ASSERT_EQ(bgr.rows, options.height);
    if (decoded == 0 || decoded == frames / 2 || decoded == frames - 1)
      worst_psnr = std::min(worst_psnr,
                            cv::PSNR(bgr, synthetic_frame(decoded, options.width, options.height)));
    ++decoded;
  }
  EXPECT_EQ(decoded, frames);
  EXPECT_FALSE(reader.read(bgr)) << "read() must keep returning false at the end";
  EXPECT_GT(worst_psnr, 30.0) << "decoded frames do not match the pushed frames";

  // The sound: the sine where the input had sound, silence where it was padded, and as many
  // samples as the picture lasts.
  const std::vector<float> pcm = decoded_audio(out, dir / "audio.raw");
  fs::remove(dir / "audio.raw");
  EXPECT_NEAR(static_cast<double>(pcm.size()) / 48000, video_s, 1.0 / c.fps);
  const double sounding_end = std::min(c.audio_s, video_s);
  EXPECT_NEAR(rms(pcm, 0.05, sounding_end - 0.05), 0.5 / std::sqrt(2.0), 0.05);
  if (c.audio_s + 0.1 < video_s - 0.05) {
    EXPECT_LT(rms(pcm, c.audio_s + 0.1, video_s - 0.05), 0.01);
  }
}

INSTANTIATE_TEST_SUITE_P(Durations, Mp4WriterRoundTrip,
                         ::testing::Values(Case{"shorter_than_audio", 1.0, 25, 16000, 2.0},
                                           Case{"longer_than_audio", 3.0, 25, 16000, 2.0},
                                           Case{"equal_same_rate", 2.0, 25, 48000, 2.0},
                                           Case{"fractional_30fps_44k", 1.37, 30, 44100, 1.0},
                                           Case{"longer_60fps", 1.5, 60, 22050, 0.4}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(Mp4Writer, SilentWhenGivenNoAudio) {
  TempDir dir;
  Mp4Options options;
  options.width = 128;
  options.height = 128;
  options.duration_s = 1.2;
  write_video(dir / "silent.mp4", options, PcmAudio{});
  const nlohmann::json probe = ffprobe(dir / "silent.mp4");
  EXPECT_NEAR(number(stream_of(probe, "audio").at("duration")), 1.2, 1.0 / 25);
  const std::vector<float> pcm = decoded_audio(dir / "silent.mp4", dir / "a.raw");
  EXPECT_LT(rms(pcm, 0, 1.2), 1e-3);
}

TEST(Mp4Writer, SoundStaysInSyncWithThePicture) {
  // A tone burst starting at exactly 1.000 s must start there in the output too: resampler
  // delay or uncompensated AAC priming would move it by several milliseconds.
  TempDir dir;
  PcmAudio audio = sine(16000, 2.0);
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    if (i < 16000 || i >= 19200) audio.samples[i] = 0;
  Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.duration_s = 2;
  write_video(dir / "sync.mp4", options, audio);
  const std::vector<float> pcm = decoded_audio(dir / "sync.mp4", dir / "a.raw");
  double onset = -1;
  for (double t = 0.5; t < 1.5; t += 0.001) {
    if (rms(pcm, t, t + 0.002) > 0.5 / std::sqrt(2.0) / 2) {
      onset = t;
      break;
    }
  }
  EXPECT_NEAR(onset, 1.0, 0.005);
}

TEST(Mp4Writer, NonFiniteSamplesBecomeSilence) {
  TempDir dir;
  PcmAudio audio = sine(48000, 1.0);
  audio.samples[1000] = std::nanf("");
  audio.samples[2000] = std::numeric_limits<float>::infinity();
  Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.duration_s = 1;
  write_video(dir / "nan.mp4", options, audio);
  EXPECT_TRUE(fs::exists(dir / "nan.mp4"));
}

TEST(Mp4Writer, HighProfileWithEveryPreset) {
  for (const char* preset : {"ultrafast", "medium"}) {
    TempDir dir;
    Mp4Options options;
    options.width = 64;
    options.height = 64;
    options.duration_s = 0.2;
    options.preset = preset;
    write_video(dir / "p.mp4", options, sine(48000, 0.2));
    EXPECT_EQ(stream_of(ffprobe(dir / "p.mp4"), "video").at("profile"), "High") << preset;
  }
}

TEST(Mp4Writer, DestroyedBeforeFinishLeavesNoFile) {
  TempDir dir;
  Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.duration_s = 1;
  {
    Mp4Writer writer(dir / "aborted.mp4", options, sine(48000, 1));
    for (int i = 0; i < 10; ++i) writer.write_frame(synthetic_frame(i, 64, 64));
    EXPECT_EQ(dir.file_count(), 1u) << "expected the temporary file while writing";
  }
  EXPECT_EQ(dir.file_count(), 0u);
}

TEST(Mp4Writer, FinishWithTooFewFramesThrowsAndLeavesNoFile) {
  TempDir dir;
  Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.duration_s = 1;
  Mp4Writer writer(dir / "short.mp4", options, sine(48000, 1));
  for (int i = 0; i < 24; ++i) writer.write_frame(synthetic_frame(i, 64, 64));
  expect_error(ErrorCode::internal, "", [&] { writer.finish(); });
  EXPECT_EQ(dir.file_count(), 0u);
  EXPECT_FALSE(fs::exists(dir / "short.mp4"));
  // The writer stays closed.
  expect_error(ErrorCode::internal, "", [&] { writer.write_frame(synthetic_frame(24, 64, 64)); });
}

TEST(Mp4Writer, RefusesOneFrameTooManyButKeepsTheVideo) {
  TempDir dir;
  Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.duration_s = 0.2;  // 5 frames
  Mp4Writer writer(dir / "five.mp4", options, sine(48000, 0.2));
  ASSERT_EQ(writer.frame_count(), 5);
  for (int i = 0; i < 5; ++i) writer.write_frame(synthetic_frame(i, 64, 64));
  expect_error(ErrorCode::internal, "", [&] { writer.write_frame(synthetic_frame(5, 64, 64)); });
  writer.finish();
  EXPECT_EQ(number(stream_of(ffprobe(dir / "five.mp4"), "video").at("nb_frames")), 5);
}

TEST(Mp4Writer, WrongFramesAreInvalidParam) {
  TempDir dir;
  Mp4Options options;
  options.width = 64;
  options.height = 48;
  options.duration_s = 0.2;
  Mp4Writer writer(dir / "f.mp4", options, sine(48000, 0.2));
  expect_error(ErrorCode::invalid_param, "frame",
               [&] { writer.write_frame(cv::Mat(48, 66, CV_8UC3, cv::Scalar::all(0))); });
  expect_error(ErrorCode::invalid_param, "frame",
               [&] { writer.write_frame(cv::Mat(64, 48, CV_8UC3, cv::Scalar::all(0))); });
  expect_error(ErrorCode::invalid_param, "frame",
               [&] { writer.write_frame(cv::Mat(48, 64, CV_8UC1, cv::Scalar::all(0))); });
  expect_error(ErrorCode::invalid_param, "frame",
               [&] { writer.write_frame(cv::Mat(48, 64, CV_32FC3, cv::Scalar::all(0))); });
  expect_error(ErrorCode::invalid_param, "frame", [&] { writer.write_frame(cv::Mat()); });
  // A refused frame does not spoil the video.
  for (int i = 0; i < writer.frame_count(); ++i) writer.write_frame(synthetic_frame(i, 64, 48));
  writer.finish();
  EXPECT_TRUE(fs::exists(dir / "f.mp4"));
  // A non-continuous view (a crop of a larger image) is a valid frame too.
  Mp4Writer second(dir / "g.mp4", options, sine(48000, 0.2));
  cv::Mat big = synthetic_frame(0, 100, 100);
  for (int i = 0; i < second.frame_count(); ++i) second.write_frame(big(cv::Rect(3, 5, 64, 48)));
  second.finish();
  VideoReader reader(dir / "g.mp4");
  cv::Mat first;
  ASSERT_TRUE(reader.read(first));
  cv::Mat expected = big(cv::Rect(3, 5, 64, 48)).clone();
  EXPECT_GT(cv::PSNR(first, expected), 30.0);
}

TEST(Mp4Writer, BadOptionsAreInvalidParamAndLeaveNoFile) {
  TempDir dir;
  Mp4Options good;
  good.duration_s = 1;
  struct Bad {
    std::string field;
    void (*change)(Mp4Options&);
  };
  const std::vector<Bad> bad = {
      {"width", [](Mp4Options& o) { o.width = 511; }},
      {"width", [](Mp4Options& o) { o.width = 0; }},
      {"width", [](Mp4Options& o) { o.width = -2; }},
      {"height", [](Mp4Options& o) { o.height = 33; }},
      {"fps", [](Mp4Options& o) { o.fps = 0; }},
      {"fps", [](Mp4Options& o) { o.fps = -25; }},
      {"duration", [](Mp4Options& o) { o.duration_s = 0; }},
      {"duration", [](Mp4Options& o) { o.duration_s = -1; }},
      {"duration", [](Mp4Options& o) { o.duration_s = std::nan(""); }},
      {"duration", [](Mp4Options& o) { o.duration_s = 0.01; }},  // under one frame
      {"crf", [](Mp4Options& o) { o.crf = 52; }},
      {"crf", [](Mp4Options& o) { o.crf = -1; }},
      {"preset", [](Mp4Options& o) { o.preset = "warp-speed"; }},
      {"audio_sample_rate", [](Mp4Options& o) { o.audio_sample_rate = 12345; }},
      {"audio_sample_rate", [](Mp4Options& o) { o.audio_sample_rate = 0; }},
      {"audio_bitrate", [](Mp4Options& o) { o.audio_bitrate = 0; }},
  };
  for (const Bad& b : bad) {
    Mp4Options options = good;
    b.change(options);
    SCOPED_TRACE(b.field);
    expect_error(ErrorCode::invalid_param, b.field,
                 [&] { Mp4Writer(dir / "x.mp4", options, sine(16000, 1)); });
  }
  PcmAudio broken;
  broken.samples.assign(100, 0.f);  // samples without a rate
  expect_error(ErrorCode::invalid_param, "audio", [&] { Mp4Writer(dir / "x.mp4", good, broken); });
  EXPECT_EQ(dir.file_count(), 0u);
}

TEST(Mp4Writer, MissingFolderIsAnInternalErrorWithNoFile) {
  TempDir dir;
  Mp4Options options;
  options.duration_s = 1;
  expect_error(ErrorCode::internal, "",
               [&] { Mp4Writer(dir / "no" / "such" / "x.mp4", options, sine(16000, 1)); });
  EXPECT_EQ(dir.file_count(), 0u);
}

TEST(VideoReader, ReadsAnotherToolsVideoAndSeesNoFaststart) {
  TempDir dir;
  const fs::path mp4 = dir / "plain.mp4";
  // Made by the ffmpeg tool without +faststart: its index comes after the media data.
  run_ok(
      "ffmpeg -v error -f lavfi -i testsrc=size=160x120:rate=10:duration=2 -c:v libx264 "
      "-pix_fmt yuv444p " +
      shell_quote(mp4.string()));
  EXPECT_FALSE(moov_before_mdat(mp4));
  VideoReader reader(mp4);
  EXPECT_EQ(reader.info().pixel_format, "yuv444p");
  EXPECT_EQ(reader.info().profile, "High 4:4:4 Predictive");
  EXPECT_FALSE(reader.info().has_audio);
  int frames = 0;
  cv::Mat bgr;
  while (reader.read(bgr)) {
    EXPECT_EQ(bgr.size(), cv::Size(160, 120));
    ++frames;
  }
  EXPECT_EQ(frames, 20);

  const fs::path webm = dir / "other.webm";
  run_ok(
      "ffmpeg -v error -f lavfi -i testsrc=size=96x64:rate=15:duration=1 -c:v libvpx-vp9 "
      "-deadline realtime " +
      shell_quote(webm.string()));
  VideoReader vp9(webm);
  EXPECT_EQ(vp9.info().codec, "vp9");
  EXPECT_DOUBLE_EQ(vp9.info().fps, 15);
  frames = 0;
  while (vp9.read(bgr)) ++frames;
  EXPECT_EQ(frames, 15);
}

// swscale's SIMD converters (AVX-512 on this kind of CPU) store whole vectors, past the end
// of a row; FFmpeg pads its own buffers for that, OpenCV does not. A frame read into a
// picture inside a larger one must leave every byte outside it alone (before the fix, the
// bytes after each row were overwritten, and heap memory after a plain Mat was corrupted).
TEST(VideoReader, WritesNothingOutsideTheFrame) {
  TempDir dir;
  for (const cv::Size size : {cv::Size(456, 256), cv::Size(1000, 200), cv::Size(250, 98),
                              cv::Size(66, 34)}) {
    SCOPED_TRACE(std::to_string(size.width) + "x" + std::to_string(size.height));
    const fs::path mp4 = dir / ("w" + std::to_string(size.width) + ".mp4");
    run_ok("ffmpeg -v error -f lavfi -i testsrc=size=" + std::to_string(size.width) + "x" +
           std::to_string(size.height) +
           ":rate=10:duration=0.5 -c:v libx264 -pix_fmt yuv420p " + shell_quote(mp4.string()));
    VideoReader reader(mp4);
    constexpr int kGuard = 512;  // bytes a vector store could reach, with margin
    const cv::Scalar canary(7, 77, 177);
    cv::Mat canvas(size.height + 8, size.width + kGuard, CV_8UC3, canary);
    cv::Mat frame = canvas(cv::Rect(0, 0, size.width, size.height));
    int frames = 0;
    while (reader.read(frame)) {
      ASSERT_EQ(frame.data, canvas.data) << "the frame was reallocated, not written in place";
      cv::Mat outside = canvas.clone();
      outside(cv::Rect(0, 0, size.width, size.height)).setTo(canary);
      cv::Mat differs;
      cv::compare(outside.reshape(1), canvas.clone().setTo(canary).reshape(1), differs,
                  cv::CMP_NE);
      ASSERT_EQ(cv::countNonZero(differs), 0) << "frame " << frames;
      ++frames;
    }
    EXPECT_EQ(frames, 5);
  }
}

// Pictures from PaddedBgr have the room swscale needs after every row; an ordinary Mat, or a
// view reaching its parent's right edge, does not, and the writer copies it first.
TEST(PaddedBgr, TellsWhichPicturesHaveRoomAfterTheirRows) {
  PaddedBgr padded;
  const cv::Mat& picture = padded.fit(98, 250);
  EXPECT_EQ(picture.size(), cv::Size(250, 98));
  EXPECT_EQ(picture.type(), CV_8UC3);
  EXPECT_TRUE(PaddedBgr::has_room(picture));
  EXPECT_FALSE(PaddedBgr::has_room(cv::Mat(98, 250, CV_8UC3)));
  cv::Mat wide(98, 250 + PaddedBgr::kReach, CV_8UC3);
  EXPECT_TRUE(PaddedBgr::has_room(wide(cv::Rect(0, 0, 250, 97))));
  EXPECT_FALSE(PaddedBgr::has_room(wide(cv::Rect(PaddedBgr::kReach, 0, 250, 98))));
  EXPECT_FALSE(PaddedBgr::has_room(cv::Mat()));
}

TEST(VideoReader, RefusesFilesWithoutVideo) {
  TempDir dir;
  expect_error(ErrorCode::unreadable_media, "",
               [&] { VideoReader(sonic::test::fixture("speech_en_5s.wav")); });
  sonic::test::write_file(dir / "text.mp4", "this is not a video\n");
  expect_error(ErrorCode::unreadable_media, "", [&] { VideoReader(dir / "text.mp4"); });
  sonic::test::write_file(dir / "empty.mp4", "");
  expect_error(ErrorCode::unreadable_media, "", [&] { VideoReader(dir / "empty.mp4"); });
  expect_error(ErrorCode::unreadable_media, "", [&] { VideoReader(dir / "missing.mp4"); });
  EXPECT_FALSE(moov_before_mdat(dir / "text.mp4"));
  EXPECT_FALSE(moov_before_mdat(dir / "missing.mp4"));
}

TEST(VideoReader, RefusesPlaylistsThatPointAtOtherFiles) {
  TempDir dir;
  // A real, decodable stream that a playlist disguised as .mp4 refers to.
  run_ok("ffmpeg -v error -f lavfi -i testsrc=size=64x64:rate=10:duration=1 -c:v libx264 " +
         shell_quote((dir / "segment.ts").string()));
  VideoReader direct(dir / "segment.ts");  // the segment itself is fine
  sonic::test::write_file(dir / "playlist.mp4",
                          "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsegment.ts\n"
                          "#EXT-X-ENDLIST\n");
  expect_error(ErrorCode::unreadable_media, "", [&] { VideoReader(dir / "playlist.mp4"); });
}

TEST(VideoReader, TruncatedVideoDecodesWhatIsThere) {
  TempDir dir;
  Mp4Options options;
  options.width = 128;
  options.height = 96;
  options.duration_s = 2;
  write_video(dir / "full.mp4", options, sine(48000, 2));
  // Faststart puts the index first, so a cut file still has it and the front still decodes.
  std::string bytes = sonic::test::read_file(dir / "full.mp4");
  sonic::test::write_file(dir / "cut.mp4", bytes.substr(0, bytes.size() * 2 / 3));
  VideoReader reader(dir / "cut.mp4");
  int frames = 0;
  cv::Mat bgr;
  while (reader.read(bgr)) ++frames;
  EXPECT_GT(frames, 0);
  EXPECT_LE(frames, 50);
}

}  // namespace
}  // namespace sonic::media
