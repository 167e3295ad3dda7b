// Checking a 68-point fit, and the layout to fall back on when it fails.
//
// dlib's shape predictor always answers with 68 points, even on a cartoon or a 3-D
// character whose texture is nothing like a photo's; there it often puts the mouth on the
// chin or the cheek, so the warp moves skin while the drawn mouth stays shut. So every fit
// is checked (fit_confidence): the points must be in a face's order (brows above eyes above
// nose above mouth above chin, left eye on the left), in a face's proportions, inside the
// box, and — on a drawn face (is_drawn: no photographic texture) — the mouth must be where
// the picture has one (find_mouth_line: the strongest dark horizontal feature in the lower
// face). On a photo the predictor is in its element and that last test is not made: the
// shadow under a nose can be darker than closed lips, and would overrule a good fit. A fit
// under kMinFitConfidence is replaced by box_layout: an average frontal face scaled to the
// box, its mouth placed on the mouth line found in the picture (its corners, height and
// curve) and its eyes on the eyes OpenCV's eye cascade finds, so that a drawn mouth opens and
// closes with the speech and drawn eyes blink.
//
// Box convention: dlib's detector box, from the brows to the chin and cheek to cheek (the
// eyes about 28 % of the way down, the mouth at 76 %, the chin just below the box).
#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "face/landmarks.h"

namespace sonic::face {

// Fits scoring under this are replaced by box_layout.
constexpr double kMinFitConfidence = 0.5;

// The 68 points of an average frontal face with closed lips, in units of a dlib box
// (0,0 = its top-left corner, 1,1 = its bottom-right corner).
const Landmarks& unit_layout();

struct MouthLine {
  cv::Point2f left, centre, right;  // the corners and the middle of the line, picture pixels
  float thickness = 0;              // height of the dark line at its middle, pixels
  double contrast = 0;              // how much darker than above and below it, 0–255
};

// The mouth in the lower part of `box`: the dark horizontal feature (lips' line, drawn mouth)
// with the most contrast, near the middle. nullopt when nothing there stands out.
std::optional<MouthLine> find_mouth_line(const cv::Mat& bgr, const cv::Rect& box);

// Whether the face in `box` is drawn or rendered rather than photographed: with the face
// scaled to 64 px, the 30th percentile of the absolute high-pass (the picture minus its
// σ = 1 blur) over the middle of the box is under kPhotoTexture grey levels. Measured: photos
// 0.9–2.1 (the fixture scaled by 0.5 to 6, blurred, as JPEG, re-toned darker), flat and
// shaded drawings 0–0.4 (also small, or as JPEG).
constexpr double kPhotoTexture = 0.6;
double texture_of(const cv::Mat& bgr, const cv::Rect& box);
inline bool is_drawn(const cv::Mat& bgr, const cv::Rect& box) { return texture_of(bgr, box) < kPhotoTexture; }

// 0–1: how much `points` look like a frontal face in `box` (the product of the order,
// proportion and containment checks, and, when `mouth` is given, of the mouth line lying
// within the fit's lips, fading out by 1.6 half lip heights above or below their middle).
double fit_confidence(const Landmarks& points, const cv::Rect& box, const std::optional<MouthLine>& mouth);

// unit_layout() in `box`, with the mouth on `mouth` when given (its corners, its curve, and
// the inner lips at the top and bottom of its line, so the line is inside the opening), and
// the eyes (and brows with them) on `eyes` when it holds a plausible left and right eye
// (CascadeFaceDetector::find_eyes; one eye found is mirrored across the mouth's middle), so
// that a drawn face blinks where its eyes are.
Landmarks box_layout(const cv::Rect& box, const std::optional<MouthLine>& mouth, const std::vector<cv::Rect>& eyes = {});

}  // namespace sonic::face
