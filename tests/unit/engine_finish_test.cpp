// The finishing step every external engine's video goes through: the rgb24 frame file,
// frame-rate resampling to exact frame counts, the feathered paste-back (its seam measured)
// and the audio shift of align_mouth.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "engine/finish/compositor.h"
#include "engine/finish/engine_frames.h"
#include "engine/finish/mouth_alignment.h"
#include "engine/finish/video_finisher.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::engine::finish {
namespace {

using test::TempDir;

cv::Mat numbered_frame(cv::Size size, int n) {
  cv::Mat m(size, CV_8UC3, cv::Scalar(n % 256, (n * 7) % 256, 200));
  return m;
}

TEST(FrameFile, RoundTripsFramesAndRate) {
  TempDir dir;
  {
    FrameFileWriter w(dir / "f.rgb", {32, 24}, 25);
    for (int i = 0; i < 5; ++i) w.write_bgr(numbered_frame({32, 24}, i));
  }
  EngineFrames frames(dir / "f.rgb", true, std::nullopt);
  EXPECT_EQ(frames.size(), cv::Size(32, 24));
  EXPECT_EQ(frames.count(), 5);
  EXPECT_DOUBLE_EQ(frames.fps(), 25.0);
  cv::Mat f;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(frames.read(f));
    EXPECT_EQ(f.at<cv::Vec3b>(3, 3), cv::Vec3b(i, (i * 7) % 256, 200)) << i;  // BGR back, colours intact
  }
  EXPECT_FALSE(frames.read(f));
  frames.rewind();
  ASSERT_TRUE(frames.read(f));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 0)[0], 0);
}

TEST(FrameFile, RefusesBrokenFilesWithEngineFailed) {
  TempDir dir;
  test::write_file(dir / "short.rgb", "SNCFRM");
  test::write_file(dir / "magic.rgb", std::string(32, 'x'));
  {
    FrameFileWriter w(dir / "cut.rgb", {8, 8}, 25);
    w.write_bgr(numbered_frame({8, 8}, 1));
  }
  std::string cut = test::read_file(dir / "cut.rgb");
  test::write_file(dir / "cut.rgb", cut.substr(0, cut.size() - 5));
  for (const char* name : {"short.rgb", "magic.rgb", "cut.rgb", "missing.rgb"}) {
    try {
      EngineFrames frames(dir / name, true, std::nullopt);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::engine_failed) << name;
      EXPECT_NE(e.message().find("unusable frames"), std::string::npos) << e.message();
    }
  }
}

// The protocol's other form: a video in any container FFmpeg reads (here our own MP4).
TEST(EngineFrames, ReadsAVideoFile) {
  TempDir dir;
  media::Mp4Options options = video_options({64, 48}, 20, 0.5, 16000);
  media::PcmAudio silence;
  silence.sample_rate = 16000;
  silence.samples.assign(8000, 0.0f);
  {
    media::Mp4Writer writer(dir / "engine.mp4", options, silence);
    for (int i = 0; i < writer.frame_count(); ++i) writer.write_frame(numbered_frame({64, 48}, i * 20));
    writer.finish();
  }
  EngineFrames frames(dir / "engine.mp4", false, std::nullopt);
  EXPECT_EQ(frames.size(), cv::Size(64, 48));
  EXPECT_NEAR(frames.fps(), 20.0, 0.01);
  ResampledFrames at25(frames, 25, 13);  // 0.5 s at 25 fps, from 10 frames at 20
  cv::Mat f;
  int n = 0, last_blue = -1;
  while (at25.next(f)) {
    const int blue = f.at<cv::Vec3b>(24, 32)[0];
    EXPECT_GE(blue, last_blue - 6) << n;  // frames come in order (lossy: a few levels off)
    last_blue = blue;
    ++n;
  }
  EXPECT_EQ(n, 13);
  EXPECT_NEAR(last_blue, 180, 8);
  EngineFrames told(dir / "engine.mp4", false, 12.5);  // the done message's fps wins
  EXPECT_DOUBLE_EQ(told.fps(), 12.5);
}

