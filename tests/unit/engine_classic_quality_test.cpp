// End-to-end tests of the classic engine (issue 3, part 5), with `score`
// (quality::score_video) as the judge: lip sync in three languages, mouth at rest in
// silence, dynamic_scale, motion_scale, smooth_motion, blinks, exact length, full_frame,
// no_face, determinism and cancellation. Clips are short and small (256 px) because these
// tests also run under AddressSanitizer; jobs that are not about detection get the
// portrait's face box as face_box.
#include <gtest/gtest.h>

#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/classic/classic_engine.h"
#include "face/landmarks.h"
#include "media/audio.h"
#include "media/image.h"
#include "media/probe.h"
#include "media/video_reader.h"
#include "quality/score.h"
#include "support/test_media.h"
#include "util/error.h"

using namespace sonic;
namespace fs = std::filesystem;

namespace {

class ClassicEngineQuality : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new test::TempDir(); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // A fixture, or espeak-ng speech made on first use ("cmn.wav", "es.wav").
  static fs::path audio(const std::string& name) {
    const std::map<std::string, std::pair<std::string, std::string>> spoken = {
        {"cmn.wav", {"cmn", "你好，欢迎使用数字人服务。今天我们来介绍一下新的产品，它可以把照片变成会说话的视频。"}},
        {"es.wav", {"es", "Hola, bienvenidos. Hoy vamos a presentar un nuevo producto que convierte una foto en un video que habla."}},
    };
    const auto it = spoken.find(name);
    if (it == spoken.end()) return test::fixture(name);
    if (!fs::exists(*dir_ / name)) test::make_speech(*dir_ / name, it->second.first, it->second.second);
    return *dir_ / name;
  }

  // Runs one job (face_box from the suite unless `detect`), cached by its description.
  static engine::EngineResult generate(const std::string& audio_name, nlohmann::json config,
                                       const fs::path& out, bool detect = false) {
    engine::GenerationParams params;
    if (!detect) config["face_box"] = face_box_;
    if (!config.contains("min_resolution")) config["min_resolution"] = 256;
    params = engine::apply_config(params, config);
    engine::ClassicEngine classic;
    engine::CancelToken cancel;
    return classic.generate({test::fixture("portrait.png"), audio(audio_name), out, params, {}}, nullptr, cancel);
  }

  // Generates (once per distinct job) and scores the video.
  static const quality::ScoreReport& scored(const std::string& audio_name, const nlohmann::json& config) {
    const std::string key = audio_name + config.dump();
    auto it = reports_.find(key);
    if (it != reports_.end()) return it->second;
    const fs::path out = *dir_ / ("job" + std::to_string(reports_.size()) + ".mp4");
    generate(audio_name, config, out);
    quality::ScoreOptions options;
    options.redetect_every = 1'000'000;  // detect once, then track: keeps the test fast
    return reports_.emplace(key, quality::score_video(out, std::nullopt, options)).first->second;
  }

  static void expect_lip_sync(const quality::ScoreReport& r, const std::string& language) {
    ASSERT_TRUE(r.correlation.has_value()) << language;
    ASSERT_TRUE(r.best_lag_ms.has_value()) << language;
    std::cout << "[ " << language << " ] correlation " << *r.correlation << ", best lag " << *r.best_lag_ms
              << " ms, detection rate " << r.detection_rate << "\n";
    EXPECT_GE(r.detection_rate, 0.95) << language;
    EXPECT_GE(*r.correlation, 0.6) << language;
    EXPECT_LE(std::abs(*r.best_lag_ms), 40.0) << language;
  }

  static test::TempDir* dir_;
  static std::array<int, 4> face_box_;
  static std::map<std::string, quality::ScoreReport> reports_;
};

test::TempDir* ClassicEngineQuality::dir_ = nullptr;
// What the detector finds on portrait.png (sha256 88431cd9…, see the fixtures README). Each
// TEST_F runs in its own process under ctest, and detection is slow in Debug/ASan builds, so
// only the tests about detection (FullFrame…, NoFace…) run the detector.
std::array<int, 4> ClassicEngineQuality::face_box_{177, 77, 90, 90};
std::map<std::string, quality::ScoreReport> ClassicEngineQuality::reports_;

