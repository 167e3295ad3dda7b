// face/landmarks: the dlib detector and 68-point predictor on the real portrait fixture
// (512×512, one frontal face of ~90 px around (225, 125)), transformed copies of it, and
// pictures with no face.
#include "face/landmarks.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/test_media.h"
#include "util/error.h"

namespace sonic::face {
namespace {

cv::Mat portrait() {
  cv::Mat image = cv::imread(test::fixture("portrait.png").string(), cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty());
  return image;
}

cv::Rect2f bounds(const Landmarks& points) {
  std::vector<cv::Point2f> v(points.begin(), points.end());
  return cv::boundingRect(v);
}

// The portrait's face as a person marks it: eyes around y≈118, chin around y≈180,
// cheeks at x≈180..270.
void expect_portrait_face(const DetectedFace& face, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_GE(face.box.width, 60);
  EXPECT_LE(face.box.width, 130);
  const cv::Point centre = (face.box.tl() + face.box.br()) / 2;
  EXPECT_NEAR(centre.x, 225, 25);
  EXPECT_NEAR(centre.y, 135, 30);
  // dlib's box is tight (the chin and jaw may poke out a little), so allow a 20 % margin.
  const cv::Rect margin(face.box.x - face.box.width / 5, face.box.y - face.box.height / 5,
                        face.box.width * 7 / 5, face.box.height * 7 / 5);
  for (std::size_t i = 0; i < face.points.size(); ++i) {
    EXPECT_TRUE(margin.contains(cv::Point(face.points[i])))
        << "landmark " << i << " at " << face.points[i];
  }
  // Anatomy: eyes above the nose tip above the mouth above the chin; left eye on the left.
  EXPECT_LT(face.points[36].x, face.points[45].x);
  EXPECT_LT(face.points[39].y, face.points[30].y);
  EXPECT_LT(face.points[30].y, face.points[62].y);
  EXPECT_LT(face.points[66].y, face.points[8].y);
}

TEST(FaceLandmarks, FindsTheOnePortraitFace) {
  const cv::Mat image = portrait();
  const auto face = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(face.has_value());
  expect_portrait_face(*face, "portrait");
  // The landmark cloud fills the box, it is not a tiny or huge shape.
  const cv::Rect2f b = bounds(face->points);
  EXPECT_GT(b.width, 0.7 * face->box.width);
  EXPECT_LT(b.width, 1.4 * face->box.width);
}

TEST(FaceLandmarks, SmilingMouthAndOpenEyesOnThePortrait) {
  const auto face = FaceLandmarker::shared().detect(portrait());
  ASSERT_TRUE(face.has_value());
  // The portrait smiles with her lips parted over the upper teeth (about 6 px of a 45 px
  // mouth); a mouth open in speech measures 0.3 and more. Eyes open: a typical open eye
  // has an aspect ratio of 0.25–0.35.
  EXPECT_GT(mouth_opening(face->points), 0.06);
  EXPECT_LT(mouth_opening(face->points), 0.22);
  EXPECT_GT(eye_aspect_ratio(face->points), 0.22);
  EXPECT_LT(eye_aspect_ratio(face->points), 0.42);
}

// Stretching the mouth region vertically (lips apart, width unchanged) raises
// mouth_opening steadily and leaves the eyes alone.
TEST(FaceLandmarks, StretchedMouthMeasuresMoreOpen) {
  const cv::Mat image = portrait();
  const auto face = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(face.has_value());
  cv::Point2f centre(0, 0);
  for (std::size_t i = 48; i < 68; ++i) centre += face->points[i];
  centre *= 1.0f / 20;
  const auto radius = static_cast<float>(cv::norm(face->points[54] - face->points[48]));
  double previous = mouth_opening(face->points);
  for (double factor : {1.3, 1.6, 2.0}) {
    SCOPED_TRACE(factor);
    cv::Mat map_x(image.size(), CV_32F), map_y(image.size(), CV_32F);
    const auto k = static_cast<float>(1.0 - 1.0 / factor);
    for (int y = 0; y < image.rows; ++y) {
      for (int x = 0; x < image.cols; ++x) {
        const float r = std::hypot((static_cast<float>(x) - centre.x) / radius,
                                   (static_cast<float>(y) - centre.y) / (1.1f * radius));
        const float w = r < 1 ? 0.5f * (1 + std::cos(static_cast<float>(CV_PI) * r)) : 0.f;
        map_x.at<float>(y, x) = static_cast<float>(x);
        map_y.at<float>(y, x) = static_cast<float>(y) - k * w * (static_cast<float>(y) - centre.y);
      }
    }
    cv::Mat stretched;
    cv::remap(image, stretched, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    const auto opened = FaceLandmarker::shared().detect(stretched);
    ASSERT_TRUE(opened.has_value());
    const double opening = mouth_opening(opened->points);
    EXPECT_GT(opening, previous + 0.01);
    EXPECT_NEAR(eye_aspect_ratio(opened->points), eye_aspect_ratio(face->points), 0.04);
    previous = opening;
  }
}

TEST(FaceLandmarks, NoFaceInAFlatColourOrNoise) {
  const cv::Mat flat(480, 640, CV_8UC3, cv::Scalar(40, 160, 90));
  EXPECT_FALSE(FaceLandmarker::shared().detect(flat).has_value());
  cv::Mat noise(300, 300, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  EXPECT_FALSE(FaceLandmarker::shared().detect(noise).has_value());
  EXPECT_FALSE(FaceLandmarker::shared().detect(cv::Mat()).has_value());
}

TEST(FaceLandmarks, MirroredPortrait) {
  const cv::Mat image = portrait();
  cv::Mat mirrored;
  cv::flip(image, mirrored, 1);
  const auto face = FaceLandmarker::shared().detect(mirrored);
  ASSERT_TRUE(face.has_value());
  const auto original = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(original.has_value());
  // The mirrored face's centre is the original's reflected about x = 255.5.
  const float mirror_x = static_cast<float>(image.cols - 1) - original->points[30].x;
  EXPECT_NEAR(face->points[30].x, mirror_x, 4.0);
  EXPECT_NEAR(face->points[30].y, original->points[30].y, 4.0);
  // Landmark 36 is still the outer corner of the eye on the image's left.
  EXPECT_LT(face->points[36].x, face->points[45].x);
}

TEST(FaceLandmarks, SlightlyRotatedAndShiftedPortrait) {
  const cv::Mat image = portrait();
  const cv::Point2f centre(225, 135);
  cv::Mat transform = cv::getRotationMatrix2D(centre, 10.0, 1.0);
  transform.at<double>(0, 2) += 40;  // and 40 px to the right, 20 px down
  transform.at<double>(1, 2) += 20;
  cv::Mat moved;
  cv::warpAffine(image, moved, transform, image.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  const auto face = FaceLandmarker::shared().detect(moved);
  ASSERT_TRUE(face.has_value());
  const auto original = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(original.has_value());
  // The nose tip goes where the transform sends it.
  const cv::Point2f p = original->points[30];
  const cv::Point2f expected(
      static_cast<float>(transform.at<double>(0, 0) * p.x + transform.at<double>(0, 1) * p.y +
                         transform.at<double>(0, 2)),
      static_cast<float>(transform.at<double>(1, 0) * p.x + transform.at<double>(1, 1) * p.y +
                         transform.at<double>(1, 2)));
  EXPECT_NEAR(face->points[30].x, expected.x, 5.0);
  EXPECT_NEAR(face->points[30].y, expected.y, 5.0);
  // Rotated counter-clockwise by 10°: the eye line now rises to the right.
  const cv::Point2f eyes = face->points[45] - face->points[36];
  EXPECT_NEAR(std::atan2(-eyes.y, eyes.x) * 180.0 / CV_PI, 10.0, 5.0);
}

TEST(FaceLandmarks, LargeAndSmallCopiesScaleTheBox) {
  const cv::Mat image = portrait();
  const auto original = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(original.has_value());
  for (double scale : {0.6, 3.0}) {
    SCOPED_TRACE(scale);
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(), scale, scale, cv::INTER_AREA);
    const auto face = FaceLandmarker::shared().detect(resized);
    ASSERT_TRUE(face.has_value());
    EXPECT_NEAR(face->points[30].x, original->points[30].x * scale, 5.0 * scale);
    EXPECT_NEAR(face->points[30].y, original->points[30].y * scale, 5.0 * scale);
    EXPECT_NEAR(cv::norm(face->points[16] - face->points[0]),
                cv::norm(original->points[16] - original->points[0]) * scale, 0.15 * 90 * scale);
  }
}

TEST(FaceLandmarks, LargestOfTwoFacesWins) {
  const cv::Mat image = portrait();
  // The portrait at full size on the right, a half-size copy on the left.
  cv::Mat canvas(512, 1024, CV_8UC3, cv::Scalar(128, 128, 128));
  image.copyTo(canvas(cv::Rect(512, 0, 512, 512)));
  cv::Mat small;
  cv::resize(image, small, cv::Size(), 0.6, 0.6, cv::INTER_AREA);
  small.copyTo(canvas(cv::Rect(0, 100, small.cols, small.rows)));
  const auto face = FaceLandmarker::shared().detect(canvas);
  ASSERT_TRUE(face.has_value());
  EXPECT_GT(face->box.x, 512);
}

TEST(FaceLandmarks, LandmarksInAGivenBoxMatchDetection) {
  const cv::Mat image = portrait();
  const auto face = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(face.has_value());
  const Landmarks same = FaceLandmarker::shared().landmarks_in(image, face->box);
  for (std::size_t i = 0; i < same.size(); ++i) {
    EXPECT_NEAR(same[i].x, face->points[i].x, 0.01);
    EXPECT_NEAR(same[i].y, face->points[i].y, 0.01);
  }
  // A box a few pixels off still lands the points on the same features.
  const Landmarks shifted =
      FaceLandmarker::shared().landmarks_in(image, face->box + cv::Point(4, -3));
  for (std::size_t i = 0; i < shifted.size(); ++i) {
    EXPECT_LT(cv::norm(shifted[i] - face->points[i]), 4.0) << "landmark " << i;
  }
  // Grey input works too and gives (nearly) the same points.
  cv::Mat grey;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  const Landmarks from_grey = FaceLandmarker::shared().landmarks_in(grey, face->box);
  EXPECT_LT(cv::norm(from_grey[30] - face->points[30]), 2.0);
  EXPECT_THROW(FaceLandmarker::shared().landmarks_in(image, cv::Rect(10, 10, 0, 5)), Error);
}

TEST(FaceLandmarks, DetectNearFindsTheTrackedFaceOnly) {
  const cv::Mat image = portrait();
  const auto face = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(face.has_value());
  // Around a box a little off and a little small, as tracking would have it.
  const auto near = FaceLandmarker::shared().detect_near(
      image, cv::Rect(face->box.x + 8, face->box.y - 6, face->box.width * 9 / 10,
                      face->box.height * 9 / 10));
  ASSERT_TRUE(near.has_value());
  expect_portrait_face(*near, "near");
  EXPECT_LT(cv::norm(near->points[30] - face->points[30]), 4.0);
  // Around the space shuttle on the right there is no face.
  EXPECT_FALSE(FaceLandmarker::shared().detect_near(image, cv::Rect(380, 100, 90, 90)).has_value());
  EXPECT_FALSE(FaceLandmarker::shared().detect_near(image, cv::Rect(600, 600, 90, 90)).has_value());
}

TEST(FaceLandmarks, MouthOpeningAndEyeAspectRatioGeometry) {
  Landmarks p{};
  // Mouth 40 px wide (48 → 54), inner lips 10 px apart at 61/67, 62/66, 63/65.
  p[48] = {0, 0};
  p[54] = {40, 0};
  p[61] = {15, -5}, p[67] = {15, 5};
  p[62] = {20, -5}, p[66] = {20, 5};
  p[63] = {25, -5}, p[65] = {25, 5};
  EXPECT_DOUBLE_EQ(mouth_opening(p), 0.25);
  // Eyes 30 px wide, lids 9 px apart → EAR 0.3 for both.
  for (int first : {36, 42}) {
    p[first] = {0, 0};
    p[first + 3] = {30, 0};
    p[first + 1] = {10, -4.5f}, p[first + 5] = {10, 4.5f};
    p[first + 2] = {20, -4.5f}, p[first + 4] = {20, 4.5f};
  }
  EXPECT_NEAR(eye_aspect_ratio(p), 0.3, 1e-6);
  EXPECT_EQ(mouth_opening(Landmarks{}), 0.0);  // degenerate: no width, no division by zero
}

}  // namespace
}  // namespace sonic::face
