// Image decoding: PNG, JPEG or WebP → 8-bit, 3-channel BGR, upright.
//
// Design: probe_image runs first, so the type is known from the bytes and the pixel limit
// was checked from the header before OpenCV allocates anything. The file is then checked
// for completeness, because libjpeg pads a truncated JPEG with grey and reports success
// (OpenCV only prints "Premature end of JPEG file"): we refuse a JPEG without its EOI
// marker, a PNG without IEND, and a WebP shorter than its RIFF size says.
//
// JPEG is decoded with IMREAD_COLOR, which applies the EXIF orientation and converts grey
// and CMYK to BGR. PNG and WebP are decoded with IMREAD_UNCHANGED so alpha and 16-bit
// samples reach us intact; alpha is composited on white (a transparent background should
// look like paper, not black), 16-bit is scaled to 8-bit, and their EXIF orientation (PNG
// eXIf chunk, WebP EXIF chunk), which OpenCV does not apply in this mode, is applied here.
#include "media/image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "media/probe.h"
#include "util/error.h"

namespace sonic::media {
namespace fs = std::filesystem;

namespace {

constexpr const char* kImageField = "image";

[[noreturn]] void unreadable(std::string_view format, std::string_view what) {
  throw Error(
      ErrorCode::unreadable_media,
      fmt::format("The {} image cannot be decoded ({}); save it again and retry.", format, what),
      kImageField);
}

std::vector<std::uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorCode::unreadable_media, "The image file could not be opened.", kImageField);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in),
                                   std::istreambuf_iterator<char>());
}

// Offset of the first start-of-scan marker, found by walking the header segments (a
// naive search could stop inside an EXIF thumbnail, which is a whole JPEG of its own).
std::size_t jpeg_first_scan(const std::vector<std::uint8_t>& bytes) {
  std::size_t pos = 2;
  while (pos + 4 <= bytes.size()) {
    if (bytes[pos] != 0xFF) break;
    std::uint8_t code = bytes[pos + 1];
    if (code == 0xFF) {
      ++pos;
      continue;
    }
    if (code == 0xDA) return pos;
    if (code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7)) {
      pos += 2;
      continue;
    }
    pos += 2 + ((std::size_t{bytes[pos + 2]} << 8) | bytes[pos + 3]);
  }
  unreadable("jpeg", "the file is truncated before its image data");
}

// Refuses files whose end is missing, which decoders would otherwise fill in silently.
void require_complete(const std::vector<std::uint8_t>& bytes, ImageFormat format) {
  auto contains_from = [&](std::string_view needle, std::size_t from) {
    auto same = [](std::uint8_t byte, char wanted) {
      return byte == static_cast<std::uint8_t>(wanted);
    };
    from = std::min(from, bytes.size());
    return std::search(bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.end(),
                       needle.begin(), needle.end(), same) != bytes.end();
  };
  switch (format) {
    case ImageFormat::jpeg:
      // Entropy-coded data never holds FF D9 (a data FF is always followed by 00), so an
      // end marker after the first scan is the image's own. Data may follow it (some
      // cameras append a second preview image), so it need not be the last two bytes.
      if (!contains_from("\xFF\xD9", jpeg_first_scan(bytes))) {
        unreadable("jpeg", "the file is truncated: no end marker");
      }
      break;
    case ImageFormat::png:
      if (!contains_from("IEND", bytes.size() > 64 ? bytes.size() - 64 : 0)) {
        unreadable("png", "the file is truncated: no IEND chunk");
      }
      break;
    case ImageFormat::webp: {
      std::uint32_t riff_size =
          bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (std::uint32_t{bytes[7]} << 24);
      if (bytes.size() < std::uint64_t{riff_size} + 8) unreadable("webp", "the file is truncated");
      break;
    }
  }
}

// The Orientation tag (0x0112) of a TIFF-structured EXIF block; 1 (as stored) when absent
// or unreadable. Damaged EXIF must not cost the user their picture, so nothing throws.
int exif_orientation(const std::uint8_t* data, std::size_t size) {
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) data += 6, size -= 6;  // optional prefix
  if (size < 8) return 1;
  bool little = data[0] == 'I' && data[1] == 'I';
  if (!little && !(data[0] == 'M' && data[1] == 'M')) return 1;
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    return little ? data[at] | (data[at + 1] << 8) : (data[at] << 8) | data[at + 1];
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  std::size_t ifd = u32(4);
  if (ifd + 2 > size) return 1;
  std::uint32_t entries = u16(ifd);
  for (std::uint32_t i = 0; i < entries; ++i) {
    std::size_t entry = ifd + 2 + 12 * std::size_t{i};
    if (entry + 12 > size) return 1;
    if (u16(entry) == 0x0112 && u16(entry + 2) == 3) {  // Orientation, SHORT
      std::uint32_t value = u16(entry + 8);
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
  }
  return 1;
}

