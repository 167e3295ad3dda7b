// Pictures composed from the fixture portrait for tests that need more than one face.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/test_media.h"

namespace sonic::test {

// Two faces side by side on a grey canvas: the portrait, and the portrait at 70 % (so face 0,
// the largest, is the left one). Written as PNG to `path`.
inline void write_two_faces_picture(const std::filesystem::path& path) {
  const cv::Mat portrait = cv::imread(fixture("portrait.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(portrait.empty());
  cv::Mat two(portrait.rows, portrait.cols * 2 - portrait.cols * 3 / 10, CV_8UC3, cv::Scalar(128, 128, 128));
  portrait.copyTo(two(cv::Rect(0, 0, portrait.cols, portrait.rows)));
  cv::Mat small;
  cv::resize(portrait, small, cv::Size(), 0.7, 0.7, cv::INTER_AREA);
  small.copyTo(two(cv::Rect(portrait.cols, (portrait.rows - small.rows) / 2, small.cols, small.rows)));
  ASSERT_TRUE(cv::imwrite(path.string(), two));
}

}  // namespace sonic::test
