// OpenCV Haar cascade behind CascadeFaceDetector (see cascade_detector.h).
#include "face/cascade_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <string>

#include "face/object_pool.h"
#include "util/log.h"

namespace sonic::face {
namespace {

constexpr const char* kDefaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml";
constexpr int kScanLongSide = 640;  // px: the cascade scans a copy at most this long
constexpr int kMinNeighbours = 3;
constexpr double kScaleStep = 1.1;  // 1.05 finds a few more small drawn faces at twice the cost
constexpr double kEyeScanFaceWidth = 120.0;  // px: find_eyes scans the face at this width
constexpr double kEyeScaleStep = 1.05;       // finer: on a 120 px face it costs little

std::filesystem::path cascade_path() {
  const char* env = std::getenv("SONIC_FACE_CASCADE");
  return std::filesystem::path(env && *env ? env : kDefaultCascade);
}

std::unique_ptr<cv::CascadeClassifier> load_cascade(const std::filesystem::path& path) {
  auto classifier = std::make_unique<cv::CascadeClassifier>();
  try {
    if (!classifier->load(path.string())) return nullptr;
  } catch (const cv::Exception&) {
    return nullptr;
  }
  return classifier;
}

}  // namespace

struct CascadeFaceDetector::Impl {
  std::filesystem::path path = cascade_path();
  std::filesystem::path eye_path = path.parent_path() / "haarcascade_eye.xml";
  bool available = false;
  ObjectPool<cv::CascadeClassifier> classifiers{[this] { return load_cascade(path); }};
  ObjectPool<cv::CascadeClassifier> eye_classifiers{[this] { return load_cascade(eye_path); }};
};

CascadeFaceDetector::CascadeFaceDetector() : impl_(std::make_unique<Impl>()) {
  auto first = load_cascade(impl_->path);
  auto first_eyes = load_cascade(impl_->eye_path);
  impl_->available = first != nullptr && first_eyes != nullptr;
  if (impl_->available) {
    impl_->classifiers.give_back(std::move(first));
    impl_->eye_classifiers.give_back(std::move(first_eyes));
  } else {
    log::warn("the face cascade for stylised faces is missing; install the Debian package opencv-data "
              "(or point SONIC_FACE_CASCADE at haarcascade_frontalface_alt2.xml, with haarcascade_eye.xml "
              "beside it). Photos still work.",
              {{"path", impl_->path.string()}, {"eye_path", impl_->eye_path.string()}});
  }
}

CascadeFaceDetector::~CascadeFaceDetector() = default;

CascadeFaceDetector& CascadeFaceDetector::shared() {
  static CascadeFaceDetector instance;
  return instance;
}

bool CascadeFaceDetector::available() const { return impl_->available; }

std::vector<CascadeFace> CascadeFaceDetector::detect(const cv::Mat& grey, int min_side) const {
  std::vector<CascadeFace> faces;
  if (!impl_->available || grey.empty() || grey.type() != CV_8UC1) return faces;
  const int long_side = std::max(grey.cols, grey.rows);
  const double scale = long_side > kScanLongSide ? static_cast<double>(kScanLongSide) / long_side : 1.0;
  cv::Mat scanned = grey;
  if (scale < 1.0) cv::resize(grey, scanned, cv::Size(), scale, scale, cv::INTER_AREA);
  // Not histogram-equalised: on a drawing's few flat colours that spreads the background and
  // loses the face (measured on the drawn test faces); dim photos are dlib's anyway.
  const int min_scanned = std::max(24, static_cast<int>(std::lround(min_side * scale)));
  std::vector<cv::Rect> boxes;
  std::vector<int> neighbours;
  {
    ObjectPool<cv::CascadeClassifier>::Lease lease(impl_->classifiers);
    if (!lease.get()) return faces;
    lease.get()->detectMultiScale(scanned, boxes, neighbours, kScaleStep, kMinNeighbours, 0, cv::Size(min_scanned, min_scanned));
  }
  for (size_t i = 0; i < boxes.size(); ++i) {
    const cv::Rect& b = boxes[i];
    const cv::Rect box = cv::Rect(static_cast<int>(std::lround(b.x / scale)), static_cast<int>(std::lround(b.y / scale)),
                                  static_cast<int>(std::lround(b.width / scale)), static_cast<int>(std::lround(b.height / scale))) &
                         cv::Rect(0, 0, grey.cols, grey.rows);
    faces.push_back({box, i < neighbours.size() ? neighbours[i] : kMinNeighbours});
  }
  std::sort(faces.begin(), faces.end(), [](const CascadeFace& a, const CascadeFace& b) { return a.box.area() > b.box.area(); });
  return faces;
}

std::vector<cv::Rect> CascadeFaceDetector::find_eyes(const cv::Mat& grey, const cv::Rect& face_box) const {
  std::vector<cv::Rect> eyes;
  const cv::Rect upper = cv::Rect(face_box.x, face_box.y, face_box.width, face_box.height * 6 / 10) & cv::Rect(0, 0, grey.cols, grey.rows);
  if (!impl_->available || grey.type() != CV_8UC1 || upper.width < 8 || upper.height < 8) return eyes;
  // The face at 120 px wide: eyes are then 25–40 px, where the eye cascade is at its best,
  // whether the face was 40 px or 400.
  const double f = kEyeScanFaceWidth / upper.width;
  cv::Mat scanned;
  cv::resize(grey(upper), scanned, cv::Size(), f, f, f > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
  std::vector<cv::Rect> found;
  {
    ObjectPool<cv::CascadeClassifier>::Lease lease(impl_->eye_classifiers);
    if (!lease.get()) return eyes;
    lease.get()->detectMultiScale(scanned, found, kEyeScaleStep, kMinNeighbours, 0, cv::Size(12, 12), cv::Size(50, 50));
  }
  for (const cv::Rect& e : found)
    eyes.emplace_back(upper.x + static_cast<int>(std::lround(e.x / f)), upper.y + static_cast<int>(std::lround(e.y / f)),
                      static_cast<int>(std::lround(e.width / f)), static_cast<int>(std::lround(e.height / f)));
  std::sort(eyes.begin(), eyes.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.x < b.x; });
  return eyes;
}

}  // namespace sonic::face
