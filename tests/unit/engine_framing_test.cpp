// Unit tests of framing (engine/framing.h): crop box, output size, the framed picture.
#include <gtest/gtest.h>

#include "engine/framing.h"
#include "engine_classic_synthetic_face.h"

using namespace sonic;
using namespace sonic::engine;

TEST(Framing, CropIsTheExpandedSquareScaledToMinResolution) {
  const Framing f = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), 0.15, 512, false);
  EXPECT_EQ(f.crop, cv::Rect(185, 135, 130, 130));
  EXPECT_EQ(f.output_size, cv::Size(512, 512));
  EXPECT_NEAR(f.scale, 512.0 / 130, 1e-9);
  EXPECT_EQ(f.warp_region, cv::Rect(0, 0, 512, 512));
}

TEST(Framing, OutputSideIsEven) {
  for (int resolution : {256, 383, 385, 511, 1024}) {
    const Framing f = plan_framing({800, 600}, cv::Rect(300, 200, 120, 90), 0.2, resolution, false);
    EXPECT_EQ(f.output_size.width % 2, 0);
    EXPECT_EQ(f.output_size.height % 2, 0);
    EXPECT_LE(std::abs(f.output_size.width - resolution), 1);
  }
}

TEST(Framing, ExpandRatioGrowsTheCrop) {
  const cv::Rect box(200, 200, 100, 100);
  EXPECT_EQ(plan_framing({1000, 1000}, box, 0.0, 512, false).crop.width, 100);
  EXPECT_EQ(plan_framing({1000, 1000}, box, 0.5, 512, false).crop.width, 200);
  EXPECT_EQ(plan_framing({1000, 1000}, box, 1.0, 512, false).crop.width, 300);
}

TEST(Framing, CropSlidesInsideThePictureAndPadsOnlyWhenTooBig) {
  const Framing edge = plan_framing({400, 400}, cv::Rect(0, 0, 100, 100), 0.3, 256, false);
  EXPECT_EQ(edge.crop, cv::Rect(0, 0, 160, 160));
  const Framing big = plan_framing({120, 300}, cv::Rect(10, 100, 100, 100), 0.3, 256, false);
  EXPECT_EQ(big.crop.width, 160);
  const cv::Mat picture(300, 120, CV_8UC3, cv::Scalar(10, 20, 30));
  const cv::Mat framed = framed_picture(picture, big);
  EXPECT_EQ(framed.size(), cv::Size(256, 256));
  EXPECT_EQ(framed.at<cv::Vec3b>(5, 5), cv::Vec3b(10, 20, 30));  // replicated border
}

TEST(Framing, FullFrameKeepsThePictureSizeRoundedToEven) {
  const Framing f = plan_framing({513, 301}, cv::Rect(200, 100, 80, 80), 0.15, 512, true);
  EXPECT_EQ(f.output_size, cv::Size(512, 300));
  EXPECT_EQ(f.warp_region, f.crop & cv::Rect(0, 0, 512, 300));
  const cv::Mat picture(301, 513, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(framed_picture(picture, f).size(), cv::Size(512, 300));
}

TEST(Framing, LandmarksMapIntoTheOutput) {
  const auto points = test::synthetic_landmarks(cv::Rect2f(200, 150, 100, 100));
  const Framing f = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), 0.15, 512, false);
  const auto mapped = to_output(points, f);
  EXPECT_NEAR(mapped[0].x, (200 - 185) * f.scale, 1e-3);
  EXPECT_NEAR(mapped[8].y, (150 + 96 - 135) * f.scale, 1e-3);
  const Framing full = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), 0.15, 512, true);
  EXPECT_EQ(to_output(points, full)[30], points[30]);
}
