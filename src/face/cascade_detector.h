// CascadeFaceDetector: the second face detector, OpenCV's Haar cascade
// (haarcascade_frontalface_alt2.xml from Debian's opencv-data), for the faces dlib's HOG
// detector misses: cartoons, 3-D characters, drawings, stylised avatars. Haar features look
// for the light/dark pattern of brows, eyes, nose bridge and cheeks, which drawn faces keep
// even when their texture is nothing like a photo's.
//
// Used by FaceLandmarker::detect_all (every face) and, through it, whenever dlib finds no
// face. Slower per pixel than HOG and with more false alarms, so it scans a copy of the
// picture at most 640 px on its longer side and asks for 3 overlapping hits. It reaches
// smaller faces than HOG in large pictures (HOG's 80 px window on a picture scanned at full
// size), which is where it finds most of what dlib misses.
//
// Models: loaded once per process from $SONIC_FACE_CASCADE (default
// /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml) and haarcascade_eye.xml
// next to it. When either is missing the detector is unavailable (available() is false,
// detect() finds nothing, one warning is logged): photos still work with dlib alone.
// Threads: cv::CascadeClassifier keeps scratch state, so each call borrows one from a
// small pool (face/object_pool.h), as the dlib detectors do.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <vector>

namespace sonic::face {

struct CascadeFace {
  cv::Rect box;        // the cascade's own square box (brows to below the mouth), picture pixels
  int neighbours = 0;  // overlapping raw hits merged into this one: more = surer
};

class CascadeFaceDetector {
 public:
  static CascadeFaceDetector& shared();

  bool available() const;
  // Every face box of at least `min_side` pixels in an 8-bit grey picture, largest first,
  // unverified: the face cascade alone also fires on collars, helmets and folds, so a box
  // should count only when find_eyes sees an eye in it (measured: such false alarms have no
  // eyes, the photos and drawn faces of the tests have two). detect_all does that.
  std::vector<CascadeFace> detect(const cv::Mat& grey, int min_side) const;
  // The eyes (OpenCV's haarcascade_eye.xml) in the upper 60 % of `face_box` of an 8-bit grey
  // picture, left to right, in picture pixels; the face is scanned at 120 px wide.
  std::vector<cv::Rect> find_eyes(const cv::Mat& grey, const cv::Rect& face_box) const;

  CascadeFaceDetector(const CascadeFaceDetector&) = delete;
  CascadeFaceDetector& operator=(const CascadeFaceDetector&) = delete;
  ~CascadeFaceDetector();

 private:
  CascadeFaceDetector();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::face
