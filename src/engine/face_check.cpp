// The face check: every face, what is wrong with it, and each aspect_ratio's crop (see
// face_check.h).
#include "engine/face_check.h"

#include <cmath>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "face/face_cache.h"
#include "util/error.h"

namespace sonic::engine {
namespace {

using nlohmann::json;

json rect_json(const cv::Rect& r) { return {{"x", r.x}, {"y", r.y}, {"width", r.width}, {"height", r.height}}; }

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// How far the head is turned, from the nose tip (30) to the outer eye corners (36, 45):
// the shorter distance over the longer, 1 when facing the camera.
double frontal_ratio(const face::Landmarks& p) {
  const double left = std::abs(p[30].x - p[36].x), right = std::abs(p[45].x - p[30].x);
  const double longer = std::max(left, right);
  return longer > 0 ? std::min(left, right) / longer : 0.0;
}

double tilt_degrees(const face::Landmarks& p) {
  return std::abs(std::atan2(p[45].y - p[36].y, p[45].x - p[36].x)) * 180.0 / CV_PI;
}

json face_json(const face::DetectedFace& face, std::size_t index, cv::Size picture, const GenerationParams& params,
               const media::MediaLimits& limits) {
  json warnings = json::array();
  const cv::Rect box = framing_box(face);
  const bool large = face.box.width >= kMinUsableFaceWidth;
  if (!large)
    warnings.push_back(fmt::format("Too small: the face is {} pixels wide; a face at least {} pixels wide animates "
                                   "sharply (use a closer or larger photo).",
                                   face.box.width, kMinUsableFaceWidth));
  // Turned away or tilted only when the 68 points are the detector's fit: a layout fitted to
  // the box says nothing about the pose.
  json frontal = nullptr;
  if (!face.box_layout) {
    const bool turned = frontal_ratio(face.points) < kMinFrontalRatio;
    const bool tilted = tilt_degrees(face.points) > kMaxTiltDegrees;
    frontal = !turned && !tilted;
    if (turned) warnings.push_back("Turned away: the face is not looking at the camera; a frontal face animates best.");
    if (tilted)
      warnings.push_back(fmt::format("Tilted: the eyes lean by {:.0f}°; hold the head upright.", tilt_degrees(face.points)));
  }
  const cv::Rect whole(cv::Point(0, 0), picture);
  const bool inside = (box & whole) == box;
  if (!inside) warnings.push_back("Cut by the edge: part of the face is outside the picture.");
  if (face.detector == "cascade")
    warnings.push_back("Found by the detector for drawn and stylised faces: if this is not a face, mark the face with "
                       "face_box [x, y, width, height].");

  json crops = json::object();
  FramingOptions options = FramingOptions::of(params, limits);
  options.full_frame = false;
  options.eye_y = eye_line(face.points);
  for (const auto& shape : aspect_ratio_names()) {
    options.aspect_ratio = shape;
    const Framing framing = plan_framing(picture, box, options);
    json crop = rect_json(framing.crop);
    crop["output_width"] = framing.output_size.width;
    crop["output_height"] = framing.output_size.height;
    json notes = json::array();
    for (const auto& note : framing.notes) notes.push_back(note.reason);
    crop["notes"] = notes;
    crops[shape] = crop;
  }
  const bool usable = large && frontal != false && inside;
  return {{"index", index},
          {"box", rect_json(face.box)},
          {"confidence", round3(face.confidence)},
          {"detector", face.detector},
          {"landmarks_fit", round3(face.fit_confidence)},
          {"large_enough", large},
          {"frontal", frontal},
          {"inside_picture", inside},
          {"usable", usable},
          {"warnings", warnings},
          {"crops", crops}};
}

}  // namespace

const face::DetectedFace& speaking_face(const std::vector<face::DetectedFace>& faces, int face_index) {
  if (faces.empty())
    throw Error(ErrorCode::no_face,
                "No face was found in the image. Use a clear, well-lit frontal photo, or pass face_box [x,y,w,h] to "
                "mark the face.",
                "image");
  if (face_index < 0 || static_cast<std::size_t>(face_index) >= faces.size())
    throw Error(ErrorCode::invalid_param,
                fmt::format("'face_index' is {}, but the picture has {} face{} (face_index 0 to {}, largest first; "
                            "POST /api/faces lists them).",
                            face_index, faces.size(), faces.size() == 1 ? "" : "s", faces.size() - 1),
                "face_index");
  return faces[static_cast<std::size_t>(face_index)];
}

cv::Rect framing_box(const face::DetectedFace& face) {
  return face.box | cv::boundingRect(std::vector<cv::Point2f>(face.points.begin(), face.points.end()));
}

double eye_line(const face::Landmarks& points) {
  float y = 0;  // float, as the classic engine has always summed it: the same crop to the pixel
  for (std::size_t i = 36; i <= 47; ++i) y += points[i].y / 12.0f;
  return y;
}

json check_faces(const cv::Mat& picture, const std::string& image_sha256, const GenerationParams& params,
                 const media::MediaLimits& limits) {
  const auto faces = face::faces_in_picture(image_sha256, picture);
  json list = json::array();
  for (std::size_t i = 0; i < faces->size(); ++i) list.push_back(face_json((*faces)[i], i, picture.size(), params, limits));
  json warnings = json::array();
  json speaker = nullptr;
  bool usable = false;
  if (params.face_box) {
    // The user's box decides; the detection is reported for information.
    speaker = "face_box";
    usable = true;
  } else if (faces->empty()) {
    warnings.push_back("No face was found. Use a clear, well-lit frontal photo, or pass face_box [x, y, width, height] "
                       "to mark the face.");
  } else {
    speaking_face(*faces, params.face_index);  // throws for a face_index past the last face
    speaker = params.face_index;
    usable = list[static_cast<std::size_t>(params.face_index)]["usable"].get<bool>();
    if (faces->size() > 1)
      warnings.push_back(fmt::format("{} faces were found; face {} ({}) speaks. Choose another with face_index (0 is "
                                     "the largest).",
                                     faces->size(), params.face_index, params.face_index == 0 ? "the largest" : "chosen"));
  }
  return {{"width", picture.cols},
          {"height", picture.rows},
          {"faces", list},
          {"speaker", speaker},
          {"usable", usable},
          {"warnings", warnings}};
}

}  // namespace sonic::engine
