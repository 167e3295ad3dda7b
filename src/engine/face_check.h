// The face check (POST /api/faces, docs/api.md "Face check"): before submitting a job, an app
// learns whether its picture has a usable face, which one will speak, and what each
// aspect_ratio would show. It is the classic engine's own detection (face::faces_in_picture,
// cached by the picture's sha256, so the job that follows with the same picture does not
// detect again) and its own framing (plan_framing with the same box and eye line), so the
// check reports exactly what a job would do. No video work: detection and arithmetic.
//
// A face is usable when it is large enough, turned to the camera and inside the picture;
// each failed rule adds a warning in plain words, and so does the picture (no face, several).
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "engine/framing.h"
#include "engine/params.h"
#include "face/landmarks.h"
#include "media/limits.h"

namespace sonic::engine {

// Faces narrower than this (detector box, picture pixels) are reported as too small: the
// default 512 px output enlarges their crop more than ~6× and they look soft (the fixture portrait's face is 90 px).
constexpr int kMinUsableFaceWidth = 64;
// Turned away: the nose tip's distances to the two outer eye corners differ more than this
// ratio (about 35° of head turn).
constexpr double kMinFrontalRatio = 0.45;
// Tilted: the eye line leans more than this many degrees.
constexpr double kMaxTiltDegrees = 25.0;

// The face that speaks among `faces` (largest first, as detect_all gives them): the one
// `face_index` names. Error(no_face) when there is none; Error(invalid_param, face_index)
// when face_index is past the last face (the message says how many there are).
const face::DetectedFace& speaking_face(const std::vector<face::DetectedFace>& faces, int face_index);

// What framing centres on for a detected face: the detector's box (brows to chin) united
// with its landmarks, so every point is inside; and the eye line (mean y of points 36–47).
cv::Rect framing_box(const face::DetectedFace& face);
double eye_line(const face::Landmarks& points);

// The check of `picture` (decoded from the file whose bytes hash to `image_sha256`) under
// `params` (expand_ratio, min_resolution, full_frame, aspect_ratio, face_index, face_box):
// {"width", "height", "faces": [{"index", "box", "confidence", "detector", "landmarks_fit",
// "large_enough", "frontal", "inside_picture", "usable", "warnings", "crops": {aspect_ratio:
// {"x","y","width","height","output_width","output_height","notes"}}}], "speaker",
// "usable", "warnings"}. Error(invalid_param, face_index) when face_index names no face.
nlohmann::json check_faces(const cv::Mat& picture, const std::string& image_sha256, const GenerationParams& params,
                           const media::MediaLimits& limits);

}  // namespace sonic::engine
