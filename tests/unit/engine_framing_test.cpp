// Unit tests of framing (engine/framing.h): the output frame every engine shares — its
// shape (aspect_ratio), where the face sits in it, its size, the notes when the picture is
// too small, the full_frame cap, and the framed still picture.
#include <gtest/gtest.h>

#include "engine/framing.h"
#include "engine_classic_synthetic_face.h"
#include "util/error.h"

using namespace sonic;
using namespace sonic::engine;

namespace {

FramingOptions options(const std::string& aspect, double expand = 0.15, int resolution = 512, bool full = false) {
  FramingOptions o;
  o.aspect_ratio = aspect;
  o.expand_ratio = expand;
  o.min_resolution = resolution;
  o.full_frame = full;
  return o;
}

bool inside(const cv::Rect& r, cv::Size picture) { return (r & cv::Rect(cv::Point(0, 0), picture)) == r; }

}  // namespace

TEST(Framing, UnknownAspectRatioIsAnInvalidParam) {
  try {
    plan_framing({800, 600}, cv::Rect(300, 200, 100, 100), options("3:2"));
    FAIL() << "3:2 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_param);
    EXPECT_EQ(e.field(), "aspect_ratio");
    EXPECT_NE(e.message().find("9:16"), std::string::npos) << e.message();
  }
}

TEST(Framing, SquareIsTheExpandedFaceScaledToMinResolution) {
  const Framing f = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), options("1:1"));
  EXPECT_EQ(f.crop, cv::Rect(185, 135, 130, 130));
  EXPECT_EQ(f.face_region, f.crop);
  EXPECT_EQ(f.output_size, cv::Size(512, 512));
  EXPECT_NEAR(f.scale_x, 512.0 / 130, 1e-9);
  EXPECT_NEAR(f.scale_y, 512.0 / 130, 1e-9);
  EXPECT_TRUE(f.notes.empty());
}

TEST(Framing, OutputSidesAreEven) {
  for (const std::string aspect : {"1:1", "9:16", "4:5", "16:9", "original"})
    for (int resolution : {256, 383, 385, 511, 1024}) {
      const Framing f = plan_framing({1600, 1200}, cv::Rect(700, 400, 120, 90), options(aspect, 0.2, resolution));
      EXPECT_EQ(f.output_size.width % 2, 0) << aspect << " " << resolution;
      EXPECT_EQ(f.output_size.height % 2, 0) << aspect << " " << resolution;
      EXPECT_LE(std::abs(std::min(f.output_size.width, f.output_size.height) - resolution), 1) << aspect;
    }
}

TEST(Framing, ExpandRatioGrowsTheCrop) {
  const cv::Rect box(400, 400, 100, 100);
  EXPECT_EQ(plan_framing({1000, 1000}, box, options("1:1", 0.0)).crop.width, 100);
  EXPECT_EQ(plan_framing({1000, 1000}, box, options("1:1", 0.5)).crop.width, 200);
  EXPECT_EQ(plan_framing({1000, 1000}, box, options("1:1", 1.0)).crop.width, 300);
  EXPECT_EQ(plan_framing({1000, 1000}, box, options("9:16", 0.5)).crop.width, 200);
  EXPECT_EQ(plan_framing({1000, 1000}, box, options("16:9", 0.5)).crop.height, 200);
}

// Every shape: the output has the shape, the crop has it too and lies in the picture (no
// bars), the face region is inside the crop, and the face is centred across.
TEST(Framing, EveryAspectRatioHasItsShapeAndHoldsTheFace) {
  const cv::Size picture(1920, 1440);
  const cv::Rect face(900, 500, 160, 180);
  struct Case {
    std::string aspect;
    double ratio;
  } cases[] = {{"1:1", 1.0}, {"9:16", 9.0 / 16}, {"4:5", 0.8}, {"16:9", 16.0 / 9}, {"original", 1920.0 / 1440}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.aspect);
    const Framing f = plan_framing(picture, face, options(c.aspect, 0.3, 720));
    EXPECT_TRUE(f.notes.empty());
    EXPECT_NEAR(static_cast<double>(f.output_size.width) / f.output_size.height, c.ratio, 0.01);
    EXPECT_NEAR(static_cast<double>(f.crop.width) / f.crop.height, c.ratio, 0.01);
    EXPECT_EQ(std::min(f.output_size.width, f.output_size.height), 720);
    EXPECT_TRUE(inside(f.crop, picture)) << f.crop;
    EXPECT_EQ(f.face_region & f.crop, f.face_region) << "the face and its margin are in the frame";
    EXPECT_NEAR(f.crop.x + f.crop.width / 2.0, face.x + face.width / 2.0, 1.0);
    EXPECT_NEAR(f.scale_x, f.scale_y, 0.01 * f.scale_x);
    // The framed picture has the output size and no padding.
    const cv::Mat still = framed_picture(cv::Mat(picture, CV_8UC3, cv::Scalar(10, 20, 30)), f);
    EXPECT_EQ(still.size(), f.output_size);
  }
}

