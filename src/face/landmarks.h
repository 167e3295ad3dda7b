// face/ — finding faces and their 68 landmarks: dlib's HOG detector and shape predictor
// (landmarks.cpp, the only code that includes dlib), OpenCV's Haar cascade as the second
// detector for stylised faces (cascade_detector.h), a check of every landmark fit with a
// box-fitted layout to fall back on (landmark_check.h), and a cache of a picture's faces by
// its sha256 (face_cache.h). Calls media/ for nothing but types; callers pass decoded BGR
// images.
#pragma once

#include <array>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sonic::face {

// The iBUG 300-W 68-point layout: 0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes,
// 48–59 outer lips, 60–67 inner lips.
using Landmarks = std::array<cv::Point2f, 68>;

struct DetectedFace {
  cv::Rect box;      // picture pixels, in dlib's convention (brows to chin) whichever detector
  Landmarks points;
  // How sure the detector is that this is a face, 0–1. dlib (HOG) faces: 0.5 + 0.5·tanh(s)
  // of the detector's SVM score s, so every dlib face scores ≥ 0.5 (s = 0 is its threshold)
  // and a clear frontal photo ~0.9. Cascade faces (stylised, drawn): 0.45·(1 − e^(−n/12))
  // of the n raw hits merged into the box, so always < 0.45: below any dlib face.
  double confidence = 1.0;
  std::string detector = "dlib";  // "dlib" (HOG, photos) or "cascade" (OpenCV Haar: stylised faces)
  // How plausible the 68 points are, 0–1 (face::fit_confidence): 1 for a clean fit.
  double fit_confidence = 1.0;
  // The points are the layout fitted to the box and the mouth line (landmark_check.h),
  // because dlib's fit scored under kMinFitConfidence.
  bool box_layout = false;
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
  // Landmarks inside a given box (tracking between video frames): dlib's fit, unchecked.
  Landmarks landmarks_in(const cv::Mat& bgr, const cv::Rect& box) const;

  // Every face in the picture, largest first: dlib's HOG faces, then the faces only the Haar
  // cascade finds (stylised faces; boxes mapped to dlib's convention). Each has checked
  // landmarks (fit_face). Empty when there is none. Thread-safe. Costs the HOG scan plus a
  // cascade scan of a ≤ 640 px copy plus one fit per face; face_cache.h caches it.
  std::vector<DetectedFace> detect_all(const cv::Mat& bgr) const;

  // Checked landmarks inside a box (the user's face_box, or a detector's): dlib's fit when
  // fit_confidence() accepts it, else the box-fitted layout placed on the mouth line found
  // in the picture, so that a cartoon's mouth is where the drawing has it. `confidence` and
  // `detector` are left at their defaults.
  DetectedFace fit_face(const cv::Mat& bgr, const cv::Rect& box) const;

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
