// Unit tests of the classic engine's mesh and warp: rest controls leave the picture as it
// is, no triangle ever folds at the extremes of the parameter ranges, the mouth really
// opens, eyes really close, and nothing outside the warp region changes.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "engine/classic/face_warper.h"
#include "engine/classic/warp_span.h"
#include "engine_classic_synthetic_face.h"

using namespace sonic;
using namespace sonic::engine::classic;

namespace {

struct Scene {
  face::Landmarks points = test::synthetic_landmarks(cv::Rect2f(100, 110, 180, 190));
  cv::Mat picture = test::synthetic_picture({384, 384}, points);
};

double opening(const std::vector<cv::Point2f>& p) {
  face::Landmarks l;
  for (size_t i = 0; i < 68; ++i) l[i] = p[i];
  return face::mouth_opening(l);
}

}  // namespace

TEST(FaceWarper, RestControlsGiveThePictureBack) {
  Scene s;
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  cv::Mat out;
  warper.render({}, {}, out);
  EXPECT_EQ(cv::norm(out, s.picture, cv::NORM_INF), 0.0);
}

TEST(FaceWarper, NoTriangleFoldsAtExtremes) {
  Scene s;
  for (const cv::Rect region : {cv::Rect(0, 0, 384, 384), cv::Rect(80, 80, 220, 240)}) {
    const FaceMesh mesh(s.points, region);
    std::vector<MouthControls> mouths = {{2.0, 1, 0, 0}, {2.0, 0, 1, 0}, {0, 0, 0, 1}, {2.0, 1, 1, 1}, {0, 1, 1, 0}};
    std::vector<HeadPose> heads;
    for (double sx : {-1.0, 1.0})
      for (double sy : {-1.0, 1.0})  // motion_scale 2: twice the largest sway, nod and roll
        heads.push_back({sx * 2 * 0.1, sy * 2 * 0.08, sx * sy * 2 * 2.5, -sx * 2 * 0.08});
    for (const auto& m : mouths)
      for (const auto& h : heads)
        for (double blink : {0.0, 1.0}) {
          const auto moved = mesh.moved_points(m, {h, blink});
          EXPECT_TRUE(mesh.keeps_orientation(moved)) << "jaw " << m.jaw << " roll " << h.roll_deg;
        }
    // And random combinations in range.
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> unit(0, 1), sym(-1, 1);
    for (int trial = 0; trial < 300; ++trial) {
      const MouthControls m{2.0 * unit(rng), unit(rng), unit(rng), unit(rng) < 0.3 ? 1.0 : 0.0};
      const HeadPose h{0.2 * sym(rng), 0.16 * sym(rng), 5 * sym(rng), 0.16 * sym(rng)};
      EXPECT_TRUE(mesh.keeps_orientation(mesh.moved_points(m, {h, unit(rng)})));
    }
  }
}

TEST(FaceWarper, JawOpensTheMouthAndPaintsAnInterior) {
  Scene s;
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  cv::Mat closed, open;
  warper.render({}, {}, closed);
  const double rest = opening(warper.last_points());
  warper.render({1.0, 0, 0, 0}, {}, open);
  const double wide = opening(warper.last_points());
  EXPECT_GT(wide, rest + 0.15);
  // Inside the mouth (just above the moved lower inner lip) the picture is now darker.
  const auto& p = warper.last_points();
  const cv::Point inside((p[62] + p[66]) * 0.5f);
  const auto luminance = [](const cv::Vec3b& c) { return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]; };
  EXPECT_LT(luminance(open.at<cv::Vec3b>(inside)), luminance(closed.at<cv::Vec3b>(inside)) - 40);
  // Outside the face the background is untouched by the mouth.
  EXPECT_EQ(open.at<cv::Vec3b>(5, 5), closed.at<cv::Vec3b>(5, 5));
}

// A photo with teeth showing between parted lips: bright stripes inside the inner lip.
cv::Mat with_teeth(const Scene& s) {
  cv::Mat picture = s.picture.clone();
  std::vector<cv::Point> inner;
  for (int i = 60; i <= 67; ++i) inner.emplace_back(s.points[static_cast<size_t>(i)]);
  cv::Mat mask = cv::Mat::zeros(picture.size(), CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(255));
  for (int y = 0; y < picture.rows; ++y)
    for (int x = 0; x < picture.cols; ++x)
      if (mask.at<uchar>(y, x)) picture.at<cv::Vec3b>(y, x) = (x / 3) % 2 ? cv::Vec3b(235, 240, 245) : cv::Vec3b(150, 160, 170);
  return picture;
}

