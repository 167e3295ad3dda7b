// face/landmarks.cpp — dlib's HOG frontal-face detector and its 68-point shape predictor
// behind FaceLandmarker. This is the one translation unit that includes dlib (its headers
// are heavy and noisy), so everything dlib-shaped stays in here.
//
// Model: the predictor (~100 MB) is deserialised once per process, on first use of
// shared(); a failed load throws and the next call tries again (function-local static).
// Threads: the shape predictor is immutable after loading and safe to call from any thread.
// The HOG detector is not (it keeps scratch buffers), so each scan borrows one from an
// ObjectPool; concurrent callers get their own copy instead of queueing behind one lock.
//
// detect_all adds the faces only OpenCV's Haar cascade finds (stylised faces,
// cascade_detector.h) and checks every face's landmarks (fit_face, landmark_check.h).
//
// Detection scale: HOG finds faces of ~80 px and up. Images whose shorter side is under
// 800 px are upsampled ×2 first (faces down to ~40 px are found); images longer than
// 1200 px are shrunk to 1200 px first, for speed (a face that small in such a picture is
// not a portrait). Boxes are mapped back to the caller's pixels, and the landmarks are
// always fitted on the caller's full-resolution image.
#include "face/landmarks.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>

#include "face/cascade_detector.h"
#include "face/landmark_check.h"
#include "face/object_pool.h"
#include "util/error.h"

namespace sonic::face {
namespace {

constexpr const char* kDefaultModel = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
constexpr int kUpsampleBelowShortSide = 800;
constexpr int kShrinkAboveLongSide = 1200;
constexpr int kFitFaceSize = 360;        // px: smaller boxes are enlarged before fitting
constexpr double kNearFaceSize = 100.0;  // px: detect_near scans the expected face at this size

std::filesystem::path model_path() {
  const char* env = std::getenv("SONIC_DLIB_MODEL");
  return std::filesystem::path(env && *env ? env : kDefaultModel);
}

// 8-bit single-channel view of any 8-bit image, for the detector and the predictor
// (both work on intensity; grey makes HOG about three times cheaper than colour).
cv::Mat to_grey(const cv::Mat& image) {
  if (image.empty()) return image;
  cv::Mat eight_bit = image;
  if (image.depth() != CV_8U) image.convertTo(eight_bit, CV_8U);  // no-op for normal input
  switch (eight_bit.channels()) {
    case 1:
      return eight_bit;
    case 3: {
      cv::Mat grey;
      cv::cvtColor(eight_bit, grey, cv::COLOR_BGR2GRAY);
      return grey;
    }
    case 4: {
      cv::Mat grey;
      cv::cvtColor(eight_bit, grey, cv::COLOR_BGRA2GRAY);
      return grey;
    }
    default:
      throw Error(ErrorCode::internal, "face detection needs a grey, BGR or BGRA image, got " +
                                           std::to_string(eight_bit.channels()) + " channels");
  }
}

Landmarks to_landmarks(const dlib::full_object_detection& shape) {
  Landmarks points{};
  const auto n = std::min<unsigned long>(shape.num_parts(), points.size());
  for (unsigned long i = 0; i < n; ++i) {
    points[i] =
        cv::Point2f(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
  }
  return points;
}

// The scale HOG scans a whole picture at (see the file comment).
double whole_picture_scale(cv::Size size) {
  const int long_side = std::max(size.width, size.height);
  const int short_side = std::min(size.width, size.height);
  if (long_side > kShrinkAboveLongSide) return static_cast<double>(kShrinkAboveLongSide) / long_side;
  if (short_side < kUpsampleBelowShortSide) return 2.0;
  return 1.0;
}

// A cascade box (brows to below the mouth, drawn a little higher and larger than dlib's)
// in dlib's box convention, measured on the fixture portrait: 7 % smaller, 11 % lower.
cv::Rect cascade_to_dlib_box(const cv::Rect& b) {
  return cv::Rect(b.x + static_cast<int>(std::lround(0.035 * b.width)), b.y + static_cast<int>(std::lround(0.11 * b.height)),
                  static_cast<int>(std::lround(0.93 * b.width)), static_cast<int>(std::lround(0.93 * b.height)));
}

double overlap(const cv::Rect& a, const cv::Rect& b) {  // intersection over the smaller box
  const double smaller = std::min(a.area(), b.area());
  return smaller > 0 ? (a & b).area() / smaller : 0.0;
}

double distance(const cv::Point2f& a, const cv::Point2f& b) {
  return std::hypot(static_cast<double>(a.x - b.x), static_cast<double>(a.y - b.y));
}

}  // namespace

struct FaceLandmarker::Impl {
  dlib::shape_predictor predictor;  // immutable after construction