double mean_abs_difference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar m = cv::mean(diff);
  return (m[0] + m[1] + m[2]) / 3.0;
}

}  // namespace

TEST_F(ClassicEngineQuality, LipSyncEnglish) { expect_lip_sync(scored("speech_en_5s.wav", {}), "en"); }
TEST_F(ClassicEngineQuality, LipSyncMandarin) { expect_lip_sync(scored("cmn.wav", {}), "cmn"); }
TEST_F(ClassicEngineQuality, LipSyncSpanish) { expect_lip_sync(scored("es.wav", {}), "es"); }

TEST_F(ClassicEngineQuality, AlignMouthOffIsTheNaiveFixedOffset) {
  // Documented behaviour: without align_mouth the analysis windows sit 40 ms late, so the
  // mouth moves one frame (at 25 fps) before its sound.
  const auto& r = scored("speech_en_5s.wav", {{"align_mouth", false}});
  ASSERT_TRUE(r.best_lag_ms.has_value());
  std::cout << "align_mouth off: best lag " << *r.best_lag_ms << " ms, correlation at 0 " << r.correlation.value_or(0) << "\n";
  EXPECT_EQ(*r.best_lag_ms, -40.0);
  const auto& aligned = scored("speech_en_5s.wav", {});
  EXPECT_GT(aligned.correlation.value_or(0), r.correlation.value_or(0));
}

TEST_F(ClassicEngineQuality, MouthAtRestInSilence) {
  // 2.2 s of silence after the 5.3 s of speech: the mouth comes to rest and stays there.
  const auto& r = scored("speech_en_5s.wav", {{"duration", 7.5}});
  ASSERT_TRUE(r.mouth_opening_silence && r.mouth_opening_speech);
  std::cout << "opening: silence " << *r.mouth_opening_silence << ", speech " << *r.mouth_opening_speech << "\n";
  EXPECT_LT(*r.mouth_opening_silence, 0.75 * *r.mouth_opening_speech);
  // The last second is padding: the mouth is still there.
  const auto& frames = r.per_frame;
  ASSERT_EQ(frames.size(), 188u);
  double low = 1e9, high = -1e9;
  for (size_t i = frames.size() - 25; i < frames.size(); ++i) {
    low = std::min(low, frames[i].mouth_opening);
    high = std::max(high, frames[i].mouth_opening);
  }
  EXPECT_LT(high - low, 0.03);
  EXPECT_LT(high, *r.mouth_opening_speech * 0.75);
}

TEST_F(ClassicEngineQuality, DynamicScaleOpensTheMouthMore) {
  const auto& base = scored("speech_en_5s.wav", {});
  const auto& more = scored("speech_en_5s.wav", {{"dynamic_scale", 1.2}});
  ASSERT_TRUE(base.mouth_opening_speech && more.mouth_opening_speech);
  std::cout << "speech opening: 1.0 → " << *base.mouth_opening_speech << ", 1.2 → " << *more.mouth_opening_speech << "\n";
  EXPECT_GT(*more.mouth_opening_speech, *base.mouth_opening_speech * 1.05);
}

TEST_F(ClassicEngineQuality, MotionScaleZeroIsAStillHead) {
  const auto& still = scored("speech_en_5s.wav", {{"motion_scale", 0.0}});
  const auto& moving = scored("speech_en_5s.wav", {});
  std::cout << "head motion (rel): 0 → " << still.head_motion_rel << ", 1 → " << moving.head_motion_rel << "\n";
  EXPECT_LT(still.head_motion_rel, 0.004);
  EXPECT_GT(moving.head_motion_rel, 2.0 * still.head_motion_rel);
  EXPECT_GT(moving.head_motion_rel, 0.006);
}

TEST_F(ClassicEngineQuality, SmoothMotionLowersJerk) {
  const auto& smooth = scored("speech_en_5s.wav", {});
  const auto& raw = scored("speech_en_5s.wav", {{"smooth_motion", false}});
  std::cout << "head jerk (rel): smooth " << smooth.head_jerk_rel << ", raw " << raw.head_jerk_rel << "\n";
  EXPECT_LT(smooth.head_jerk_rel, raw.head_jerk_rel);
}