double luminance(const cv::Vec3b& c) { return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]; }

TEST(FaceWarper, DrawnTeethWhenThePhotoShowsNone) {
  Scene s;  // the lips are one colour inside: no teeth to reuse
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  EXPECT_FALSE(warper.uses_photo_teeth());
}

TEST(FaceWarper, OpenedMouthShowsThePhotosOwnTeethAndACavityBetween) {
  Scene s;
  const cv::Mat photo = with_teeth(s);
  FaceWarper warper(photo.clone(), s.points, cv::Rect(0, 0, 384, 384));
  ASSERT_TRUE(warper.uses_photo_teeth());
  cv::Mat open;
  warper.render({1.0, 0, 0, 0}, {}, open);
  const auto& p = warper.last_points();
  const auto& rest = warper.mesh().rest_points();
  // Just under the upper lip, across the middle of the mouth: the photo's stripes, read at
  // the same depth under the lip and the same fraction of the mouth's width.
  double diff = 0, contrast = 0;
  int n = 0;
  for (double f = 0.4; f <= 0.6; f += 0.01, ++n) {
    const double x_now = p[60].x + f * (p[64].x - p[60].x), x_rest = rest[60].x + f * (rest[64].x - rest[60].x);
    const double y_now = std::max(p[61].y, p[63].y) + 1.5, y_rest = std::max(rest[61].y, rest[63].y) + 1.5;
    const double now = luminance(open.at<cv::Vec3b>(cvRound(y_now), cvRound(x_now)));
    const double then = luminance(photo.at<cv::Vec3b>(cvRound(y_rest), cvRound(x_rest)));
    diff += std::abs(now - then);
    contrast += then;
  }
  EXPECT_LT(diff / n, 30) << "the upper teeth are not the photo's";
  // Between the teeth rows, the cavity is dark.
  const cv::Point middle((p[62] + p[66]) * 0.5f);
  EXPECT_LT(luminance(open.at<cv::Vec3b>(middle)), contrast / n - 80);
}

TEST(FaceWarper, BlinkClosesTheEyes) {
  Scene s;
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  cv::Mat out;
  face::Landmarks rest = s.points, closed;
  warper.render({}, {{}, 1.0}, out);
  for (size_t i = 0; i < 68; ++i) closed[i] = warper.last_points()[i];
  EXPECT_LT(face::eye_aspect_ratio(closed), 0.25 * face::eye_aspect_ratio(rest));
}

TEST(FaceWarper, ClosedLidsCoverTheWhiteOfTheEye) {
  Scene s;
  // White eyes with a dark iris between the lids, as in a photo.
  cv::Mat photo = s.picture.clone();
  for (int first : {36, 42}) {
    std::vector<cv::Point> eye;
    for (int i = first; i < first + 6; ++i) eye.emplace_back(s.points[static_cast<size_t>(i)]);
    cv::fillPoly(photo, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(245, 245, 245));
    cv::circle(photo, (s.points[static_cast<size_t>(first + 1)] + s.points[static_cast<size_t>(first + 4)]) * 0.5f, 3,
               cv::Scalar(40, 50, 60), -1);
  }
  FaceWarper warper(photo, s.points, cv::Rect(0, 0, 384, 384));
  const double skin = luminance(cv::Vec3b(150, 170, 210));
  cv::Mat half, closed;
  warper.render({}, {{}, 0.5}, half);
  // Half-way the eye is still open: its white shows.
  double brightest_half = 0;
  const auto brightest_in_eyes = [&](const cv::Mat& frame) {
    double brightest = 0;
    const auto& p = warper.last_points();
    for (int first : {36, 42}) {
      std::vector<cv::Point> eye;
      for (int i = first; i < first + 6; ++i) eye.emplace_back(p[static_cast<size_t>(i)]);
      cv::Mat mask = cv::Mat::zeros(frame.size(), CV_8U);
      cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(255));
      cv::Mat wider;
      cv::dilate(mask, wider, cv::Mat::ones(3, 3, CV_8U));  // the sliver's edge pixels too
      for (int y = 0; y < frame.rows; ++y)
        for (int x = 0; x < frame.cols; ++x)
          if (wider.at<uchar>(y, x)) brightest = std::max(brightest, luminance(frame.at<cv::Vec3b>(y, x)));
    }
    return brightest;
  };
  brightest_half = brightest_in_eyes(half);
  EXPECT_GT(brightest_half, skin + 40) << "the half-open eye should still show white";
  warper.render({}, {{}, 1.0}, closed);
  EXPECT_LT(brightest_in_eyes(closed), skin + 20) << "a closed eye shows a line of white (a squint)";
}

