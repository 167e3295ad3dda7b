// FaceWarper: renders one frame from the still picture, the mesh and one frame's controls.
//
// Piecewise-affine warp: every output pixel inside a triangle gets its source position from
// the triangle's affine map (inverse mapping, so there are no holes), rounded to 1/32 pixel,
// and is resampled bilinearly right there, in the same pass: no map tables are written and
// read back (the weights are cv::remap's fixed-point INTER_LINEAR ones, BORDER_REPLICATE;
// the row kernels, vector ones where the CPU has them, are warp_span.h). The frame is warped
// and its mouth painted in bands of rows at once on all cores (cv::parallel_for_), each row
// by one thread, in the same triangle order, so the frame is the same as from one thread. Pixels
// outside the region are the still's own (full_frame: no seam). Where the lips part further than in the photo, the
// mouth's interior is painted between them (mouth_interior.h: smooth lip curves, a shaded
// cavity, teeth — the photo's own or drawn in its whites — and, wide open, lower teeth and
// tongue); the lips themselves are warped pixels of the photo, so they keep their colour and
// texture.
//
// Owned by the engine thread; not thread-safe (one render() at a time; render() itself
// uses a helper thread from OpenCV's pool while it warps).
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "engine/classic/face_mesh.h"
#include "engine/classic/mouth_interior.h"

namespace sonic::engine::classic {

class FaceWarper {
 public:
  // `still` is the framed picture (output size, BGR 8-bit); `landmarks` in output pixels.
  FaceWarper(cv::Mat still, const face::Landmarks& landmarks, const cv::Rect& region);

  // Writes the frame into `out` (allocated to the still's size on first use).
  void render(const MouthControls& mouth, const MotionFrame& motion, cv::Mat& out);

  const FaceMesh& mesh() const { return mesh_; }
  // Whether the opened mouth shows the photo's own teeth (else drawn ones).
  bool uses_photo_teeth() const { return mouth_.uses_photo_teeth(); }
  const MouthInterior& mouth_interior() const { return mouth_; }
  // The points used by the last render() (landmarks first).
  const std::vector<cv::Point2f>& last_points() const { return last_points_; }

 private:
  void warp_triangles(const std::vector<cv::Point2f>& moved, cv::Mat& out, int row_begin, int row_end) const;
  void paint_closed_lids(const std::vector<cv::Point2f>& moved, double blink, cv::Mat& out) const;

  cv::Mat still_;
  FaceMesh mesh_;
  std::vector<cv::Point2f> last_points_;
  MouthInterior mouth_;  // reads still_ (declared before it)
};

}  // namespace sonic::engine::classic
