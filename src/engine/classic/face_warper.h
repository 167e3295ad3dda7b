// FaceWarper: renders one frame from the still picture, the mesh and one frame's controls.
//
// Piecewise-affine warp: every output pixel inside a triangle gets its source position from
// the triangle's affine map (inverse mapping, so there are no holes), written straight into
// OpenCV's fixed-point remap tables for the warp region (no float tables, no conversion);
// one cv::remap then resamples. Pixels outside the region are never touched (full_frame: no
// seam). Where the lips part further than in the photo, a mouth
// interior is drawn inside the inner-lip contour: a dark cavity shaded darker towards the
// centre-back, a band of upper teeth under the upper lip; the lips themselves are warped
// pixels of the photo, so they keep their colour and texture.
//
// Owned by the engine thread; not thread-safe (it reuses its buffers between frames).
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "engine/classic/face_mesh.h"

namespace sonic::engine::classic {

class FaceWarper {
 public:
  // `still` is the framed picture (output size, BGR 8-bit); `landmarks` in output pixels.
  FaceWarper(cv::Mat still, const face::Landmarks& landmarks, const cv::Rect& region);

  // Writes the frame into `out` (allocated to the still's size on first use).
  void render(const MouthControls& mouth, const MotionFrame& motion, cv::Mat& out);

  const FaceMesh& mesh() const { return mesh_; }
  // The points used by the last render() (landmarks first).
  const std::vector<cv::Point2f>& last_points() const { return last_points_; }

 private:
  void fill_maps(const std::vector<cv::Point2f>& moved);
  void paint_mouth_interior(const std::vector<cv::Point2f>& moved, cv::Mat& out) const;

  cv::Mat still_;
  FaceMesh mesh_;
  cv::Mat map_xy_;        // CV_16SC2, region-sized: integer source position per pixel
  cv::Mat map_fraction_;  // CV_16UC1: sub-pixel part, (y_frac << INTER_BITS) | x_frac
  std::vector<cv::Point2f> last_points_;
  cv::Vec3d lip_colour_;  // mean BGR of the lips in the photo
  double rest_mouth_gap_ = 0;
};

}  // namespace sonic::engine::classic