// OpenCV applies EXIF orientation only to JPEG, and only when it may convert the pixels,
// which would lose alpha and 16-bit; so PNG (eXIf chunk) and WebP (EXIF chunk) are read here.
int container_orientation(const std::vector<std::uint8_t>& bytes, ImageFormat format) {
  auto be32 = [&](std::size_t at) {
    return (std::uint32_t{bytes[at]} << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) |
           bytes[at + 3];
  };
  auto le32 = [&](std::size_t at) {
    return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) |
           (std::uint32_t{bytes[at + 3]} << 24);
  };
  if (format == ImageFormat::png) {
    for (std::size_t pos = 8; pos + 8 <= bytes.size();) {
      std::size_t length = be32(pos);
      if (length > bytes.size() - pos - 8) break;
      if (std::memcmp(&bytes[pos + 4], "eXIf", 4) == 0)
        return exif_orientation(&bytes[pos + 8], length);
      if (std::memcmp(&bytes[pos + 4], "IEND", 4) == 0) break;
      pos += 12 + length;
    }
  } else if (format == ImageFormat::webp) {
    for (std::size_t pos = 12; pos + 8 <= bytes.size();) {
      std::size_t length = le32(pos + 4);
      if (length > bytes.size() - pos - 8) break;
      if (std::memcmp(&bytes[pos], "EXIF", 4) == 0)
        return exif_orientation(&bytes[pos + 8], length);
      pos += 8 + length + (length & 1);
    }
  }
  return 1;
}

// The same turns OpenCV applies to JPEG (EXIF orientation values 1–8).
void apply_orientation(cv::Mat& image, int orientation) {
  switch (orientation) {
    case 2:
      cv::flip(image, image, 1);
      break;
    case 3:
      cv::flip(image, image, -1);
      break;
    case 4:
      cv::flip(image, image, 0);
      break;
    case 5:
      cv::transpose(image, image);
      break;
    case 6:
      cv::transpose(image, image), cv::flip(image, image, 1);
      break;
    case 7:
      cv::transpose(image, image), cv::flip(image, image, -1);
      break;
    case 8:
      cv::transpose(image, image), cv::flip(image, image, 0);
      break;
    default:
      break;
  }
}

// Any depth and channel count OpenCV hands back → 8-bit BGR.
cv::Mat to_bgr8(cv::Mat image) {
  if (image.depth() == CV_16U) {
    image.convertTo(image, CV_8U, 1.0 / 257.0);
  } else if (image.depth() == CV_32F) {
    image.convertTo(image, CV_8U, 255.0);
  } else if (image.depth() != CV_8U) {
    image.convertTo(image, CV_8U);
  }
  switch (image.channels()) {
    case 1: {
      cv::Mat bgr;
      cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
      return bgr;
    }
    case 2: {  // grey + alpha
      std::vector<cv::Mat> planes;
      cv::split(image, planes);
      cv::Mat bgra;
      cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, bgra);
      image = bgra;
      [[fallthrough]];
    }
    case 4: {
      // Composite on white: out = colour × a + 255 × (1 − a).
      cv::Mat bgr(image.rows, image.cols, CV_8UC3);
      for (int y = 0; y < image.rows; ++y) {
        const auto* in = image.ptr<cv::Vec4b>(y);
        auto* out = bgr.ptr<cv::Vec3b>(y);
        for (int x = 0; x < image.cols; ++x) {
          int alpha = in[x][3];
          for (int c = 0; c < 3; ++c)
            out[x][c] =
                static_cast<std::uint8_t>((in[x][c] * alpha + 255 * (255 - alpha) + 127) / 255);
        }
      }
      return bgr;
    }
    case 3:
      return image;
    default:
      unreadable("image", fmt::format("{} colour channels", image.channels()));
  }
}

}  // namespace

cv::Mat decode_image(const fs::path& path, const MediaLimits& limits) {
  ImageInfo info = probe_image(path, limits);
  std::vector<std::uint8_t> bytes = read_all(path);
  require_complete(bytes, info.format);
  std::string_view name = format_name(info.format);

  cv::Mat image;
  try {
    int flags = info.format == ImageFormat::jpeg ? cv::IMREAD_COLOR : cv::IMREAD_UNCHANGED;
    image = cv::imdecode(bytes, flags);
  } catch (const cv::Exception& e) {
    unreadable(name, e.err);
  }
  if (image.empty()) unreadable(name, "the decoder rejected the pixel data");
  // A decoder that disagrees with the header about the size is not to be trusted.
  bool upright = image.cols == info.width && image.rows == info.height;
  bool turned = image.cols == info.height && image.rows == info.width;
  if (!upright && !turned) unreadable(name, "the decoded size does not match the header");
  if (info.format != ImageFormat::jpeg)
    apply_orientation(image, container_orientation(bytes, info.format));
  return to_bgr8(std::move(image));
}

}  // namespace sonic::media