  ObjectPool<dlib::frontal_face_detector> detectors{
      [] { return std::make_unique<dlib::frontal_face_detector>(dlib::get_frontal_face_detector()); }};

  // Every face the HOG detector finds in `region` of `image` scanned at `scale`, boxes in
  // `image` coordinates, largest first, with the detector's confidence; no landmarks yet.
  std::vector<DetectedFace> scan(const cv::Mat& image, const cv::Rect& region, double scale) {
    const cv::Mat grey = to_grey(image(region));
    cv::Mat scanned = grey;
    if (scale != 1.0) {
      cv::resize(grey, scanned, cv::Size(), scale, scale,
                 scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    std::vector<dlib::rect_detection> found;
    {
      ObjectPool<dlib::frontal_face_detector>::Lease detector(detectors);
      dlib::cv_image<unsigned char> view(scanned);
      (*detector)(view, found);
    }
    const auto unscale = [scale](long v) {
      return static_cast<int>(std::lround(static_cast<double>(v) / scale));
    };
    std::vector<DetectedFace> faces;
    for (const auto& d : found) {
      const int left = region.x + unscale(d.rect.left());
      const int top = region.y + unscale(d.rect.top());
      const int right = region.x + unscale(d.rect.right() + 1);
      const int bottom = region.y + unscale(d.rect.bottom() + 1);
      DetectedFace face;
      face.box = cv::Rect(left, top, std::max(1, right - left), std::max(1, bottom - top));
      face.confidence = 0.5 + 0.5 * std::tanh(std::max(0.0, d.detection_confidence));
      face.detector = "dlib";
      faces.push_back(std::move(face));
    }
    std::stable_sort(faces.begin(), faces.end(),
                     [](const DetectedFace& a, const DetectedFace& b) { return a.box.area() > b.box.area(); });
    return faces;
  }

  // The largest face the HOG detector finds in `region` of `image` scanned at `scale`,
  // with landmarks fitted on `image` itself.
  std::optional<DetectedFace> detect_in(const cv::Mat& image, const cv::Rect& region,
                                        double scale) {
    auto faces = scan(image, region, scale);
    if (faces.empty()) return std::nullopt;
    DetectedFace face = std::move(faces.front());
    face.points = fit(image, face.box);  // the same pixels tracking with landmarks_in uses
    return face;
  }

  // dlib rounds every landmark to a whole pixel; on a 90 px face that is a 3 % step in
  // mouth opening. So small faces are fitted on a bilinear ×k enlargement of the region
  // around the box (the predictor is scale-invariant) and mapped back with sub-pixel
  // precision. The margin keeps every pixel the regression trees sample inside the crop.
  Landmarks fit(const cv::Mat& image, const cv::Rect& box) const {
    const int factor = std::clamp(kFitFaceSize / std::max(box.width, box.height), 1, 8);
    const cv::Rect margin_box(box.x - box.width / 2, box.y - box.height / 2, box.width * 2,
                              box.height * 2);
    const cv::Rect region = margin_box & cv::Rect(0, 0, image.cols, image.rows);
    if (factor == 1 || region.empty()) return fit_in_place(image, box, {0, 0}, 1);
    // Grey first: a third of the pixels to enlarge, and the predictor reads intensity only.
    cv::Mat enlarged;
    cv::resize(to_grey(image(region)), enlarged, cv::Size(), factor, factor, cv::INTER_LINEAR);
    const cv::Rect scaled_box((box.x - region.x) * factor, (box.y - region.y) * factor,
                              box.width * factor, box.height * factor);
    return fit_in_place(enlarged, scaled_box, region.tl(), factor);
  }

  // Fits in `image` and maps a point u back by (u + 0.5) / factor - 0.5 + origin, which is
  // the inverse of cv::resize's pixel-centre convention.
  Landmarks fit_in_place(const cv::Mat& image, const cv::Rect& box, cv::Point origin,
                         int factor) const {
    const dlib::rectangle rect(box.x, box.y, box.x + box.width - 1, box.y + box.height - 1);
    dlib::full_object_detection shape;
    if (image.type() == CV_8UC3) {
      dlib::cv_image<dlib::bgr_pixel> view(image);  // dlib reads the channel mean in place
      shape = predictor(view, rect);
    } else {
      const cv::Mat grey = to_grey(image);
      dlib::cv_image<unsigned char> view(grey);
      shape = predictor(view, rect);
    }
    Landmarks points = to_landmarks(shape);
    if (factor != 1) {
      const float f = static_cast<float>(factor);
      for (auto& p : points) {
        p.x = (p.x + 0.5f) / f - 0.5f + static_cast<float>(origin.x);
        p.y = (p.y + 0.5f) / f - 0.5f + static_cast<float>(origin.y);
      }
    }
    return points;
  }
};

FaceLandmarker::FaceLandmarker() : impl_(std::make_unique<Impl>()) {
  const std::filesystem::path path = model_path();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::engine_failed,
                "the face landmark model " + path.string() +
                    " is missing; install the Debian package libdlib-data (apt-get install "
                    "libdlib-data), or point SONIC_DLIB_MODEL at a copy of "
                    "shape_predictor_68_face_landmarks.dat");
  }
  try {
    dlib::deserialize(path.string()) >> impl_->predictor;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::engine_failed, "cannot read the face landmark model " + path.string() +
                                              " (" + e.what() +
                                              "); reinstall the Debian package libdlib-data");
  }
  if (impl_->predictor.num_parts() != 68) {
    throw Error(ErrorCode::engine_failed,
                "the face landmark model " + path.string() + " has " +
                    std::to_string(impl_->predictor.num_parts()) +
                    " points, not the 68 of shape_predictor_68_face_landmarks.dat (libdlib-data)");
  }
  // One detector ready up front, so the first detect() does not pay for building it.
  impl_->detectors.give_back(std::make_unique<dlib::frontal_face_detector>(dlib::get_frontal_face_detector()));
}

FaceLandmarker::~FaceLandmarker() = default;

FaceLandmarker& FaceLandmarker::shared() {
  static FaceLandmarker instance;  // C++ guarantees one thread constructs it; a throw retries
  return instance;
}

std::optional<DetectedFace> FaceLandmarker::detect(const cv::Mat& bgr) const {
  if (bgr.empty()) return std::nullopt;
  return impl_->detect_in(bgr, cv::Rect(0, 0, bgr.cols, bgr.rows), whole_picture_scale(bgr.size()));
}

std::optional<DetectedFace> FaceLandmarker::detect_near(const cv::Mat& bgr,
                                                        const cv::Rect& around) const {
  if (bgr.empty() || around.width <= 0 || around.height <= 0) return std::nullopt;
  const int size = std::max(around.width, around.height);
  const int margin = size * 3 / 4;
  const cv::Rect region = cv::Rect(around.x - margin, around.y - margin, around.width + 2 * margin,
                                   around.height + 2 * margin) &
                          cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (region.width < 8 || region.height < 8) return std::nullopt;
  // The HOG window is 80 px: bring the expected face to ~100 px, so faces from 0.8× to
  // 2.5× the expected size are found in a scan of a ~250 px image.
  const double scale = std::clamp(kNearFaceSize / size, 0.1, 4.0);
  return impl_->detect_in(bgr, region, scale);
}

Landmarks FaceLandmarker::landmarks_in(const cv::Mat& bgr, const cv::Rect& box) const {
  if (bgr.empty()) throw Error(ErrorCode::internal, "landmarks_in: empty image");
  if (box.width <= 0 || box.height <= 0) {
    throw Error(ErrorCode::invalid_param, "the face box must have a positive width and height",
                "face_box");
  }
  return impl_->fit(bgr, box);
}

std::vector<DetectedFace> FaceLandmarker::detect_all(const cv::Mat& bgr) const {
  std::vector<DetectedFace> faces;
  if (bgr.empty()) return faces;
  const cv::Mat grey = to_grey(bgr);
  // The cascade (faces only it sees: drawn, stylised, or under HOG's smallest window) scans
  // on a thread of its own while HOG scans on this one: on two cores the two overlap. Small
  // pictures are scanned by HOG at twice their size (faces from ~40 px), so there the cascade
  // looks for faces of 1/12 of the shorter side and up (a drawn face is rarely small); large
  // ones are scanned by HOG at their own size or smaller (from 80 px), so there the cascade
  // goes down to 1/24 of the shorter side, into what HOG cannot see. (Its cost grows fast
  // with smaller windows: ~1.5× from 1/12 to 1/24.)
  const auto& cascade = CascadeFaceDetector::shared();
  std::vector<CascadeFace> cascade_faces;
  std::exception_ptr cascade_error;
  std::thread cascade_scan;
  if (cascade.available()) {
    const int min_side = std::max(24, std::min(bgr.cols, bgr.rows) / (whole_picture_scale(bgr.size()) > 1.0 ? 12 : 24));
    // min_side by value: this block ends while the thread still runs.
    cascade_scan = std::thread([&, min_side] {
      try {
        cascade_faces = cascade.detect(grey, min_side);
      } catch (...) {
        cascade_error = std::current_exception();
      }
    });
  }
  try {
    faces = impl_->scan(bgr, cv::Rect(0, 0, bgr.cols, bgr.rows), whole_picture_scale(bgr.size()));
  } catch (...) {
    if (cascade_scan.joinable()) cascade_scan.join();
    throw;
  }
  if (cascade_scan.joinable()) cascade_scan.join();
  if (cascade_error) std::rethrow_exception(cascade_error);
  // A cascade face HOG also has is dropped; the others count only with an eye in them (the
  // face cascade alone also fires on collars, helmets and folds).
  for (const CascadeFace& c : cascade_faces) {
    const cv::Rect box = cascade_to_dlib_box(c.box);
    const bool known = std::any_of(faces.begin(), faces.end(), [&](const DetectedFace& f) { return overlap(f.box, box) > 0.4; });
    if (known || cascade.find_eyes(grey, c.box).empty()) continue;
    DetectedFace face;
    face.box = box;
    face.detector = "cascade";
    face.confidence = 0.45 * (1.0 - std::exp(-c.neighbours / 12.0));
    faces.push_back(std::move(face));
  }
  for (DetectedFace& face : faces) {
    const DetectedFace fitted = fit_face(bgr, face.box);
    face.points = fitted.points;
    face.fit_confidence = fitted.fit_confidence;
    face.box_layout = fitted.box_layout;
  }
  std::stable_sort(faces.begin(), faces.end(),
                   [](const DetectedFace& a, const DetectedFace& b) { return a.box.area() > b.box.area(); });
  return faces;
}

DetectedFace FaceLandmarker::fit_face(const cv::Mat& bgr, const cv::Rect& box) const {
  DetectedFace face;
  face.box = box;
  face.points = landmarks_in(bgr, box);
  // The drawn mouth is looked for only on a drawn face (see landmark_check.h).
  const auto mouth = is_drawn(bgr, box) ? find_mouth_line(bgr, box) : std::nullopt;
  face.fit_confidence = fit_confidence(face.points, box, mouth);
  if (face.fit_confidence < kMinFitConfidence) {
    face.points = box_layout(box, mouth ? mouth : find_mouth_line(bgr, box), CascadeFaceDetector::shared().find_eyes(to_grey(bgr), box));
    face.box_layout = true;
  }
  return face;
}

double mouth_opening(const Landmarks& p) {
  const double width = distance(p[48], p[54]);
  if (width <= 1e-6) return 0.0;
  const double gap =
      (distance(p[61], p[67]) + distance(p[62], p[66]) + distance(p[63], p[65])) / 3.0;
  return gap / width;
}

double eye_aspect_ratio(const Landmarks& p) {
  const auto eye = [&p](int first) {
    const double width = distance(p[first], p[first + 3]);
    if (width <= 1e-6) return 0.0;
    return (distance(p[first + 1], p[first + 5]) + distance(p[first + 2], p[first + 4])) /
           (2.0 * width);
  };
  return (eye(36) + eye(42)) / 2.0;
}

}  // namespace sonic::face
