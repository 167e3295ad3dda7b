// quality/score: the statistics on hand-made series (sign conventions, blinks, motion,
// undefined values), then score_video on videos made at test time with the ffmpeg CLI:
// the still portrait with speech (nothing moves), a synthetic "talking" portrait whose
// mouth is stretched open in step with tone bursts delayed by a known lag, and a video
// whose face comes and goes. Finally the `sonic-server score` command itself.
#include "quality/score.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "audio/loudness.h"
#include "face/landmarks.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::quality {
namespace {

namespace fs = std::filesystem;
using test::run;
using test::run_ok;
using test::shell_quote;

constexpr double kFps = 25.0;
constexpr int kRate = 16000;

FrameMeasure face_frame(double mouth, double ear = 0.3, cv::Point2f head = {100, 100}) {
  FrameMeasure m;
  m.face = true;
  m.mouth_opening = mouth;
  m.eye_aspect_ratio = ear;
  m.head = head;
  m.face_width = 100;
  return m;
}

// An envelope of bursts: segments of 3–8 frames at levels from silence to -6 dBFS.
std::vector<double> burst_levels(int frames, unsigned seed) {
  std::mt19937 random(seed);
  const double levels[] = {-100, -100, -36, -27, -18, -12, -6};
  std::uniform_int_distribution<int> length(3, 8), level(0, 6);
  std::vector<double> out;
  while (static_cast<int>(out.size()) < frames) {
    const double l = levels[level(random)];
    for (int n = length(random); n > 0 && static_cast<int>(out.size()) < frames; --n)
      out.push_back(l);
  }
  return out;
}

// How open the synthetic mouth is for a loudness: 0 at -60 dBFS and below, 1 at 0 dBFS.
double openness(double dbfs) {
  return (std::clamp(dbfs, -60.0, 0.0) + 60.0) / 60.0;
}

// ---- audio::loudness_dbfs_per_frame, which every figure below depends on --------------

TEST(Loudness, LevelsSizesAndFloor) {
  // 1 s of a full-scale sine then 0.5 s of silence, at 16 kHz and 25 fps: 640 samples a frame.
  std::vector<float> samples;
  for (int i = 0; i < kRate; ++i)
    samples.push_back(static_cast<float>(std::sin(2 * CV_PI * 440.0 * i / kRate)));
  samples.resize(static_cast<std::size_t>(kRate * 3 / 2), 0.0f);
  const std::vector<double> l = audio::loudness_dbfs_per_frame(samples, kRate, kFps);
  ASSERT_EQ(l.size(), 38u);
  EXPECT_NEAR(l[0], -3.01, 0.05);  // RMS of a full-scale sine is 1/√2
  EXPECT_NEAR(l[24], -3.01, 0.05);
  EXPECT_DOUBLE_EQ(l[25], -100.0);  // digital silence is floored
  // Sizes: ceil(n / (rate / fps)), including a short last frame and a non-integer frame length.
  EXPECT_EQ(audio::loudness_dbfs_per_frame(std::vector<float>(641, 0.5f), kRate, kFps).size(), 2u);
  EXPECT_NEAR(audio::loudness_dbfs_per_frame(std::vector<float>(641, 0.5f), kRate, kFps)[1], -6.02,
              0.01);
  EXPECT_EQ(audio::loudness_dbfs_per_frame(std::vector<float>(44100, 0.1f), 44100, 30.0).size(),
            30u);
  EXPECT_TRUE(audio::loudness_dbfs_per_frame({}, kRate, kFps).empty());
  EXPECT_THROW(audio::loudness_dbfs_per_frame(samples, 0, kFps), Error);
  EXPECT_THROW(audio::loudness_dbfs_per_frame(samples, kRate, 0), Error);
}

// ---- statistics on series -------------------------------------------------------------

TEST(ScoreFrames, FindsTheLagAndItsSign) {
  const std::vector<double> loudness = burst_levels(150, 7);
  for (int lag : {-3, 0, 2, 4}) {
    SCOPED_TRACE(lag);
    std::vector<FrameMeasure> frames;
    for (int i = 0; i < 150; ++i) {
      const int source = std::clamp(i - lag, 0, 149);  // mouth i follows sound i - lag
      frames.push_back(
          face_frame(0.05 + 0.3 * openness(loudness[static_cast<std::size_t>(source)])));
    }
    const ScoreReport r = score_frames(frames, kFps, loudness);
    ASSERT_TRUE(r.best_lag_ms.has_value());
    EXPECT_DOUBLE_EQ(*r.best_lag_ms, lag * 1000.0 / kFps);
    EXPECT_GT(*r.best_lag_correlation, 0.95);
    ASSERT_TRUE(r.correlation.has_value());
    if (lag == 0) {
      EXPECT_GT(*r.correlation, 0.99);
    } else {
      EXPECT_LT(*r.correlation, *r.best_lag_correlation);
    }
  }
}

TEST(ScoreFrames, SilenceSpeechAndUndefinedCorrelation) {
  // A mouth that never moves: correlation undefined (null), not NaN; silence vs speech
  // still reported.
  std::vector<double> loudness(50, -100.0);
  for (int i = 10; i < 30; ++i) loudness[static_cast<std::size_t>(i)] = -12;
  const std::vector<FrameMeasure> frames(50, face_frame(0.1));
  const ScoreReport r = score_frames(frames, kFps, loudness);
  EXPECT_FALSE(r.correlation.has_value());
  EXPECT_FALSE(r.best_lag_ms.has_value());
  EXPECT_EQ(r.speech_frames, 20);
  EXPECT_EQ(r.silence_frames, 30);
  EXPECT_NEAR(*r.mouth_opening_silence, 0.1, 1e-12);
  EXPECT_NEAR(*r.mouth_opening_speech, 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(r.silence_threshold_dbfs, -45.0);  // max(-45, -12 - 35)
  const nlohmann::json j = r.to_json();
  EXPECT_TRUE(j.at("correlation").is_null());
  EXPECT_TRUE(j.at("best_lag_ms").is_null());
  EXPECT_EQ(j.dump().find("nan"), std::string::npos);

  // Without audio: no lip-sync figures at all, everything else still there.
  const ScoreReport silent = score_frames(frames, kFps, {});
  EXPECT_FALSE(silent.has_audio);
  EXPECT_FALSE(silent.mouth_opening_silence.has_value());
  EXPECT_TRUE(silent.to_json().at("silence_threshold_dbfs").is_null());
  EXPECT_EQ(silent.to_json().at("detection_rate"), 1.0);
}

TEST(ScoreFrames, CountsBlinksAsEvents) {
  // 30 s; closed eyes (EAR 0.1 vs 0.3 open) for 3 frames at 6 places, 1 frame at 2 more;
  // one faceless frame in the middle of a blink must not split it into two.
  std::vector<FrameMeasure> frames(750, face_frame(0.1));
  for (int start : {40, 150, 260, 370, 480, 590}) {
    for (int i = start; i < start + 3; ++i)
      frames[static_cast<std::size_t>(i)].eye_aspect_ratio = 0.1;
  }
  frames[700].eye_aspect_ratio = 0.1;
  frames[720].eye_aspect_ratio = 0.2;   // 0.2 < 0.75 × 0.3
  frames[600].eye_aspect_ratio = 0.25;  // not a blink: 0.25 > 0.225
  frames[151] = FrameMeasure{};         // no face in the middle of the second blink
  const ScoreReport r = score_frames(frames, kFps, {});
  EXPECT_NEAR(r.eye_aspect_ratio_median, 0.3, 1e-12);
  EXPECT_EQ(r.blink_count, 8);
  EXPECT_NEAR(r.blink_rate_per_min, 8 * 2.0, 1e-9);  // 30 s
  EXPECT_EQ(r.face_frames, 749);
}

TEST(ScoreFrames, HeadMotionAndJerk) {
  // Still: zero. Sway of ±5 px (a sine): RMS 5/√2 ≈ 3.54 px. A jittery head (±1 px every
  // other frame) has far more jerk than a smooth sway of larger amplitude.
  std::vector<FrameMeasure> still(100, face_frame(0.1)), sway, jitter;
  for (int i = 0; i < 100; ++i) {
    sway.push_back(face_frame(
        0.1, 0.3,
        {100 + 5 * std::sin(2 * static_cast<float>(CV_PI) * static_cast<float>(i) / 50.0f), 100}));
    jitter.push_back(face_frame(0.1, 0.3, {100 + (i % 2 ? 1.0f : -1.0f), 100}));
  }
  EXPECT_DOUBLE_EQ(score_frames(still, kFps, {}).head_motion_px, 0.0);
  const ScoreReport s = score_frames(sway, kFps, {});
  EXPECT_NEAR(s.head_motion_px, 5 / std::sqrt(2.0), 0.05);
  EXPECT_NEAR(s.head_motion_rel, s.head_motion_px / 100, 1e-9);
  const ScoreReport j = score_frames(jitter, kFps, {});
  EXPECT_NEAR(j.head_jerk_px, 4.0, 1e-6);  // |1 - 2(-1) + 1|
  EXPECT_LT(s.head_jerk_px, 0.1);
}

TEST(ScoreFrames, FacelessFramesAreLeftOut) {
  const std::vector<double> loudness = burst_levels(100, 3);
  std::vector<FrameMeasure> frames;
  for (int i = 0; i < 100; ++i) {
    if (i % 4 == 0) {
      frames.emplace_back();  // no face: its (meaningless) zeros must not count
    } else {
      frames.push_back(face_frame(0.05 + 0.3 * openness(loudness[static_cast<std::size_t>(i)])));
    }
  }
  const ScoreReport r = score_frames(frames, kFps, loudness);
  EXPECT_DOUBLE_EQ(r.detection_rate, 0.75);
  EXPECT_GT(*r.correlation, 0.99);
  EXPECT_EQ(*r.best_lag_ms, 0.0);
}

// ---- videos ---------------------------------------------------------------------------

void write_wav(const fs::path& path, const std::vector<float>& samples, int rate) {
  std::ofstream out(path, std::ios::binary);
  const auto u32 = [&out](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  const auto u16 = [&out](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<std::uint32_t>(samples.size() * 2);
  out.write("RIFF", 4), u32(36 + bytes), out.write("WAVEfmt ", 8);
  u32(16), u16(1), u16(1), u32(static_cast<std::uint32_t>(rate)),
      u32(static_cast<std::uint32_t>(rate * 2)), u16(2), u16(16);
  out.write("data", 4), u32(bytes);
  for (float s : samples) {
    u16(static_cast<std::uint16_t>(
        static_cast<std::int16_t>(std::lround(std::clamp(s, -1.0f, 1.0f) * 32767))));
  }
}

// Streams BGR frames into ffmpeg, muxed with `wav` (if any) into an H.264 + AAC MP4.
class FfmpegVideo {
 public:
  FfmpegVideo(const fs::path& out, cv::Size size, const fs::path& wav = {}) {
    std::string command = "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s " +
                          std::to_string(size.width) + "x" + std::to_string(size.height) +
                          " -r 25 -i -";
    if (!wav.empty()) command += " -i " + shell_quote(wav.string());
    command += " -c:v libx264 -preset veryfast -crf 14 -pix_fmt yuv420p";
    if (!wav.empty()) command += " -c:a aac -b:a 128k";
    command += " " + shell_quote(out.string());
    pipe_ = popen(command.c_str(), "w");
    EXPECT_NE(pipe_, nullptr);
  }
  void add(const cv::Mat& bgr) {
    ASSERT_TRUE(bgr.isContinuous());
    ASSERT_EQ(std::fwrite(bgr.data, 1, bgr.total() * 3, pipe_), bgr.total() * 3);
  }
  int finish() {
    const int status = pclose(pipe_);
    pipe_ = nullptr;
    return status;
  }
  ~FfmpegVideo() {
    if (pipe_) pclose(pipe_);
  }

 private:
  FILE* pipe_ = nullptr;
};

cv::Mat portrait() {
  cv::Mat image = cv::imread(test::fixture("portrait.png").string(), cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty());
  return image;
}

// The portrait with its mouth stretched vertically by `factor` about the mouth centre,
// fading smoothly to nothing over an ellipse around the mouth (no seams, no folds: the
// displacement's slope stays under 1 for factors below 2).
cv::Mat stretch_mouth(const cv::Mat& image, cv::Point2f centre, float mouth_width, double factor) {
  cv::Mat map_x(image.size(), CV_32F), map_y(image.size(), CV_32F);
  const float rx = mouth_width, ry = 1.1f * mouth_width;
  const auto k = static_cast<float>(1.0 - 1.0 / factor);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const float dx = (static_cast<float>(x) - centre.x) / rx;
      const float dy = (static_cast<float>(y) - centre.y) / ry;
      const float r = std::sqrt(dx * dx + dy * dy);
      const float w = r < 1 ? 0.5f * (1 + std::cos(static_cast<float>(CV_PI) * r)) : 0.f;
      map_x.at<float>(y, x) = static_cast<float>(x);
      map_y.at<float>(y, x) = static_cast<float>(y) - k * w * (static_cast<float>(y) - centre.y);
    }
  }
  cv::Mat out;
  cv::remap(image, out, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

void expect_clean_json(const nlohmann::json& j) {
  for (const auto& [key, value] : j.items()) {
    EXPECT_TRUE(value.is_null() || value.is_number() || value.is_boolean()) << key;
    if (value.is_number_float()) {
      EXPECT_TRUE(std::isfinite(value.get<double>())) << key;
    }
  }
  EXPECT_EQ(j.dump().find("nan"), std::string::npos);
}

TEST(ScoreVideo, StillPortraitWithSpeech) {
  test::TempDir dir;
  const fs::path video = dir / "still.mp4";
  run_ok("ffmpeg -v error -y -loop 1 -framerate 25 -i " +
         shell_quote(test::fixture("portrait.png").string()) + " -i " +
         shell_quote(test::fixture("speech_en_5s.wav").string()) +
         " -t 3 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac " +
         shell_quote(video.string()));
  const ScoreReport r = score_video(video);
  EXPECT_EQ(r.frames, 75);
  EXPECT_DOUBLE_EQ(r.fps, 25.0);
  EXPECT_NEAR(r.duration_s, 3.0, 1e-9);
  EXPECT_EQ(r.width, 512);
  EXPECT_EQ(r.height, 512);
  EXPECT_GE(r.detection_rate, 0.99);
  EXPECT_NEAR(r.face_width_px, 110, 30);
  EXPECT_TRUE(r.has_audio);
  EXPECT_GT(r.audio_duration_s, 2.9);
  EXPECT_EQ(r.blink_count, 0);
  EXPECT_LT(r.head_motion_px, 0.5);
  EXPECT_LT(r.head_jerk_px, 0.5);
  // Speech against a mouth that does not move: no real correlation, whatever the noise.
  EXPECT_LT(r.mouth_opening_std, 0.01);
  if (r.correlation) {
    EXPECT_LT(std::abs(*r.correlation), 0.5);
  }
  EXPECT_GT(r.speech_frames, 0);
  EXPECT_NEAR(*r.mouth_opening_speech, 0.14, 0.05);  // the portrait's toothy smile
  expect_clean_json(r.to_json());
}

// The whole chain on a video whose answer is known: tone bursts at levels from silence to
// -6 dBFS, and a mouth opened in proportion to the loudness three frames (120 ms) later.
TEST(ScoreVideo, FindsAKnownLagInASyntheticTalkingVideo) {
  constexpr int kFrames = 125;  // 5 s
  constexpr int kLag = 3;       // mouth after sound
  const std::vector<double> levels = burst_levels(kFrames, 11);

  std::vector<float> samples;
  const int per_frame = kRate / static_cast<int>(kFps);
  for (int i = 0; i < kFrames; ++i) {
    const double amplitude =
        levels[static_cast<std::size_t>(i)] <= -100
            ? 0.0
            : std::sqrt(2.0) * std::pow(10.0, levels[static_cast<std::size_t>(i)] / 20.0);
    for (int s = 0; s < per_frame; ++s) {
      const double t = static_cast<double>(i * per_frame + s) / kRate;
      samples.push_back(static_cast<float>(amplitude * std::sin(2 * CV_PI * 220.0 * t)));
    }
  }
  test::TempDir dir;
  write_wav(dir / "tones.wav", samples, kRate);

  const cv::Mat image = portrait();
  const auto face = face::FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(face.has_value());
  cv::Point2f centre(0, 0);
  for (int i = 48; i < 68; ++i) centre += face->points[static_cast<std::size_t>(i)];
  centre *= 1.0f / 20;
  const auto width = static_cast<float>(cv::norm(face->points[54] - face->points[48]));

  const fs::path video = dir / "talking.mp4";
  {
    FfmpegVideo writer(video, image.size(), dir / "tones.wav");
    for (int i = 0; i < kFrames; ++i) {
      const double drive = i >= kLag ? openness(levels[static_cast<std::size_t>(i - kLag)]) : 0.0;
      writer.add(stretch_mouth(image, centre, width, 1.0 + 0.8 * drive));
    }
    ASSERT_EQ(writer.finish(), 0);
  }

  for (bool own_track : {true, false}) {
    SCOPED_TRACE(own_track ? "the video's own AAC track" : "--audio tones.wav");
    const ScoreReport r = own_track ? score_video(video) : score_video(video, dir / "tones.wav");
    EXPECT_EQ(r.frames, kFrames);
    EXPECT_GE(r.detection_rate, 0.99);
    ASSERT_TRUE(r.best_lag_ms.has_value());
    EXPECT_NEAR(*r.best_lag_ms, kLag * 1000.0 / kFps, 1000.0 / kFps);  // within one frame
    EXPECT_GT(*r.best_lag_correlation, 0.8);
    EXPECT_GT(r.mouth_opening_std, 0.02);
    ASSERT_TRUE(r.correlation.has_value());
    EXPECT_LT(*r.correlation, *r.best_lag_correlation);
    ASSERT_TRUE(r.mouth_opening_silence && r.mouth_opening_speech);
    EXPECT_GT(*r.mouth_opening_speech, *r.mouth_opening_silence + 0.03);
    EXPECT_EQ(r.blink_count, 0);
    EXPECT_LT(r.head_motion_px, 1.0);
    expect_clean_json(r.to_json());
  }
}

// An empty room, then the face for 30 frames, then a cut back to the room: the face is
// found on its first frame and lost on the first frame after the cut.
TEST(ScoreVideo, FaceComingAndGoingAndNoAudio) {
  const cv::Mat image = portrait();
  const cv::Mat wall(image.size(), CV_8UC3, cv::Scalar(90, 120, 150));
  test::TempDir dir;
  const fs::path video = dir / "leaves.mp4";
  {
    FfmpegVideo writer(video, image.size());
    for (int i = 0; i < 50; ++i) writer.add(i >= 10 && i < 40 ? image : wall);
    ASSERT_EQ(writer.finish(), 0);
  }
  const ScoreReport r = score_video(video);
  EXPECT_EQ(r.frames, 50);
  EXPECT_EQ(r.face_frames, 30);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(r.per_frame[static_cast<std::size_t>(i)].face, i >= 10 && i < 40) << "frame " << i;
  }
  EXPECT_FALSE(r.has_audio);
  EXPECT_FALSE(r.correlation.has_value());
  expect_clean_json(r.to_json());
}

TEST(ScoreVideo, NotAVideo) {
  test::TempDir dir;
  test::write_file(dir / "junk.mp4", "this is not a video");
  EXPECT_THROW(score_video(dir / "junk.mp4"), Error);
}

// ---- the command ----------------------------------------------------------------------

TEST(ScoreCommand, SummaryJsonAndErrors) {
  test::TempDir dir;
  const fs::path video = dir / "still.mp4";
  run_ok("ffmpeg -v error -y -loop 1 -framerate 25 -i " +
         shell_quote(test::fixture("portrait.png").string()) + " -i " +
         shell_quote(test::fixture("speech_en_5s.wav").string()) +
         " -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac " +
         shell_quote(video.string()));
  const std::string binary = shell_quote(test::sonic_binary().string());

  const std::string summary = run_ok(binary + " score " + shell_quote(video.string()));
  EXPECT_NE(summary.find("50 frames"), std::string::npos) << summary;
  EXPECT_NE(summary.find("blinks"), std::string::npos) << summary;

  const test::CommandResult json =
      run(binary + " score " + shell_quote(video.string()) + " --json 2>/dev/null");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const nlohmann::json j = nlohmann::json::parse(json.output);
  EXPECT_EQ(j.at("frames"), 50);
  EXPECT_EQ(j.at("blink_count"), 0);
  expect_clean_json(j);

  const test::CommandResult missing =
      run(binary + " score " + shell_quote((dir / "nope.mp4").string()));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("missing_file"), std::string::npos) << missing.output;

  const test::CommandResult no_model = run("SONIC_DLIB_MODEL=/nonexistent/model.dat " + binary +
                                           " score " + shell_quote(video.string()));
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_NE(no_model.output.find("engine_failed"), std::string::npos) << no_model.output;
  EXPECT_NE(no_model.output.find("libdlib-data"), std::string::npos) << no_model.output;
}

}  // namespace
}  // namespace sonic::quality
