// The opened mouth (engine/classic/mouth_interior.h) on the synthetic face: no straight
// edges or polygons inside the opening, teeth as white as the photo's whites and no whiter,
// a cavity darker than the lips but of their hue (never grey or black), lower teeth only at
// wide openings, and the photo's own teeth kept.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "engine/classic/face_warper.h"
#include "engine_classic_synthetic_face.h"

using namespace sonic;
using namespace sonic::engine::classic;

namespace {

double luma(const cv::Vec3b& c) { return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]; }

// The synthetic face with eyes a photo has: whites of `sclera` around a dark iris.
struct Scene {
  face::Landmarks points = test::synthetic_landmarks(cv::Rect2f(100, 110, 180, 190));
  cv::Mat picture;
  explicit Scene(cv::Vec3b sclera = {228, 232, 236}) {
    picture = test::synthetic_picture({384, 384}, points);
    for (int first : {36, 42}) {
      std::vector<cv::Point> eye;
      for (int i = first; i < first + 6; ++i) eye.emplace_back(points[static_cast<size_t>(i)]);
      cv::fillPoly(picture, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(sclera[0], sclera[1], sclera[2]));
      cv::circle(picture, (points[static_cast<size_t>(first + 1)] + points[static_cast<size_t>(first + 4)]) * 0.5f, 4,
                 cv::Scalar(40, 50, 60), -1);
    }
  }
};

// The opening in the rendered frame: inside the inner lips of `p`, shrunk by a pixel so the
// lips' own edge is not part of it.
cv::Mat opening_mask(const std::vector<cv::Point2f>& p, cv::Size size, int shrink) {
  std::vector<cv::Point> inner;
  for (int i = 60; i <= 67; ++i) inner.emplace_back(cv::Point(p[static_cast<size_t>(i)]));
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(255));
  if (shrink > 0) cv::erode(mask, mask, cv::Mat::ones(2 * shrink + 1, 2 * shrink + 1, CV_8U));
  return mask;
}

// Straight segments among the hard edges of `frame` inside `mask` (Canny 40/120: outlines
// and teeth edges, not the soft shading of a shadow): HoughLinesP, a segment counting when at
// least `min_length` pixels of edge lie on one line (1 px, 1°).
std::vector<cv::Vec4i> straight_edges(const cv::Mat& frame, const cv::Mat& mask, int min_length) {
  cv::Mat grey, edges;
  cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
  cv::Canny(grey, edges, 40, 120);
  edges &= mask;
  std::vector<cv::Vec4i> lines;
  cv::HoughLinesP(edges, lines, 1, CV_PI / 180, min_length, min_length, 1);
  return lines;
}

}  // namespace

// At pixel precision any smooth curve looks straight around its extremum, where it runs
// level; a polygon is straight along its slanted sides, and the old interior's teeth gaps were
// straight upright lines. So: no edge inside the opening runs straight over more than a sixth
// of the mouth's width unless it is level (within 12°). The face is drawn large (eyes 170 px
// apart) so that the old interior's segments and gaps were 20–40 px long; measured on the old
// interior this finds two such edges at jaw 1.0 and 1.5 (the band's slanted sides).
TEST(MouthInterior, NoSlantedOrUprightStraightEdgeInsideTheOpening) {
  const face::Landmarks points = test::synthetic_landmarks(cv::Rect2f(200, 220, 360, 380));
  cv::Mat picture = test::synthetic_picture({768, 768}, points);
  FaceWarper warper(picture, points, cv::Rect(0, 0, 768, 768));
  ASSERT_FALSE(warper.uses_photo_teeth());
  for (double jaw : {0.5, 1.0, 1.5}) {
    for (double spread : {0.0, 0.6}) {
      SCOPED_TRACE(cv::format("jaw %.1f spread %.1f", jaw, spread));
      cv::Mat frame;
      warper.render({jaw, spread, 0.0, 0.0}, {}, frame);
      const auto& p = warper.last_points();
      const cv::Mat inside = opening_mask(p, frame.size(), 2);
      ASSERT_GT(cv::countNonZero(inside), 500);
      const int min_length = static_cast<int>(cv::norm(p[54] - p[48]) / 6);
      for (const auto& l : straight_edges(frame, inside, min_length)) {
        const double degrees = std::abs(std::atan2(l[3] - l[1], l[2] - l[0]) * 180 / CV_PI);
        const double from_level = std::min(degrees, 180 - degrees);
        if (from_level > 12)
          ADD_FAILURE() << "straight edge " << cv::Point(l[0], l[1]) << "–" << cv::Point(l[2], l[3]) << " at " << from_level << "°";
      }
    }
  }
}

