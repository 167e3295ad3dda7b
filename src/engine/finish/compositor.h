// FrameCompositor: puts an engine's animated face crop into the output frame.
//
// An engine animates a crop of the picture (it says where the crop came from: crop_box, in
// picture pixels); the output frame is some rectangle of the picture (output_rect) scaled to
// the output size. Crop mode: output_rect is the crop itself, so composing is a resize.
// full_frame: output_rect is the whole picture and the crop is pasted back into it. Any other
// rectangle (the aspect ratios of framing) works the same way.
//
// The seam is made invisible by a feathered mask: the engine's pixels fade into the still
// picture over a band along every crop edge that lies inside the output (an edge on the
// picture's border needs no fade). A diffusion model's slight colour cast or softer detail
// then changes gradually instead of as a step. The mask and the still background are made
// once; compose() costs one resize and one blend of the crop area per frame.
#pragma once

#include <opencv2/core.hpp>

namespace sonic::engine::finish {

struct Placement {
  cv::Rect output_rect;  // in picture pixels; may reach outside the picture (padded)
  cv::Size output_size;  // even width and height
  cv::Rect crop_box;     // the engine's frames, in picture pixels
};

class FrameCompositor {
 public:
  // `feather` is the width of the fade as a fraction of the crop's shorter side.
  FrameCompositor(const cv::Mat& picture_bgr, const Placement& placement, double feather = 0.08);
  // `engine_frame`: BGR, any size (scaled to the crop box). `out` becomes output_size BGR.
  void compose(const cv::Mat& engine_frame, cv::Mat& out) const;
  // The crop box in output pixels (clipped to the output), for tests.
  cv::Rect crop_in_output() const { return roi_; }
  bool pastes() const { return !whole_; }

 private:
  Placement placement_;
  bool whole_ = false;     // the crop is the whole output: compose is a resize
  cv::Mat background_;     // output_size, the still picture
  cv::Rect target_;        // crop box in output pixels, unclipped
  cv::Rect roi_;           // target_ clipped to the output
  cv::Mat alpha_;          // CV_32FC3, roi_ size
};

// The still picture cut to `rect` (padded by replicating the border where it reaches
// outside) and scaled to `size`.
cv::Mat picture_region(const cv::Mat& picture_bgr, const cv::Rect& rect, cv::Size size);

}  // namespace sonic::engine::finish
