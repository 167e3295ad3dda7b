// Crop box, output size and the framed still picture (see framing.h).
#include "engine/framing.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace sonic::engine {

int round_to_even(double value) { return std::max(2, 2 * static_cast<int>(std::lround(value / 2.0))); }

Framing plan_framing(cv::Size picture_size, const cv::Rect& face_box, double expand_ratio,
                     int min_resolution, bool full_frame) {
  Framing f;
  f.full_frame = full_frame;
  const double side_in = std::max(face_box.width, face_box.height) * (1.0 + 2.0 * std::max(0.0, expand_ratio));
  const int side = std::max(2, static_cast<int>(std::lround(side_in)));
  const double cx = face_box.x + face_box.width / 2.0;
  const double cy = face_box.y + face_box.height / 2.0;
  int x = static_cast<int>(std::lround(cx - side / 2.0));
  int y = static_cast<int>(std::lround(cy - side / 2.0));
  // Slide the square inside the picture where it fits; pad only what cannot fit.
  if (side <= picture_size.width) x = std::clamp(x, 0, picture_size.width - side);
  if (side <= picture_size.height) y = std::clamp(y, 0, picture_size.height - side);
  f.crop = cv::Rect(x, y, side, side);

  if (full_frame) {
    f.scale = 1.0;
    f.output_size = cv::Size(std::max(2, picture_size.width & ~1), std::max(2, picture_size.height & ~1));
    f.warp_region = f.crop & cv::Rect(cv::Point(0, 0), f.output_size);
  } else {
    const int out_side = round_to_even(min_resolution);
    f.scale = static_cast<double>(out_side) / side;
    f.output_size = cv::Size(out_side, out_side);
    f.warp_region = cv::Rect(cv::Point(0, 0), f.output_size);
  }
  return f;
}

cv::Mat framed_picture(const cv::Mat& picture, const Framing& framing) {
  if (framing.full_frame) return picture(cv::Rect(cv::Point(0, 0), framing.output_size)).clone();
  const cv::Rect inside = framing.crop & cv::Rect(0, 0, picture.cols, picture.rows);
  cv::Mat crop;
  if (inside == framing.crop) {
    crop = picture(inside);
  } else {
    const int top = inside.y - framing.crop.y, left = inside.x - framing.crop.x;
    const int bottom = framing.crop.br().y - inside.br().y, right = framing.crop.br().x - inside.br().x;
    cv::copyMakeBorder(picture(inside), crop, top, bottom, left, right, cv::BORDER_REPLICATE);
  }
  cv::Mat out;
  const int interpolation = framing.scale >= 1.0 ? cv::INTER_CUBIC : cv::INTER_AREA;
  cv::resize(crop, out, framing.output_size, 0, 0, interpolation);
  return out;
}

face::Landmarks to_output(const face::Landmarks& points, const Framing& framing) {
  face::Landmarks out;
  if (framing.full_frame) return points;
  for (size_t i = 0; i < points.size(); ++i)
    out[i] = cv::Point2f(static_cast<float>((points[i].x - framing.crop.x) * framing.scale),
                         static_cast<float>((points[i].y - framing.crop.y) * framing.scale));
  return out;
}

}  // namespace sonic::engine
