// A small LRU of detect_all results keyed by the picture's sha256 (see face_cache.h).
#include "face/face_cache.h"

#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace sonic::face {
namespace {

using Faces = std::shared_ptr<const std::vector<DetectedFace>>;

class FaceCache {
 public:
  Faces find(const std::string& key) {
    const std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);  // now the most recent
    return it->second->second;
  }

  void insert(const std::string& key, Faces faces) {
    const std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(faces);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(faces));
    index_[key] = order_.begin();
    while (order_.size() > kFaceCacheEntries) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  FaceCacheStats stats() {
    const std::lock_guard lock(mutex_);
    return {hits_, misses_, order_.size()};
  }

  void clear() {
    const std::lock_guard lock(mutex_);
    order_.clear();
    index_.clear();
    hits_ = misses_ = 0;
  }

 private:
  std::mutex mutex_;
  std::list<std::pair<std::string, Faces>> order_;  // most recent first; guarded
  std::unordered_map<std::string, std::list<std::pair<std::string, Faces>>::iterator> index_;  // guarded
  std::size_t hits_ = 0, misses_ = 0;  // guarded
};

FaceCache& cache() {
  static FaceCache instance;
  return instance;
}

}  // namespace

Faces faces_in_picture(const std::string& image_sha256, const cv::Mat& bgr) {
  if (!image_sha256.empty())
    if (Faces cached = cache().find(image_sha256)) return cached;
  auto faces = std::make_shared<const std::vector<DetectedFace>>(FaceLandmarker::shared().detect_all(bgr));
  if (!image_sha256.empty()) cache().insert(image_sha256, faces);
  return faces;
}

FaceCacheStats face_cache_stats() { return cache().stats(); }

void clear_face_cache() { cache().clear(); }

}  // namespace sonic::face
