// face/ — finding a face and its 68 landmarks (dlib). The only code that includes dlib.
// Calls media/ for nothing but types; callers pass decoded BGR images.
#pragma once

#include <array>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

namespace sonic::face {

// The iBUG 300-W 68-point layout: 0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes,
// 48–59 outer lips, 60–67 inner lips.
using Landmarks = std::array<cv::Point2f, 68>;

struct DetectedFace {
  cv::Rect box;
  Landmarks points;
};

class FaceLandmarker {
 public:
  // The process-wide instance; the model is loaded on first use, once, from
  // /usr/share/dlib/shape_predictor_68_face_landmarks.dat (or $SONIC_DLIB_MODEL).
  // Throws Error(engine_failed) when the model file is missing.
  static FaceLandmarker& shared();

  // The largest frontal face, upsampling small images so faces of ~40 px are found;
  // nullopt when there is none. Thread-safe.
  std::optional<DetectedFace> detect(const cv::Mat& bgr) const;
  // Cheap re-detection for tracking: the largest face within ~0.75 box sizes of `around`,
  // expecting about its size (0.8× to 2.5×). Same result type as detect(). Thread-safe.
  std::optional<DetectedFace> detect_near(const cv::Mat& bgr, const cv::Rect& around) const;
  // Landmarks inside a given box (face_box override, or tracking between video frames).
  Landmarks landmarks_in(const cv::Mat& bgr, const cv::Rect& box) const;

  FaceLandmarker(const FaceLandmarker&) = delete;
  FaceLandmarker& operator=(const FaceLandmarker&) = delete;
  ~FaceLandmarker();

 private:
  FaceLandmarker();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Mouth opening as `score` measures it: inner-lip gap (mean of 61–67, 62–66, 63–65) over
// mouth width (48–54).
double mouth_opening(const Landmarks& points);
// Eye aspect ratio (Soukupová & Čech), mean of both eyes; low = closed.
double eye_aspect_ratio(const Landmarks& points);

}  // namespace sonic::face
