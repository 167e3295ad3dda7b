// The faces of a picture, remembered by the picture's sha256. The same avatar is animated
// again and again (and checked with the face route before its jobs), and finding its faces
// is the one step whose cost grows with the photo (up to ~0.3 s on 12 megapixels), so the
// result of FaceLandmarker::detect_all is kept for the last kFaceCacheEntries pictures.
//
// Process-wide, thread-safe (one mutex, held only to look up and insert, never while
// detecting: two first requests for the same picture may both detect, and the second
// result replaces the first, which is identical). Entries are a few kB (boxes and 68
// points per face), so the bound is on the count. The key is the sha256 of the picture's
// file bytes (util/sha256.h); the caller passes the decoded picture of exactly those bytes.
#pragma once

#include <cstddef>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "face/landmarks.h"

namespace sonic::face {

constexpr std::size_t kFaceCacheEntries = 64;

// detect_all(bgr) for the picture whose file bytes hash to `image_sha256`, from the cache
// when it is there. Largest face first; empty when there is none (also remembered).
std::shared_ptr<const std::vector<DetectedFace>> faces_in_picture(const std::string& image_sha256, const cv::Mat& bgr);

struct FaceCacheStats {
  std::size_t hits = 0;
  std::size_t misses = 0;
  std::size_t entries = 0;
};
FaceCacheStats face_cache_stats();
void clear_face_cache();  // for tests and benchmarks that want a cold start

}  // namespace sonic::face