TEST(MouthInterior, DrawnTeethAreAsWhiteAsThePhotosWhitesAndNoWhiter) {
  for (const cv::Vec3b& sclera : {cv::Vec3b(228, 232, 236), cv::Vec3b(150, 160, 172)}) {
    SCOPED_TRACE(cv::format("sclera %d %d %d", sclera[0], sclera[1], sclera[2]));
    Scene s(sclera);
    FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
    ASSERT_FALSE(warper.uses_photo_teeth());
    EXPECT_NEAR(luma(cv::Vec3b(cv::saturate_cast<uchar>(warper.mouth_interior().whites()[0]),
                               cv::saturate_cast<uchar>(warper.mouth_interior().whites()[1]),
                               cv::saturate_cast<uchar>(warper.mouth_interior().whites()[2]))),
                luma(sclera), 3.0)
        << "the whites are measured from the eyes";
    cv::Mat frame;
    warper.render({1.0, 0, 0, 0}, {}, frame);
    // The teeth: the brightest pixels in the upper part of the opening.
    const auto& p = warper.last_points();
    const cv::Mat inside = opening_mask(p, frame.size(), 1);
    double brightest = 0;
    for (int y = 0; y < frame.rows; ++y)
      for (int x = 0; x < frame.cols; ++x)
        if (inside.at<uchar>(y, x)) brightest = std::max(brightest, luma(frame.at<cv::Vec3b>(y, x)));
    EXPECT_LE(brightest, luma(sclera) + 2) << "teeth brighter than the eyes' whites";
    EXPECT_GE(brightest, 0.75 * luma(sclera)) << "teeth far darker than the eyes' whites";
  }
}

TEST(MouthInterior, TheCavityIsDarkerThanTheLipsAndOfTheirHue) {
  Scene s;
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  cv::Mat frame;
  warper.render({1.0, 0, 0, 0}, {}, frame);
  const auto& p = warper.last_points();
  const cv::Vec3d lips = warper.mouth_interior().lip_colour();
  // The cavity: the darkest pixel between the upper and the lower lip's middle.
  cv::Vec3b cavity(255, 255, 255);
  for (double f = 0.05; f <= 0.95; f += 0.02) {
    const cv::Vec3b c = frame.at<cv::Vec3b>(cv::Point(p[62] + (p[66] - p[62]) * static_cast<float>(f)));
    if (luma(c) < luma(cavity)) cavity = c;
  }
  const double lip_luma = 0.114 * lips[0] + 0.587 * lips[1] + 0.299 * lips[2];
  EXPECT_LT(luma(cavity), 0.6 * lip_luma) << "cavity " << cavity << ", lips " << lips;
  EXPECT_GT(luma(cavity), 4.0) << "never black";
  // The lips' hue: red above green and blue, as in the lips (BGR 90, 90, 170).
  EXPECT_GT(cavity[2], cavity[1] + 3) << cavity;
  EXPECT_GT(cavity[2], cavity[0] + 3) << cavity;
}

TEST(MouthInterior, LowerTeethOnlyWhenWideOpen) {
  Scene s;
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  // Just above the lower lip's middle: light (teeth) only at a wide opening.
  const auto light_above_lower_lip = [&](double jaw) {
    cv::Mat frame;
    warper.render({jaw, 0, 0, 0}, {}, frame);
    const auto& p = warper.last_points();
    const cv::Point2f at = p[66] + (p[62] - p[66]) * 0.06f;
    return luma(frame.at<cv::Vec3b>(cv::Point(at)));
  };
  const double speaking = light_above_lower_lip(0.5), wide = light_above_lower_lip(1.8);
  EXPECT_GT(wide, speaking + 30) << "speaking " << speaking << ", wide " << wide;
}

TEST(MouthInterior, ThePhotosOwnTeethAreKept) {
  Scene s;
  // Parted lips with teeth between them.
  std::vector<cv::Point> inner;
  for (int i = 60; i <= 67; ++i) inner.emplace_back(s.points[static_cast<size_t>(i)]);
  cv::fillPoly(s.picture, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(215, 225, 235));
  FaceWarper warper(s.picture.clone(), s.points, cv::Rect(0, 0, 384, 384));
  ASSERT_TRUE(warper.uses_photo_teeth());
  cv::Mat frame;
  warper.render({1.0, 0, 0, 0}, {}, frame);
  const auto& p = warper.last_points();
  // Right under the upper lip's middle: the photo's teeth colour.
  const cv::Vec3b teeth = frame.at<cv::Vec3b>(cv::Point(p[62] + cv::Point2f(0, 2)));
  EXPECT_LT(cv::norm(cv::Vec3d(teeth[0], teeth[1], teeth[2]) - cv::Vec3d(215, 225, 235)), 45) << teeth;
}
