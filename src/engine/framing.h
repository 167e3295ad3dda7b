// Framing: which part of the picture the output video shows, and at what size. Shared by
// every engine and by the finishing step that composes an engine's animated face crop into
// the output frame, so the framing parameters mean the same thing whichever engine runs.
//
// The model is a camera operator's. Around the face box goes a square `face_region` with
// expand_ratio of the box size as margin on each side (head motion never leaves it). The
// output frame (`crop`) is the smallest rectangle of the requested aspect_ratio that holds
// the face region: as wide as the face region in portrait and square formats, as high as it
// in landscape ones. It is centred on the face horizontally; vertically the eyes sit a third
// of the way down the frame (the rule of thirds; in 9:16 that leaves the shoulders in the
// picture), moved only as far as needed to keep the whole face region inside. The crop then
// slides inside the picture; when the picture is too small for it, the frame shrinks (same
// shape, same placement rules) to the largest one that fits, and a note says so. Nothing is
// ever padded: every output pixel is a picture pixel. The output's shorter side is
// min_resolution (rounded to even), its longer side follows the shape; neither exceeds
// max_full_frame_side (the frame is scaled down, with a note, for extreme shapes).
//
// full_frame: the output is the whole picture, its size rounded down to even; when its
// longer side exceeds max_full_frame_side it is scaled down to fit (a note says so). The face
// region is then where a face engine's crop goes back (classic warps only around it).
#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "face/landmarks.h"

namespace sonic::engine {

struct FramingOptions {
  std::string aspect_ratio = "1:1";  // one of aspect_ratio_names()
  double expand_ratio = 0.15;
  int min_resolution = 512;
  bool full_frame = false;
  int max_full_frame_side = 2048;    // media::MediaLimits::max_full_frame_side
  // The eye line in picture pixels when the caller knows it (landmarks); else it is taken as
  // 40 % of the way down the face box, where it sits in detector boxes.
  std::optional<double> eye_y;

  // The framing parameters of a job (GenerationParams + MediaLimits); eye_y unset.
  static FramingOptions of(const GenerationParams& params, const media::MediaLimits& limits);
};

struct Framing {
  cv::Rect crop;            // picture pixels the output shows; always inside the picture
  cv::Size output_size;     // even width and height
  double scale_x = 1.0;     // output pixels per picture pixel, across …
  double scale_y = 1.0;     // … and down (equal up to the rounding of the sizes)
  bool full_frame = false;
  cv::Rect face_region;     // picture pixels: the face box with its expand_ratio margin
                            // (square; may reach outside the picture when the face does)
  // What the output could not honour, as `ignored_params` entries of the result: e.g.
  // {"aspect_ratio", "the picture (300×400) is too small for a 16:9 frame …; the frame shrank
  // to fit"}. Empty when everything was honoured.
  std::vector<IgnoredParam> notes;

  // Picture pixels → output pixels.
  cv::Point2f to_output(cv::Point2f picture_point) const;
  cv::Rect to_output(const cv::Rect& picture_rect) const;  // rounded outwards, not clipped
};

// Width over height of an aspect_ratio value for a picture of `picture_size` ("original" is
// the picture's own shape). Error(invalid_param, field aspect_ratio) for an unknown value.
double aspect_ratio_value(const std::string& aspect_ratio, cv::Size picture_size);

// Plans the output for a picture of `picture_size` whose face is `face_box` (picture pixels;
// the detector's box or the user's face_box). Pure arithmetic: no pixels are read.
Framing plan_framing(cv::Size picture_size, const cv::Rect& face_box, const FramingOptions& options);

int round_to_even(double value);

// The still picture in output pixels: the crop scaled to the output size (bicubic up, area
// down), or the whole picture trimmed to even size / scaled down under full_frame.
cv::Mat framed_picture(const cv::Mat& picture_bgr, const Framing& framing);

// Landmarks in picture pixels → output pixels.
face::Landmarks to_output(const face::Landmarks& points, const Framing& framing);

}  // namespace sonic::engine