TEST(Framing, PortraitFormatsPutTheEyesAThirdFromTheTop) {
  const cv::Rect face(900, 500, 160, 180);
  for (const std::string aspect : {"9:16", "4:5"}) {
    SCOPED_TRACE(aspect);
    FramingOptions o = options(aspect, 0.6, 720);
    o.eye_y = 560;
    const Framing f = plan_framing({1920, 1440}, face, o);
    const double eyes = f.to_output(cv::Point2f(980, 560)).y;
    EXPECT_NEAR(eyes / f.output_size.height, 1.0 / 3.0, 0.02);
    // Below the chin there is room for the shoulders.
    EXPECT_GT(f.crop.br().y, face.br().y + face.height / 2);
  }
  // Without an eye line the eyes are assumed 40 % down the face box.
  const Framing f = plan_framing({1920, 1440}, face, options("9:16", 0.6, 720));
  EXPECT_NEAR((face.y + 0.4 * face.height - f.crop.y) / f.crop.height, 1.0 / 3.0, 0.02);
}

TEST(Framing, ThePlacementNeverCutsTheFaceRegionForTheThirds) {
  // 16:9 is only as high as the face region: the eyes cannot sit at a third, the face
  // region decides.
  FramingOptions o = options("16:9", 0.15, 512);
  o.eye_y = 540;
  const Framing f = plan_framing({1920, 1440}, cv::Rect(900, 500, 160, 180), o);
  EXPECT_EQ(f.crop.y, f.face_region.y);
  EXPECT_EQ(f.crop.height, f.face_region.height);
}

TEST(Framing, TooSmallAPictureShrinksTheFrameAndSaysSo) {
  // A landscape picture cannot hold a 9:16 frame around this face with this margin.
  const cv::Size picture(640, 360);
  const Framing f = plan_framing(picture, cv::Rect(280, 100, 120, 130), options("9:16", 0.5, 512));
  EXPECT_TRUE(inside(f.crop, picture)) << f.crop;
  EXPECT_EQ(f.crop.height, 360);
  EXPECT_NEAR(static_cast<double>(f.crop.width) / f.crop.height, 9.0 / 16, 0.01);
  EXPECT_EQ(f.output_size, cv::Size(512, 910));
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0].name, "aspect_ratio");
  EXPECT_NE(f.notes[0].reason.find("shrank"), std::string::npos) << f.notes[0].reason;
  // The square default near the edge of a narrow picture: no replicated border, a note.
  const Framing square = plan_framing({120, 300}, cv::Rect(10, 100, 100, 100), options("1:1", 0.3, 256));
  EXPECT_EQ(square.crop, cv::Rect(0, 100, 120, 120)) << "the face box kept whole, its eyes a third down";
  ASSERT_EQ(square.notes.size(), 1u);
  EXPECT_EQ(square.notes[0].name, "expand_ratio");
  const cv::Mat picture_pixels(300, 120, CV_8UC3, cv::Scalar(10, 20, 30));
  EXPECT_EQ(framed_picture(picture_pixels, square).size(), cv::Size(256, 256));
}

TEST(Framing, TheCropSlidesInsideThePictureWhenItFits) {
  const Framing edge = plan_framing({400, 400}, cv::Rect(0, 0, 100, 100), options("1:1", 0.3, 256));
  EXPECT_EQ(edge.crop, cv::Rect(0, 0, 160, 160));
  EXPECT_TRUE(edge.notes.empty());
  const Framing tall = plan_framing({400, 1000}, cv::Rect(150, 10, 100, 100), options("9:16", 0.3, 256));
  EXPECT_EQ(tall.crop.y, 0);
  EXPECT_TRUE(tall.notes.empty());
}

