// FrameCompositor: feathered paste-back (see compositor.h).
#include "engine/finish/compositor.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace sonic::engine::finish {

cv::Mat picture_region(const cv::Mat& picture, const cv::Rect& rect, cv::Size size) {
  const cv::Rect inside = rect & cv::Rect(0, 0, picture.cols, picture.rows);
  cv::Mat cut;
  if (inside == rect) {
    cut = picture(rect);
  } else if (inside.area() == 0) {
    cut = cv::Mat(rect.size(), picture.type(), cv::Scalar::all(0));
  } else {
    cv::copyMakeBorder(picture(inside), cut, inside.y - rect.y, rect.br().y - inside.br().y, inside.x - rect.x,
                       rect.br().x - inside.br().x, cv::BORDER_REPLICATE);
  }
  if (cut.size() == size) return cut.clone();
  cv::Mat out;
  cv::resize(cut, out, size, 0, 0, size.width >= cut.cols ? cv::INTER_CUBIC : cv::INTER_AREA);
  return out;
}

FrameCompositor::FrameCompositor(const cv::Mat& picture, const Placement& p, double feather) : placement_(p) {
  const double sx = static_cast<double>(p.output_size.width) / p.output_rect.width;
  const double sy = static_cast<double>(p.output_size.height) / p.output_rect.height;
  target_ = cv::Rect(static_cast<int>(std::lround((p.crop_box.x - p.output_rect.x) * sx)),
                     static_cast<int>(std::lround((p.crop_box.y - p.output_rect.y) * sy)),
                     std::max(1, static_cast<int>(std::lround(p.crop_box.width * sx))),
                     std::max(1, static_cast<int>(std::lround(p.crop_box.height * sy))));
  const cv::Rect output(cv::Point(0, 0), p.output_size);
  roi_ = target_ & output;
  whole_ = target_ == output || (p.crop_box == p.output_rect);
  if (whole_) return;
  background_ = picture_region(picture, p.output_rect, p.output_size);

  // Fade only along crop edges that are inside the output and inside the picture: where
  // the crop meets the picture's border there is nothing to blend with.
  const cv::Rect picture_in_output(static_cast<int>(std::lround(-p.output_rect.x * sx)),
                                   static_cast<int>(std::lround(-p.output_rect.y * sy)),
                                   static_cast<int>(std::lround(picture.cols * sx)),
                                   static_cast<int>(std::lround(picture.rows * sy)));
  const cv::Rect visible = output & picture_in_output;
  const double band = std::max(2.0, feather * std::min(target_.width, target_.height));
  const bool fade_left = target_.x > visible.x, fade_top = target_.y > visible.y;
  const bool fade_right = target_.br().x < visible.br().x, fade_bottom = target_.br().y < visible.br().y;
  cv::Mat alpha(roi_.size(), CV_32F);
  for (int y = 0; y < roi_.height; ++y) {
    float* row = alpha.ptr<float>(y);
    const double gy = roi_.y + y + 0.5;  // output coordinates of the pixel centre
    double ay = 1.0;
    if (fade_top) ay = std::min(ay, (gy - target_.y) / band);
    if (fade_bottom) ay = std::min(ay, (target_.br().y - gy) / band);
    for (int x = 0; x < roi_.width; ++x) {
      const double gx = roi_.x + x + 0.5;
      double a = ay;
      if (fade_left) a = std::min(a, (gx - target_.x) / band);
      if (fade_right) a = std::min(a, (target_.br().x - gx) / band);
      a = std::clamp(a, 0.0, 1.0);
      row[x] = static_cast<float>(a * a * (3.0 - 2.0 * a));  // smoothstep: no kink at either end
    }
  }
  cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, alpha_);
}

void FrameCompositor::compose(const cv::Mat& engine_frame, cv::Mat& out) const {
  if (whole_) {
    if (engine_frame.size() == placement_.output_size) engine_frame.copyTo(out);
    else
      cv::resize(engine_frame, out, placement_.output_size, 0, 0,
                 placement_.output_size.width >= engine_frame.cols ? cv::INTER_CUBIC : cv::INTER_AREA);
    return;
  }
  background_.copyTo(out);
  if (roi_.area() == 0) return;
  cv::Mat scaled;
  cv::resize(engine_frame, scaled, target_.size(), 0, 0,
             target_.width >= engine_frame.cols ? cv::INTER_CUBIC : cv::INTER_AREA);
  const cv::Rect in_scaled(roi_.x - target_.x, roi_.y - target_.y, roi_.width, roi_.height);
  cv::Mat face, back, blended;
  scaled(in_scaled).convertTo(face, CV_32FC3);
  out(roi_).convertTo(back, CV_32FC3);
  blended = back + alpha_.mul(face - back);
  blended.convertTo(out(roi_), CV_8UC3);
}

}  // namespace sonic::engine::finish
