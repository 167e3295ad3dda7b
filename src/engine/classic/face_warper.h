// FaceWarper: renders one frame from the still picture, the mesh and one frame's controls.
//
// Piecewise-affine warp: every output pixel inside a triangle gets its source position from
// the triangle's affine map (inverse mapping, so there are no holes), rounded to 1/32 pixel,
// and is resampled bilinearly right there, in the same pass: no map tables are written and
// read back (the result equals cv::remap's fixed-point INTER_LINEAR with BORDER_REPLICATE,
// bit for bit, at about two thirds of its cost with the tables). Pixels outside the region are
// the still's own (full_frame: no seam). Where the lips part further than in the photo, a mouth
// interior is painted inside the inner-lip contour: a dark cavity shaded darker towards the
// centre-back and teeth — the photo's own when it shows teeth between parted lips (the upper
// ones hang from the upper lip, the lower ones ride on the jaw), else a drawn band of upper
// teeth; the lips themselves are warped pixels of the photo, so they keep their colour and
// texture.
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
  // Whether the opened mouth shows the photo's own teeth (else drawn ones).
  bool uses_photo_teeth() const { return photo_teeth_; }
  // The points used by the last render() (landmarks first).
  const std::vector<cv::Point2f>& last_points() const { return last_points_; }

 private:
  void warp_triangles(const std::vector<cv::Point2f>& moved, cv::Mat& out) const;
  void paint_mouth_interior(const std::vector<cv::Point2f>& moved, cv::Mat& out) const;
  void paint_closed_lids(const std::vector<cv::Point2f>& moved, double blink, cv::Mat& out) const;

  cv::Mat still_;
  FaceMesh mesh_;
  std::vector<cv::Point2f> last_points_;
  cv::Vec3d lip_colour_;  // mean BGR of the lips in the photo
  double rest_mouth_gap_ = 0;
  bool photo_teeth_ = false;  // the photo shows teeth between parted lips: reuse them
};

}  // namespace sonic::engine::classic
