// Small per-pixel helpers the classic engine's painters share (mouth interior, closed lids):
// smooth steps, luminance, bilinear sampling and alpha blending of 8-bit BGR pictures.
#pragma once

#include <algorithm>
#include <opencv2/core.hpp>

namespace sonic::engine::classic {

inline double smoothstep01(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

// Rec. 601 luma of a BGR colour.
inline double luminance(const cv::Vec3d& bgr) { return 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2]; }

// Mixes `colour` into `pixel` by `alpha` (0 = keep the pixel).
inline void blend_into(cv::Vec3b& pixel, const cv::Vec3d& colour, double alpha) {
  const cv::Vec3d mixed = cv::Vec3d(pixel[0], pixel[1], pixel[2]) * (1.0 - alpha) + colour * alpha;
  pixel = cv::Vec3b(cv::saturate_cast<uchar>(mixed[0]), cv::saturate_cast<uchar>(mixed[1]), cv::saturate_cast<uchar>(mixed[2]));
}

// Bilinear sample of an 8-bit BGR image, clamped at its border.
inline cv::Vec3d sample_bgr(const cv::Mat& image, double x, double y) {
  x = std::clamp(x, 0.0, image.cols - 1.0);
  y = std::clamp(y, 0.0, image.rows - 1.0);
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, image.cols - 1), y1 = std::min(y0 + 1, image.rows - 1);
  const double fx = x - x0, fy = y - y0;
  const auto at = [&](int yy, int xx) {
    const cv::Vec3b& c = image.at<cv::Vec3b>(yy, xx);
    return cv::Vec3d(c[0], c[1], c[2]);
  };
  return (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
}

}  // namespace sonic::engine::classic
