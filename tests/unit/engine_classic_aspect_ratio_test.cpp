// Every aspect_ratio through the classic engine (issue 14, part 2): the video has the shape
// and size asked for, the face sits where a camera operator would put it (eyes a third down
// in the portrait shapes, centred across), and no bars: the frame's edges are picture, not
// padding. The portrait is pasted into a larger picture of noise, so there is room for
// every shape and any padded (replicated) row or column would show as a run of equal lines.
// Only the head of the portrait is pasted, so every frame's edges fall on the noise.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "engine/classic/classic_engine.h"
#include "face/landmarks.h"
#include "media/image.h"
#include "media/video_reader.h"
#include "support/test_media.h"

using namespace sonic;
namespace fs = std::filesystem;

namespace {

// The portrait's head (its pixels 150..310 × 40..220) at (214, 184) in a 640×800 picture of
// smooth coloured noise.
cv::Mat portrait_in_noise() {
  cv::Mat noise(100, 80, CV_8UC3);
  std::mt19937 rng(3);
  for (int y = 0; y < noise.rows; ++y)
    for (int x = 0; x < noise.cols; ++x)
      noise.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(rng() % 256), static_cast<uchar>(rng() % 256), static_cast<uchar>(rng() % 256));
  cv::Mat picture;
  cv::resize(noise, picture, cv::Size(640, 800), 0, 0, cv::INTER_CUBIC);
  media::decode_image(test::fixture("portrait.png"))(cv::Rect(150, 40, 160, 180)).copyTo(picture(cv::Rect(214, 184, 160, 180)));
  return picture;
}

// The smallest mean difference between neighbouring lines along each edge of the frame
// (first/last 3 rows and columns): padding by replication makes it ~0.
double least_edge_change(const cv::Mat& frame) {
  cv::Mat grey;
  cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
  grey.convertTo(grey, CV_32F);
  double least = 1e9;
  const auto change = [&](const cv::Mat& a, const cv::Mat& b) { return cv::mean(cv::abs(a - b))[0]; };
  for (int k = 0; k < 3; ++k) {
    least = std::min(least, change(grey.row(k), grey.row(k + 1)));
    least = std::min(least, change(grey.row(grey.rows - 1 - k), grey.row(grey.rows - 2 - k)));
    least = std::min(least, change(grey.col(k), grey.col(k + 1)));
    least = std::min(least, change(grey.col(grey.cols - 1 - k), grey.col(grey.cols - 2 - k)));
  }
  return least;
}

}  // namespace

TEST(ClassicAspectRatio, EveryShapeHasItsSizeTheFaceInPlaceAndNoBars) {
  test::TempDir dir;
  const cv::Mat picture = portrait_in_noise();
  cv::imwrite((dir / "picture.png").string(), picture);
  struct Case {
    std::string aspect;
    cv::Size size;
    bool eyes_at_third;
  } cases[] = {{"1:1", {256, 256}, false},
               {"9:16", {256, 456}, true},
               {"4:5", {256, 320}, true},
               {"16:9", {456, 256}, false},
               {"original", {256, 320}, true}};  // the picture is 640×800 = 4:5
  for (const auto& c : cases) {
    SCOPED_TRACE(c.aspect);
    engine::ClassicEngine classic;
    engine::CancelToken cancel;
    const fs::path out = dir / ("clip" + c.aspect.substr(0, 2) + ".mp4");
    const auto params = engine::apply_config({}, {{"aspect_ratio", c.aspect}, {"min_resolution", 256}, {"expand_ratio", 0.6},
                                                  {"duration", 0.5}, {"motion_scale", 0}, {"dynamic_scale", 0}});
    const auto result = classic.generate({dir / "picture.png", test::fixture("speech_en_5s.wav"), out, params, {}}, nullptr, cancel);
    EXPECT_EQ(result.width, c.size.width);
    EXPECT_EQ(result.height, c.size.height);
    EXPECT_EQ(result.params.aspect_ratio, c.aspect);
    for (const auto& note : result.ignored) EXPECT_NE(note.name, "aspect_ratio") << note.reason;

    media::VideoReader reader(out);
    EXPECT_EQ(reader.info().width, c.size.width);
    EXPECT_EQ(reader.info().height, c.size.height);
    cv::Mat frame;
    ASSERT_TRUE(reader.read(frame));
    EXPECT_GT(least_edge_change(frame), 1.5) << "an edge of the frame repeats one line: a padded bar";
    const auto face = face::FaceLandmarker::shared().detect(frame);
    ASSERT_TRUE(face.has_value());
    float eye_y = 0;
    for (int i = 36; i <= 47; ++i) eye_y += face->points[static_cast<size_t>(i)].y / 12.0f;
    const float centre_x = (face->points[0].x + face->points[16].x) / 2;
    EXPECT_NEAR(centre_x / frame.cols, 0.5, 0.05) << "the face is centred across";
    const cv::Rect2f bounds = cv::boundingRect(std::vector<cv::Point2f>(face->points.begin(), face->points.end()));
    EXPECT_TRUE(cv::Rect2f(0, 0, static_cast<float>(frame.cols), static_cast<float>(frame.rows)).contains(bounds.tl()) &&
                cv::Rect2f(0, 0, static_cast<float>(frame.cols), static_cast<float>(frame.rows)).contains(bounds.br()))
        << "the whole face is in the frame: " << bounds;
    if (c.eyes_at_third) {
      EXPECT_NEAR(eye_y / frame.rows, 1.0 / 3.0, 0.04) << "eyes a third of the way down";
    }
  }
}

TEST(ClassicAspectRatio, APictureTooSmallForTheShapeShrinksTheFrameAndSaysSo) {
  // The bare portrait (512×512) cannot hold a 16:9 frame with this much room around the face.
  test::TempDir dir;
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  const auto params = engine::apply_config(
      {}, {{"aspect_ratio", "16:9"}, {"min_resolution", 256}, {"expand_ratio", 1.0}, {"duration", 0.5}});
  const auto result = classic.generate({test::fixture("portrait.png"), test::fixture("speech_en_5s.wav"), dir / "out.mp4", params, {}},
                                       nullptr, cancel);
  EXPECT_EQ(result.width, 456);
  EXPECT_EQ(result.height, 256);
  bool said = false;
  for (const auto& note : result.ignored) said = said || (note.name == "aspect_ratio" && note.reason.find("shrank") != std::string::npos);
  EXPECT_TRUE(said) << result.to_json()["ignored_params"].dump();
  media::VideoReader reader(dir / "out.mp4");
  cv::Mat frame;
  ASSERT_TRUE(reader.read(frame));
  EXPECT_GT(least_edge_change(frame), 0.3) << "an edge of the frame repeats one line: a padded bar";
}