TEST_F(ClassicEngineQuality, BlinkRateIsNaturalOnTwentySeconds) {
  const auto& r = scored("speech_en_7s.wav", {{"duration", 20.0}, {"seed", 3}});
  std::cout << "blinks: " << r.blink_count << " in " << r.duration_s << " s = " << r.blink_rate_per_min << "/min\n";
  EXPECT_GE(r.blink_rate_per_min, 10.0);
  EXPECT_LE(r.blink_rate_per_min, 25.0);
}

TEST_F(ClassicEngineQuality, ExactLengthWhenDurationIsShorterOrLonger) {
  for (double duration : {2.0, 6.3}) {  // the audio is 5.3 s
    const fs::path out = *dir_ / ("length" + std::to_string(duration) + ".mp4");
    const auto result = generate("speech_en_5s.wav", {{"duration", duration}, {"fps", 24}}, out);
    const int expected = static_cast<int>(std::lround(duration * 24));
    EXPECT_EQ(result.frames, expected);
    media::VideoReader reader(out);
    int frames = 0;
    cv::Mat frame;
    while (reader.read(frame)) ++frames;
    EXPECT_EQ(frames, expected) << "duration " << duration;
    ASSERT_TRUE(reader.info().has_audio);
    EXPECT_NEAR(reader.info().audio_duration_s, duration, 0.05) << "duration " << duration;
    EXPECT_NEAR(reader.info().duration_s, duration, 1.0 / 24 + 1e-6) << "duration " << duration;
  }
}

// The output track keeps the recording's own rate where AAC stores it well (a 16 kHz voice
// note is not encoded as three times the samples), and is made 16 or 48 kHz otherwise.
TEST_F(ClassicEngineQuality, TheTrackKeepsTheRecordingsRate) {
  for (const auto& [rate, expected] : std::vector<std::pair<int, int>>{{16000, 16000}, {44100, 44100}, {8000, 16000}, {96000, 48000}, {37000, 48000}}) {
    const fs::path sound = *dir_ / ("rate" + std::to_string(rate) + ".wav");
    test::run_ok("sox " + test::shell_quote(test::fixture("speech_en_5s.wav").string()) + " -r " + std::to_string(rate) + " " +
                 test::shell_quote(sound.string()) + " trim 0 1");
    engine::GenerationParams params = engine::apply_config({}, {{"face_box", face_box_}, {"min_resolution", 256}, {"duration", 1.0}});
    const fs::path out = *dir_ / ("rate" + std::to_string(rate) + ".mp4");
    engine::ClassicEngine classic;
    engine::CancelToken cancel;
    classic.generate({test::fixture("portrait.png"), sound, out, params, {}}, nullptr, cancel);
    const media::AudioInfo track = media::probe_audio(out);
    EXPECT_EQ(track.sample_rate, expected) << rate;
    // The speech is all there: the same loudness as the recording, at the track's rate.
    const auto rms = [](const media::PcmAudio& a) {
      double sum = 0;
      for (float x : a.samples) sum += static_cast<double>(x) * x;
      return std::sqrt(sum / std::max<size_t>(1, a.samples.size()));
    };
    const double in = rms(media::decode_audio(sound, 16000)), got = rms(media::decode_audio(out, 16000));
    EXPECT_NEAR(got / in, 1.0, 0.1) << rate;
  }
}

TEST_F(ClassicEngineQuality, FullFrameKeepsThePictureAndItsSize) {
  const fs::path out = *dir_ / "full.mp4";
  const auto result = generate("speech_en_5s.wav", {{"full_frame", true}, {"duration", 1.0}}, out, /*detect=*/true);
  const cv::Mat picture = media::decode_image(test::fixture("portrait.png"));
  EXPECT_EQ(result.width, picture.cols);
  EXPECT_EQ(result.height, picture.rows);
  media::VideoReader reader(out);
  EXPECT_EQ(reader.info().width, picture.cols);
  EXPECT_EQ(reader.info().height, picture.rows);
  cv::Mat frame;
  ASSERT_TRUE(reader.read(frame));
  // Far from the face the picture is the original one (up to compression).
  const cv::Rect corner(0, picture.rows - 120, 120, 120);
  EXPECT_LT(mean_abs_difference(frame(corner), picture(corner)), 4.0);
}

