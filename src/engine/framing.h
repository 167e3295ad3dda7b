// Framing: where the output picture comes from and how big it is. Shared by every engine
// and by the finishing step that composes an engine's face crop into the output frame.
//
// Crop mode: a square around the face box, grown by expand_ratio of the box size on each
// side (so head motion never cuts the face), kept inside the picture when it fits (else the
// missing part is filled by replicating the border), scaled so the output's side is
// min_resolution rounded to even. full_frame: the output is the whole picture (size rounded
// down to even); the same square, clipped to the picture, is then only the region the face
// warp may touch, and everything outside it is copied unchanged, so there is no seam.
#pragma once

#include <opencv2/core.hpp>

#include "face/landmarks.h"

namespace sonic::engine {

struct Framing {
  cv::Rect crop;             // in picture pixels; may reach outside the picture (crop mode)
  cv::Size output_size;      // even width and height
  double scale = 1.0;        // output pixels per picture pixel
  bool full_frame = false;
  cv::Rect warp_region;      // in output pixels: the only pixels the warp may change
};

int round_to_even(double value);

// `face_box` is the face in picture pixels (detector box, or the user's face_box).
Framing plan_framing(cv::Size picture_size, const cv::Rect& face_box, double expand_ratio,
                     int min_resolution, bool full_frame);

// The still picture every frame is warped from, in output pixels (crop + pad + resize, or
// the picture itself trimmed to even size).
cv::Mat framed_picture(const cv::Mat& picture_bgr, const Framing& framing);

// Picture pixels → output pixels.
face::Landmarks to_output(const face::Landmarks& points, const Framing& framing);

}  // namespace sonic::engine
