// MouthInterior: what shows between the lips when the warp parts them further than the
// photo does. The lips themselves are warped pixels of the photo (texture and highlights
// kept); this paints only the opening between them, as a small model of a mouth:
//
// - Outline: the inner lip contour as two smooth curves, upper (60-61-62-63-64) and lower
//   (64-65-66-67-60), each a cubic Hermite spline through its landmarks in the mouth's own
//   axes (x along the corners, y across), meeting at the corners. Coverage is computed per
//   pixel from the distance to the curves (perpendicular, not vertical), so the edge is
//   anti-aliased and feathered over ~1.5 px into the lips: no polygon, no straight segment.
// - Cavity: shaded from the lips' own colour at the rim to a warm dark (a quarter of the lip
//   colour, so it keeps their hue: never grey, never black) at the back, darker towards the
//   corners (the cheeks' shadow).
// - Upper teeth, when the photo shows none: a row hanging from the upper lip along its curve,
//   tallest in the middle and shorter towards the corners (the arch turns away), its lower
//   edge a soft curve; lit from the front, falling off towards the corners and into the
//   upper lip's shadow at the top; individual teeth only as a faint rounding of the light
//   (a few %), never as lines. Their white is the photo's own: the brightest quarter of the
//   eyes' pixels (the sclera), a little darker and warmer, so teeth never outshine the eyes
//   and follow the photo's lighting and white balance.
// - Lower teeth and a hint of tongue appear only at wide openings (opening height over a
//   fifth of the mouth's width): the teeth above the lower lip, in its shadow; the tongue a
//   soft mound in the lip colour behind them.
// - The photo's own teeth, when it shows them (lips parted and lighter between them than the
//   lips): the upper 60 % of the photo's opening hangs from the upper lip and the lower 35 %
//   rides on the lower lip, each pixel read from the photo at the same depth under its lip
//   and the same fraction of the mouth's width, with the cavity opening between them.
//
// Owned by the engine thread (reuses its tables between frames); not thread-safe.
#pragma once

#include <opencv2/core.hpp>
#include <vector>

#include "face/landmarks.h"

namespace sonic::engine::classic {

class MouthInterior {
 public:
  // `still` the framed picture (BGR 8-bit), `rest` the landmarks in its pixels,
  // `interocular` the eye distance in pixels, `region` the pixels painting may touch.
  MouthInterior(const cv::Mat& still, const face::Landmarks& rest, double interocular, const cv::Rect& region);

  // Paints the opening for the moved landmarks (indices 0–67 of `moved`) into `out`.
  // Nothing is painted while the lips are no further apart than in the photo.
  void paint(const std::vector<cv::Point2f>& moved, cv::Mat& out);
  // The same in two steps, so bands of rows can be painted at once on several threads:
  // prepare() once per frame, then paint_rows() for rows [row_begin, row_end) of each band.
  void prepare(const std::vector<cv::Point2f>& moved);
  void paint_rows(cv::Mat& out, int row_begin, int row_end) const;

  bool uses_photo_teeth() const { return photo_teeth_; }
  const cv::Vec3d& lip_colour() const { return lip_colour_; }
  const cv::Vec3d& whites() const { return whites_; }          // the photo's eye whites (BGR)
  const cv::Vec3d& teeth_colour() const { return teeth_colour_; }  // lit drawn teeth (BGR)

  // The mouth's own axes in one frame: origin at corner 60, x towards corner 64, y down.
  struct Axes {
    cv::Point2f origin, u, v;
    float length = 1;
    cv::Point2f local(cv::Point2f p) const { return {(p - origin).dot(u), (p - origin).dot(v)}; }
    cv::Point2f picture(float x, float y) const { return origin + u * x + v * y; }
  };
  // A lip curve sampled every pixel along x: y and the factor turning a vertical distance
  // into a perpendicular one.
  struct Curve {
    std::vector<float> y, to_normal;
    float at(float x, float* normal = nullptr) const;
  };

 private:
  const cv::Mat& still_;
  const cv::Rect region_;
  const double interocular_;
  cv::Vec3d lip_colour_, whites_, teeth_colour_;
  double rest_gap_ = 0;
  bool photo_teeth_ = false;
  Axes rest_axes_;
  Curve rest_upper_, rest_lower_;
  Curve upper_, lower_;  // this frame's, reused
  struct Frame {  // this frame's opening, from prepare()
    bool active = false;
    double strength = 0;
    Axes axes;
    float centre_low = 0, centre_open = 0;
    double wide = 0, teeth_height = 0, scale_rest = 1;
    cv::Rect box;
  } frame_;
};

}  // namespace sonic::engine::classic
