// PaddedBgr: a BGR picture laid out the way swscale may touch it.
//
// swscale's SIMD converters (AVX-512 on current server CPUs) load and store whole vectors,
// so they read and write a little past the end of each row. FFmpeg's own frames are padded
// for that; an OpenCV Mat is not, and a conversion straight into one overwrote the bytes
// after each row and, after the last, the heap. Conversions go through this buffer instead:
// rows padded to 64 bytes plus a vector's reach, and a spare row after the last.
#pragma once

#include <opencv2/core.hpp>

namespace sonic::media {

class PaddedBgr {
 public:
  // The picture, rows×cols BGR, inside the padded storage (reallocated only when the size
  // changes).
  cv::Mat& fit(int rows, int cols) {
    if (picture_.rows != rows || picture_.cols != cols) {
      constexpr int kReach = 256;  // bytes past a row a vector store may touch, with margin
      const int row_bytes = (cols * 3 + kReach + 63) / 64 * 64;
      storage_.create(rows + 1, row_bytes, CV_8UC1);
      picture_ = cv::Mat(rows, cols, CV_8UC3, storage_.data, static_cast<std::size_t>(row_bytes));
    }
    return picture_;
  }

 private:
  cv::Mat storage_;
  cv::Mat picture_;
};

}  // namespace sonic::media