// Output frame k shows the source frame nearest to k/fps; exactly `frames` frames come out,
// the last source frame held when the engine's frames end early.
std::vector<int> resampled_indices(int source_frames, double source_fps, double fps, int frames) {
  TempDir dir;
  {
    FrameFileWriter w(dir / "f.rgb", {8, 8}, static_cast<int>(source_fps * 2), 2);
    for (int i = 0; i < source_frames; ++i) w.write_bgr(numbered_frame({8, 8}, i));
  }
  EngineFrames source(dir / "f.rgb", true, std::nullopt);
  ResampledFrames r(source, fps, frames);
  std::vector<int> out;
  cv::Mat f;
  while (r.next(f)) out.push_back(f.at<cv::Vec3b>(0, 0)[0]);
  return out;
}

TEST(ResampledFrames, ExactCountAtAnyRate) {
  auto same = resampled_indices(10, 25, 25, 10);
  EXPECT_EQ(same, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  auto up = resampled_indices(10, 25, 50, 20);  // each frame twice
  EXPECT_EQ(up, (std::vector<int>{0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 9}));
  auto half = resampled_indices(10, 25, 12.5, 5);
  EXPECT_EQ(half, (std::vector<int>{0, 2, 4, 6, 8}));
  auto sonic = resampled_indices(9, 12.5, 25, 18);  // 12.5 fps without interpolation
  ASSERT_EQ(sonic.size(), 18u);
  EXPECT_EQ(sonic.front(), 0);
  EXPECT_EQ(sonic.back(), 8);
  auto short_source = resampled_indices(4, 25, 25, 7);  // held
  EXPECT_EQ(short_source, (std::vector<int>{0, 1, 2, 3, 3, 3, 3}));
  auto thirty = resampled_indices(25, 25, 30, 30);
  ASSERT_EQ(thirty.size(), 30u);
  for (std::size_t i = 1; i < thirty.size(); ++i) EXPECT_LE(thirty[i] - thirty[i - 1], 1);
}

// A picture with texture, and an engine frame that is its crop with a brightness offset (a
// diffusion model's slight colour cast): the paste-back must not show a step at the crop edge.
double seam_step(double feather, int offset) {
  cv::Mat picture(240, 320, CV_8UC3);
  cv::randu(picture, cv::Scalar::all(90), cv::Scalar::all(110));
  cv::GaussianBlur(picture, picture, {0, 0}, 2.0);
  const cv::Rect crop(100, 60, 120, 120);
  cv::Mat engine_frame;
  cv::resize(picture(crop) + cv::Scalar::all(offset), engine_frame, {256, 256}, 0, 0, cv::INTER_CUBIC);
  Placement p{cv::Rect(0, 0, 320, 240), {320, 240}, crop};
  FrameCompositor compositor(picture, p, feather);
  cv::Mat out;
  compositor.compose(engine_frame, out);
  EXPECT_EQ(out.size(), cv::Size(320, 240));
  // Outside the crop the picture is untouched.
  EXPECT_EQ(cv::norm(out(cv::Rect(0, 0, 90, 240)), picture(cv::Rect(0, 0, 90, 240)), cv::NORM_INF), 0);
  // Largest jump between neighbouring columns across the left edge, row-averaged, minus the
  // picture's own texture there.
  cv::Mat grey, grey_picture;
  cv::cvtColor(out, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(picture, grey_picture, cv::COLOR_BGR2GRAY);
  double worst = 0;
  for (int x = crop.x - 4; x < crop.x + 20; ++x) {
    cv::Mat a, b, pa, pb;
    grey(cv::Rect(x, crop.y + 20, 1, 80)).convertTo(a, CV_64F);
    grey(cv::Rect(x + 1, crop.y + 20, 1, 80)).convertTo(b, CV_64F);
    grey_picture(cv::Rect(x, crop.y + 20, 1, 80)).convertTo(pa, CV_64F);
    grey_picture(cv::Rect(x + 1, crop.y + 20, 1, 80)).convertTo(pb, CV_64F);
    worst = std::max(worst, std::abs(cv::mean(b - a)[0] - cv::mean(pb - pa)[0]));
  }
  return worst;
}

TEST(FrameCompositor, FeatheredSeamIsInvisible) {
  const double hard = seam_step(0.0, 12);   // the narrowest fade (2 px): most of the cast at once
  const double soft = seam_step(0.08, 12);  // the default: spread over ~10 px
  EXPECT_GT(hard, 5.0);
  EXPECT_LE(soft, 2.5);  // a 12-level cast steps by at most ~2 grey levels between neighbours
  EXPECT_LT(soft, hard / 3);
}

TEST(FrameCompositor, CropModeIsAResize) {
  cv::Mat picture(100, 100, CV_8UC3, cv::Scalar(1, 2, 3));
  Placement p{cv::Rect(10, 10, 50, 50), {256, 256}, cv::Rect(10, 10, 50, 50)};
  FrameCompositor c(picture, p);
  EXPECT_FALSE(c.pastes());
  cv::Mat frame(64, 64, CV_8UC3, cv::Scalar(9, 9, 9)), out;
  c.compose(frame, out);
  EXPECT_EQ(out.size(), cv::Size(256, 256));
  EXPECT_EQ(out.at<cv::Vec3b>(100, 100), cv::Vec3b(9, 9, 9));
}

TEST(PlanPlacement, CropFullFrameAndNoCropBox) {
  GenerationParams params;
  params.min_resolution = 384;
  media::MediaLimits limits;
  std::vector<IgnoredParam> ignored;
  auto crop = plan_placement({512, 512}, cv::Rect(130, 18, 190, 190), {384, 384}, params, limits, ignored);
  EXPECT_EQ(crop.output_size, cv::Size(384, 384));
  EXPECT_TRUE(ignored.empty());
  params.full_frame = true;
  auto full = plan_placement({641, 481}, cv::Rect(130, 18, 190, 190), {384, 384}, params, limits, ignored);
  EXPECT_EQ(full.output_size, cv::Size(640, 480));
  EXPECT_EQ(full.output_rect, cv::Rect(0, 0, 641, 481));
  limits.max_full_frame_side = 320;
  auto capped = plan_placement({640, 480}, cv::Rect(130, 18, 190, 190), {384, 384}, params, limits, ignored);
  EXPECT_EQ(capped.output_size, cv::Size(320, 240));
  ignored.clear();
  auto whole = plan_placement({640, 480}, std::nullopt, {300, 200}, params, limits, ignored);
  EXPECT_EQ(whole.output_size, cv::Size(300, 200));
  ASSERT_EQ(ignored.size(), 1u);
  EXPECT_EQ(ignored[0].name, "full_frame");
}

TEST(ShiftAudio, DelaysOrAdvancesKeepingTheLength) {
  media::PcmAudio a;
  a.sample_rate = 1000;
  for (int i = 0; i < 100; ++i) a.samples.push_back(static_cast<float>(i + 1));
  auto later = shift_audio(a, 40);  // 40 ms = 40 samples of silence in front
  ASSERT_EQ(later.samples.size(), 100u);
  EXPECT_EQ(later.samples[39], 0.0f);
  EXPECT_EQ(later.samples[40], 1.0f);
  auto earlier = shift_audio(a, -40);
  ASSERT_EQ(earlier.samples.size(), 100u);
  EXPECT_EQ(earlier.samples[0], 41.0f);
  EXPECT_EQ(earlier.samples[99], 0.0f);
  EXPECT_EQ(shift_audio(a, 0).samples, a.samples);
}

}  // namespace
}  // namespace sonic::engine::finish
