// media::bgr_to_yuv420 (the MP4 writer's colour conversion): BT.709 limited range against
// the exact formula, known colours, the vector kernel against the portable one byte for
// byte, and nothing written or read outside the planes and rows it was given.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <vector>

#include "media/bgr_to_yuv.h"

namespace sonic::media {
namespace {

struct Yuv {
  int width, height;
  // Each plane with a guard column and row of 0xAB after it: nothing may touch them.
  cv::Mat y, u, v;
  Yuv(int w, int h)
      : width(w), height(h), y(h + 1, w + 7, CV_8U, cv::Scalar(0xAB)), u(h / 2 + 1, w / 2 + 5, CV_8U, cv::Scalar(0xAB)),
        v(h / 2 + 1, w / 2 + 3, CV_8U, cv::Scalar(0xAB)) {}
  YuvPlanes planes() { return {y.data, u.data, v.data, static_cast<std::ptrdiff_t>(y.step[0]), static_cast<std::ptrdiff_t>(u.step[0]),
                               static_cast<std::ptrdiff_t>(v.step[0])}; }
  bool guards_intact() const {
    const auto untouched = [](const cv::Mat& m, int cols, int rows) {
      for (int r = 0; r < m.rows; ++r)
        for (int c = 0; c < m.cols; ++c)
          if ((r >= rows || c >= cols) && m.at<uchar>(r, c) != 0xAB) return false;
      return true;
    };
    return untouched(y, width, height) && untouched(u, width / 2, height / 2) && untouched(v, width / 2, height / 2);
  }
};

// A picture inside a larger buffer (the bytes around it are 0xCD), so a kernel reading past
// a row would pick them up and differ from the other kernel and from the formula.
cv::Mat random_picture(int width, int height, unsigned seed, cv::Mat& storage) {
  storage.create(height + 2, width + 9, CV_8UC3);
  storage.setTo(cv::Scalar(0xCD, 0xCD, 0xCD));
  cv::Mat picture = storage(cv::Rect(1, 1, width, height));
  cv::RNG rng(seed);
  rng.fill(picture, cv::RNG::UNIFORM, 0, 256);
  return picture;
}

Yuv convert(const cv::Mat& bgr, bool portable) {
  Yuv out(bgr.cols, bgr.rows);
  (portable ? bgr_to_yuv420_portable : bgr_to_yuv420)(bgr.data, static_cast<std::ptrdiff_t>(bgr.step[0]), bgr.cols, bgr.rows,
                                                        out.planes());
  return out;
}

TEST(BgrToYuv, MatchesTheBt709LimitedRangeFormulaWithinHalfAStep) {
  cv::Mat storage;
  const cv::Mat bgr = random_picture(70, 36, 1, storage);
  const Yuv got = convert(bgr, false);
  const double kr = 0.2126, kb = 0.0722, kg = 1 - kr - kb;
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      const double luma = 16 + 219.0 / 255 * (kr * p[2] + kg * p[1] + kb * p[0]);
      ASSERT_LE(std::abs(got.y.at<uchar>(y, x) - luma), 0.5 + 1e-3) << x << "," << y;
    }
  for (int y = 0; y < bgr.rows / 2; ++y)
    for (int x = 0; x < bgr.cols / 2; ++x) {
      double r = 0, g = 0, b = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const cv::Vec3b p = bgr.at<cv::Vec3b>(2 * y + dy, 2 * x + dx);
          b += p[0] / 4.0;
          g += p[1] / 4.0;
          r += p[2] / 4.0;
        }
      const double luma = kr * r + kg * g + kb * b;
      const double cb = 128 + 224.0 / 255 * (b - luma) / (2 * (1 - kb));
      const double cr = 128 + 224.0 / 255 * (r - luma) / (2 * (1 - kr));
      ASSERT_LE(std::abs(got.u.at<uchar>(y, x) - cb), 0.5 + 1e-3) << x << "," << y;
      ASSERT_LE(std::abs(got.v.at<uchar>(y, x) - cr), 0.5 + 1e-3) << x << "," << y;
    }
}

TEST(BgrToYuv, KnownColours) {
  struct Case {
    cv::Vec3b bgr;
    int y, u, v;
  };
  for (const Case& c : {Case{{0, 0, 0}, 16, 128, 128}, Case{{255, 255, 255}, 235, 128, 128}, Case{{128, 128, 128}, 126, 128, 128},
                        Case{{0, 0, 255}, 63, 102, 240}, Case{{0, 255, 0}, 173, 42, 26}, Case{{255, 0, 0}, 32, 240, 118}})
    for (bool portable : {true, false}) {
      const cv::Mat bgr(4, 32, CV_8UC3, cv::Scalar(c.bgr[0], c.bgr[1], c.bgr[2]));
      const Yuv got = convert(bgr, portable);
      for (int x : {0, 17, 31}) EXPECT_EQ(got.y.at<uchar>(3, x), c.y) << c.bgr << " portable " << portable;
      for (int x : {0, 8, 15}) {
        EXPECT_EQ(got.u.at<uchar>(1, x), c.u) << c.bgr << " portable " << portable;
        EXPECT_EQ(got.v.at<uchar>(1, x), c.v) << c.bgr << " portable " << portable;
      }
    }
}

TEST(BgrToYuv, TheKernelThisCpuUsesGivesThePortableBytesAndStaysInsideItsPlanes) {
  std::printf("kernel: %s\n", bgr_to_yuv_kernel_name());
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{2, 2}, {14, 4}, {16, 2}, {18, 6}, {46, 10}, {512, 64}, {514, 8}, {1030, 4}}) {
    cv::Mat storage;
    const cv::Mat bgr = random_picture(w, h, static_cast<unsigned>(w * 31 + h), storage);
    const Yuv vector = convert(bgr, false), portable = convert(bgr, true);
    EXPECT_EQ(cv::norm(vector.y, portable.y, cv::NORM_INF), 0) << w << "x" << h;
    EXPECT_EQ(cv::norm(vector.u, portable.u, cv::NORM_INF), 0) << w << "x" << h;
    EXPECT_EQ(cv::norm(vector.v, portable.v, cv::NORM_INF), 0) << w << "x" << h;
    EXPECT_TRUE(vector.guards_intact()) << w << "x" << h;
    EXPECT_TRUE(portable.guards_intact()) << w << "x" << h;
  }
}

}  // namespace
}  // namespace sonic::media
