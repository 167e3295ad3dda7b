// A synthetic face for the classic engine's unit tests: a plausible 68-point landmark set
// (iBUG layout, roughly the dlib mean shape) and a textured picture to warp, so the mesh,
// warper and framing can be tested without the detector or any media file.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "face/landmarks.h"

namespace sonic::test {

// Landmarks of a frontal face filling `box` (brows at the top, chin at the bottom).
inline face::Landmarks synthetic_landmarks(const cv::Rect2f& box) {
  static constexpr std::array<std::array<float, 2>, 68> unit = {{
      {0.00f, 0.20f}, {0.01f, 0.33f}, {0.03f, 0.46f}, {0.06f, 0.58f}, {0.11f, 0.70f}, {0.19f, 0.80f},
      {0.28f, 0.88f}, {0.39f, 0.94f}, {0.50f, 0.96f}, {0.61f, 0.94f}, {0.72f, 0.88f}, {0.81f, 0.80f},
      {0.89f, 0.70f}, {0.94f, 0.58f}, {0.97f, 0.46f}, {0.99f, 0.33f}, {1.00f, 0.20f},                   // jaw
      {0.08f, 0.08f}, {0.14f, 0.03f}, {0.22f, 0.02f}, {0.30f, 0.03f}, {0.38f, 0.06f},                   // brow
      {0.62f, 0.06f}, {0.70f, 0.03f}, {0.78f, 0.02f}, {0.86f, 0.03f}, {0.92f, 0.08f},                   // brow
      {0.50f, 0.17f}, {0.50f, 0.27f}, {0.50f, 0.37f}, {0.50f, 0.46f},                                   // nose
      {0.40f, 0.52f}, {0.45f, 0.54f}, {0.50f, 0.55f}, {0.55f, 0.54f}, {0.60f, 0.52f},
      {0.17f, 0.19f}, {0.23f, 0.15f}, {0.30f, 0.15f}, {0.36f, 0.20f}, {0.30f, 0.22f}, {0.23f, 0.22f},   // eye
      {0.64f, 0.20f}, {0.70f, 0.15f}, {0.77f, 0.15f}, {0.83f, 0.19f}, {0.77f, 0.22f}, {0.70f, 0.22f},   // eye
      {0.32f, 0.71f}, {0.38f, 0.67f}, {0.45f, 0.65f}, {0.50f, 0.66f}, {0.55f, 0.65f}, {0.62f, 0.67f},   // outer lip
      {0.68f, 0.71f}, {0.62f, 0.77f}, {0.56f, 0.79f}, {0.50f, 0.80f}, {0.44f, 0.79f}, {0.38f, 0.77f},
      {0.35f, 0.71f}, {0.45f, 0.695f}, {0.50f, 0.70f}, {0.55f, 0.695f},                                 // inner lip
      {0.65f, 0.71f}, {0.55f, 0.72f}, {0.50f, 0.725f}, {0.45f, 0.72f},
  }};
  face::Landmarks points;
  for (size_t i = 0; i < unit.size(); ++i)
    points[i] = cv::Point2f(box.x + unit[i][0] * box.width, box.y + unit[i][1] * box.height);
  return points;
}

// A textured picture (smooth noise plus a drawn face) of `size`, deterministic.
inline cv::Mat synthetic_picture(cv::Size size, const face::Landmarks& points) {
  cv::Mat noise(size.height / 8 + 1, size.width / 8 + 1, CV_8UC3);
  std::mt19937 rng(7);
  for (int y = 0; y < noise.rows; ++y)
    for (int x = 0; x < noise.cols; ++x)
      noise.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(60 + rng() % 120), static_cast<uchar>(60 + rng() % 120),
                                            static_cast<uchar>(60 + rng() % 120));
  cv::Mat picture;
  cv::resize(noise, picture, size, 0, 0, cv::INTER_CUBIC);
  std::vector<cv::Point> jaw;
  for (int i = 0; i <= 16; ++i) jaw.emplace_back(points[static_cast<size_t>(i)]);
  for (int i = 26; i >= 17; --i) jaw.emplace_back(points[static_cast<size_t>(i)]);
  cv::fillPoly(picture, std::vector<std::vector<cv::Point>>{jaw}, cv::Scalar(150, 170, 210));
  std::vector<cv::Point> lips;
  for (int i = 48; i <= 59; ++i) lips.emplace_back(points[static_cast<size_t>(i)]);
  cv::fillPoly(picture, std::vector<std::vector<cv::Point>>{lips}, cv::Scalar(90, 90, 170));
  for (int i = 0; i < 67; ++i) cv::circle(picture, points[static_cast<size_t>(i)], 2, cv::Scalar(40, 60, 90), -1);
  return picture;
}

}  // namespace sonic::test
