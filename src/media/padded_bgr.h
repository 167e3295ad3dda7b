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
  // Bytes past the end of a row a vector load or store may touch, with margin.
  static constexpr int kReach = 256;

  // Whether swscale may work on `picture` in place: every row, the last included, is followed
  // by at least kReach bytes of the same allocation (as in a picture from fit()).
  static bool has_room(const cv::Mat& picture) {
    if (picture.empty() || picture.dims != 2) return false;
    const std::size_t row_bytes = static_cast<std::size_t>(picture.cols) * picture.elemSize();
    if (picture.step[0] < row_bytes + kReach) return false;
    const uchar* last_row_end = picture.data + (picture.rows - 1) * picture.step[0] + row_bytes;
    return picture.datalimit >= last_row_end && static_cast<std::size_t>(picture.datalimit - last_row_end) >= kReach;
  }

  // The picture, rows×cols BGR, inside the padded storage (reallocated only when the size
  // changes).
  cv::Mat& fit(int rows, int cols) {
    if (picture_.rows != rows || picture_.cols != cols) {
      const int row_bytes = (cols * 3 + kReach + 63) / 64 * 64;
      storage_.create(rows + 1, row_bytes, CV_8UC1);
      // A view into the storage (not a Mat on its pointer), so it knows the room after it.
      picture_ = storage_(cv::Rect(0, 0, cols * 3, rows)).reshape(3);
    }
    return picture_;
  }

 private:
  cv::Mat storage_;
  cv::Mat picture_;
};

}  // namespace sonic::media
