// Image decoding to what the engine works on: 8-bit, 3-channel BGR, upright.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>

#include "media/limits.h"

namespace sonic::media {

// Probes first (so the pixel limit is checked before decoding), then decodes PNG, JPEG or
// WebP; applies EXIF orientation; converts grey, alpha (composited on white), 16-bit and
// CMYK to 8-bit BGR. Throws Error like probe_image, and unreadable_media when the pixels
// cannot be decoded (e.g. a truncated file).
cv::Mat decode_image(const std::filesystem::path& path, const MediaLimits& limits = {});

}  // namespace sonic::media