TEST_F(ClassicEngineQuality, NoFaceIsAClearError) {
  const fs::path image = *dir_ / "flat.png";
  cv::imwrite(image.string(), cv::Mat(240, 320, CV_8UC3, cv::Scalar(120, 160, 200)));
  const fs::path out = *dir_ / "noface.mp4";
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  try {
    classic.generate({image, test::fixture("speech_en_5s.wav"), out, {}, {}}, nullptr, cancel);
    FAIL() << "expected no_face";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::no_face);
    EXPECT_EQ(e.field(), "image");
    EXPECT_NE(e.message().find("face_box"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ClassicEngineQuality, SameSeedGivesIdenticalFrames) {
  const fs::path a = *dir_ / "seed_a.mp4", b = *dir_ / "seed_b.mp4", c = *dir_ / "seed_c.mp4";
  generate("speech_en_5s.wav", {{"seed", 7}, {"duration", 2.0}}, a);
  generate("speech_en_5s.wav", {{"seed", 7}, {"duration", 2.0}}, b);
  generate("speech_en_5s.wav", {{"seed", 8}, {"duration", 2.0}}, c);
  media::VideoReader ra(a), rb(b), rc(c);
  cv::Mat fa, fb, fc;
  int frames = 0;
  double seed_difference = 0;
  while (ra.read(fa)) {
    ASSERT_TRUE(rb.read(fb));
    ASSERT_TRUE(rc.read(fc));
    EXPECT_EQ(cv::norm(fa, fb, cv::NORM_INF), 0.0) << "frame " << frames;
    seed_difference = std::max(seed_difference, cv::norm(fa, fc, cv::NORM_INF));
    ++frames;
  }
  EXPECT_FALSE(rb.read(fb));
  EXPECT_EQ(frames, 50);
  EXPECT_GT(seed_difference, 10.0) << "another seed should move the head differently";
}

TEST_F(ClassicEngineQuality, CanceledJobLeavesNoFile) {
  test::TempDir out_dir;
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  engine::GenerationParams params;
  params.min_resolution = 256;
  params.face_box = face_box_;
  int render_calls = 0;
  const auto progress = [&](const std::string& stage, double) {
    if (stage == "render" && ++render_calls == 5) cancel.cancel();
  };
  try {
    classic.generate({test::fixture("portrait.png"), test::fixture("speech_en_5s.wav"), out_dir / "out.mp4", params, {}},
                     progress, cancel);
    FAIL() << "expected canceled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::canceled);
  }
  EXPECT_EQ(out_dir.file_count(), 0u);
}

TEST_F(ClassicEngineQuality, ResultDescribesTheJob) {
  const fs::path out = *dir_ / "result.mp4";
  std::vector<std::string> stages;
  double last = -1;
  bool monotonic = true;
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  engine::GenerationParams params;
  params.min_resolution = 256;
  params.face_box = face_box_;
  params.fps = 20;
  const auto result = classic.generate(
      {test::fixture("portrait.png"), test::fixture("speech_en_5s.wav"), out, params, {}},
      [&](const std::string& stage, double fraction) {
        if (stages.empty() || stages.back() != stage) stages.push_back(stage);
        monotonic = monotonic && fraction >= last && fraction <= 1.0;
        last = fraction;
      },
      cancel);
  EXPECT_EQ(stages, (std::vector<std::string>{"load", "detect", "analyse", "render"}));
  EXPECT_TRUE(monotonic);
  EXPECT_DOUBLE_EQ(last, 1.0);
  EXPECT_EQ(result.engine, "classic");
  EXPECT_FALSE(result.engine_version.empty());
  ASSERT_TRUE(result.params.duration_s.has_value());
  EXPECT_NEAR(*result.params.duration_s, 5.3, 0.1);
  EXPECT_EQ(result.frames, static_cast<int>(std::lround(*result.params.duration_s * 20)));
  EXPECT_EQ(result.width, 256);
  EXPECT_EQ(result.height, 256);
  ASSERT_FALSE(result.ignored.empty());
  EXPECT_EQ(result.ignored[0].name, "inference_steps");
  for (const char* stage : {"load", "detect", "analyse", "render", "encode"}) EXPECT_TRUE(result.stage_seconds.count(stage)) << stage;
  EXPECT_TRUE(fs::exists(out));
}