TEST(FaceWarper, DynamicScaleTwoOpensWiderThanOne) {
  Scene s;
  const FaceMesh mesh(s.points, cv::Rect(0, 0, 384, 384));
  const auto one = mesh.moved_points({1.0, 0, 0, 0}, {});
  const auto more = mesh.moved_points({1.2, 0, 0, 0}, {});
  EXPECT_GT(opening(more), opening(one) + 0.02);
}

TEST(FaceWarper, NothingOutsideTheRegionChanges) {
  Scene s;
  const cv::Rect region(70, 70, 240, 260);
  FaceWarper warper(s.picture.clone(), s.points, region);
  cv::Mat out;
  warper.render({1.2, 0.5, 0, 0}, {{0.1, 0.05, 3, 0.1}, 0.5}, out);
  cv::Mat outside_mask(s.picture.size(), CV_8U, cv::Scalar(255));
  outside_mask(region).setTo(0);
  cv::Mat diff;
  cv::absdiff(out, s.picture, diff);
  EXPECT_EQ(cv::norm(diff, cv::NORM_INF, outside_mask), 0.0);
  EXPECT_GT(cv::norm(diff(region), cv::NORM_INF), 10.0);
  // The pinned border of the region does not move either.
  EXPECT_EQ(out.at<cv::Vec3b>(region.y, region.x + region.width / 2), s.picture.at<cv::Vec3b>(region.y, region.x + region.width / 2));
}

TEST(FaceWarper, HeadPoseMovesTheFaceNotTheBorder) {
  Scene s;
  const FaceMesh mesh(s.points, cv::Rect(0, 0, 384, 384));
  const auto moved = mesh.moved_points({}, {{0.05, 0, 0, 0}, 0});
  const double shift = moved[30].x - s.points[30].x;
  EXPECT_NEAR(shift, 0.05 * mesh.interocular(), 0.5);
  const auto& rest = mesh.rest_points();
  for (size_t i = 68; i < rest.size(); ++i) {
    if (rest[i].x <= 0.5f || rest[i].y <= 0.5f || rest[i].x >= 382.5f || rest[i].y >= 382.5f) {
      EXPECT_EQ(moved[i], rest[i]);
    }
  }
}

// Every vector warp kernel the CPU has (AVX2; AVX-512 VBMI's permuted fetch) draws the same
// pixels as the portable one, bit for bit, at every opening and pose, with the face near the
// picture's edges too (where the vector code hands blocks with clamped taps to the portable
// code), and turned far (where a block's pixels read from several rows, so the permuted fetch
// falls back to plain loads).
TEST(FaceWarper, VectorAndPortableWarpsAgreeBitForBit) {
  Scene s;
  std::vector<WarpKernel> kernels;
  for (const WarpKernel k : {WarpKernel::avx2, WarpKernel::avx512_vbmi})
    if (k <= best_warp_kernel()) kernels.push_back(k);
  std::cout << "vector kernels on this CPU: " << kernels.size() << "\n";
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1), sym(-1, 1);
  for (const cv::Rect region : {cv::Rect(0, 0, 384, 384), cv::Rect(60, 70, 250, 260)}) {
    FaceWarper warper(s.picture.clone(), s.points, region);
    for (int trial = 0; trial < 40; ++trial) {
      const MouthControls m{2.0 * unit(rng), unit(rng), unit(rng), unit(rng) < 0.3 ? 1.0 : 0.0};
      // Every fifth trial rolls the head by up to 30°.
      const double roll = trial % 5 == 0 ? 30 * sym(rng) : 5 * sym(rng);
      const MotionFrame motion{{0.2 * sym(rng), 0.16 * sym(rng), roll, 0.16 * sym(rng)}, unit(rng)};
      cv::Mat portable_frame;
      cap_warp_kernel(WarpKernel::portable);
      warper.render(m, motion, portable_frame);
      ASSERT_GT(cv::norm(portable_frame, s.picture, cv::NORM_INF), 10.0);  // something moved
      for (const WarpKernel kernel : kernels) {
        cv::Mat vector_frame;
        cap_warp_kernel(kernel);
        warper.render(m, motion, vector_frame);
        ASSERT_EQ(cv::norm(vector_frame, portable_frame, cv::NORM_INF), 0.0)
            << "trial " << trial << ", kernel " << static_cast<int>(kernel);
      }
      cap_warp_kernel(WarpKernel::avx512_vbmi);
    }
  }
}