TEST(Framing, OriginalKeepsThePicturesShape) {
  const Framing f = plan_framing({1200, 800}, cv::Rect(500, 300, 150, 150), options("original", 0.2, 512));
  EXPECT_EQ(f.output_size, cv::Size(768, 512));
  const Framing tall = plan_framing({800, 1200}, cv::Rect(300, 300, 150, 150), options("original", 0.2, 512));
  EXPECT_EQ(tall.output_size, cv::Size(512, 768));
}

TEST(Framing, ExtremeShapesAreCappedAtTheLongestSide) {
  FramingOptions o = options("original", 0.2, 1024);
  o.max_full_frame_side = 2048;
  const Framing f = plan_framing({6000, 1000}, cv::Rect(2900, 300, 200, 200), o);
  EXPECT_EQ(f.output_size.width, 2048);
  EXPECT_LT(f.output_size.height, 1024);
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0].name, "min_resolution");
}

TEST(Framing, FullFrameKeepsThePictureSizeRoundedToEven) {
  const Framing f = plan_framing({513, 301}, cv::Rect(200, 100, 80, 80), options("1:1", 0.15, 512, true));
  EXPECT_EQ(f.output_size, cv::Size(512, 300));
  EXPECT_EQ(f.crop, cv::Rect(0, 0, 512, 300));
  EXPECT_DOUBLE_EQ(f.scale_x, 1.0);
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0].name, "min_resolution");
  const cv::Mat picture(301, 513, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(framed_picture(picture, f).size(), cv::Size(512, 300));
  const Framing vertical = plan_framing({513, 301}, cv::Rect(200, 100, 80, 80), options("9:16", 0.15, 512, true));
  ASSERT_EQ(vertical.notes.size(), 2u);
  EXPECT_EQ(vertical.notes[1].name, "aspect_ratio");
}

TEST(Framing, FullFrameIsScaledDownToTheCap) {
  FramingOptions o = options("1:1", 0.15, 512, true);
  o.max_full_frame_side = 2048;
  const Framing f = plan_framing({4000, 3000}, cv::Rect(1800, 1000, 400, 400), o);
  EXPECT_EQ(f.output_size, cv::Size(2048, 1536));
  EXPECT_EQ(f.crop, cv::Rect(0, 0, 4000, 3000));
  EXPECT_NEAR(f.scale_x, 2048.0 / 4000, 1e-9);
  ASSERT_GE(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0].name, "full_frame");
  EXPECT_NE(f.notes[0].reason.find("2048"), std::string::npos) << f.notes[0].reason;
  const cv::Mat picture(3000, 4000, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(framed_picture(picture, f).size(), cv::Size(2048, 1536));
  // The options of a job carry the server's cap.
  GenerationParams params;
  params.full_frame = true;
  media::MediaLimits limits;
  limits.max_full_frame_side = 1000;
  EXPECT_EQ(plan_framing({4000, 3000}, cv::Rect(1800, 1000, 400, 400), FramingOptions::of(params, limits)).output_size,
            cv::Size(1000, 750));
}

TEST(Framing, LandmarksMapPixelCentresOntoPixelCentres) {
  const auto points = test::synthetic_landmarks(cv::Rect2f(200, 150, 100, 100));
  const Framing f = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), options("1:1"));
  const auto mapped = to_output(points, f);
  // cv::resize's convention: output pixel u shows picture pixel (u + 0.5) / scale - 0.5.
  EXPECT_NEAR(mapped[0].x, (points[0].x - 185 + 0.5) * f.scale_x - 0.5, 1e-3);
  EXPECT_NEAR(mapped[8].y, (points[8].y - 135 + 0.5) * f.scale_y - 0.5, 1e-3);
  const Framing full = plan_framing({512, 512}, cv::Rect(200, 150, 100, 100), options("1:1", 0.15, 512, true));
  EXPECT_EQ(to_output(points, full)[30], points[30]);
  // A marked picture pixel lands where the framed still shows it.
  cv::Mat picture(512, 512, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::circle(picture, cv::Point(250, 200), 3, cv::Scalar(255, 255, 255), -1);
  cv::Mat still = framed_picture(picture, f), grey;
  cv::cvtColor(still, grey, cv::COLOR_BGR2GRAY);
  const cv::Moments m = cv::moments(grey);
  const cv::Point2f at = f.to_output(cv::Point2f(250, 200));
  EXPECT_NEAR(m.m10 / m.m00, at.x, 0.5);
  EXPECT_NEAR(m.m01 / m.m00, at.y, 0.5);
}
