// The output frame: shape, placement, size, and the framed still picture (see framing.h).
#include "engine/framing.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "util/error.h"

namespace sonic::engine {
namespace {

// Where a frame of length `frame` starts so that [lo, hi) lies inside it when it can, else
// so that it is centred on [lo, hi); `wanted` is the start it would have on its own.
double keep_inside(double wanted, double frame, double lo, double hi) {
  if (frame >= hi - lo) return std::clamp(wanted, hi - frame, lo);
  return (lo + hi - frame) / 2.0;
}

std::string size_text(cv::Size size) { return fmt::format("{}×{}", size.width, size.height); }

}  // namespace

FramingOptions FramingOptions::of(const GenerationParams& params, const media::MediaLimits& limits) {
  FramingOptions options;
  options.aspect_ratio = params.aspect_ratio;
  options.expand_ratio = params.expand_ratio;
  options.min_resolution = params.min_resolution;
  options.full_frame = params.full_frame;
  options.max_full_frame_side = limits.max_full_frame_side;
  return options;
}

int round_to_even(double value) { return std::max(2, 2 * static_cast<int>(std::lround(value / 2.0))); }

double aspect_ratio_value(const std::string& aspect_ratio, cv::Size picture_size) {
  if (aspect_ratio == "1:1") return 1.0;
  if (aspect_ratio == "9:16") return 9.0 / 16.0;
  if (aspect_ratio == "4:5") return 4.0 / 5.0;
  if (aspect_ratio == "16:9") return 16.0 / 9.0;
  if (aspect_ratio == "original")
    return static_cast<double>(std::max(1, picture_size.width)) / std::max(1, picture_size.height);
  throw Error(ErrorCode::invalid_param,
              fmt::format("'aspect_ratio' must be one of {}; got \"{}\".", fmt::join(aspect_ratio_names(), ", "), aspect_ratio),
              "aspect_ratio");
}

Framing plan_framing(cv::Size picture, const cv::Rect& face_box, const FramingOptions& options) {
  Framing f;
  f.full_frame = options.full_frame;
  const int cap = std::max(2, options.max_full_frame_side);
  const double margin = std::max(0.0, options.expand_ratio);
  const int side = std::max(2, static_cast<int>(std::lround(std::max(face_box.width, face_box.height) * (1.0 + 2.0 * margin))));
  const double cx = face_box.x + face_box.width / 2.0, cy = face_box.y + face_box.height / 2.0;
  f.face_region = cv::Rect(static_cast<int>(std::lround(cx - side / 2.0)), static_cast<int>(std::lround(cy - side / 2.0)), side, side);

  if (options.full_frame) {
    const int longer = std::max(picture.width, picture.height);
    if (longer > cap) {
      const double s = static_cast<double>(cap) / longer;
      f.crop = cv::Rect(0, 0, picture.width, picture.height);
      f.output_size = cv::Size(std::max(2, static_cast<int>(std::floor(picture.width * s)) & ~1),
                               std::max(2, static_cast<int>(std::floor(picture.height * s)) & ~1));
      f.notes.push_back({"full_frame", fmt::format("the picture is {}; the whole-picture output was scaled down to {} "
                                                   "(its longer side is at most {} pixels on this server)",
                                                   size_text(picture), size_text(f.output_size), cap)});
    } else {
      f.output_size = cv::Size(std::max(2, picture.width & ~1), std::max(2, picture.height & ~1));
      f.crop = cv::Rect(cv::Point(0, 0), f.output_size);  // the odd last row or column is dropped
    }
    f.scale_x = static_cast<double>(f.output_size.width) / f.crop.width;
    f.scale_y = static_cast<double>(f.output_size.height) / f.crop.height;
    f.notes.push_back({"min_resolution", "full_frame keeps the picture's own size"});
    if (options.aspect_ratio != "1:1") f.notes.push_back({"aspect_ratio", "full_frame keeps the picture's own shape"});
    return f;
  }

  // The smallest frame of the requested shape that holds the face region.
  const double ratio = aspect_ratio_value(options.aspect_ratio, picture);
  double width = ratio <= 1.0 ? side : side * ratio;
  double height = ratio <= 1.0 ? side / ratio : side;
  const double fit = std::min({1.0, picture.width / width, picture.height / height});
  if (fit < 1.0) {
    const cv::Size wanted(static_cast<int>(std::lround(width)), static_cast<int>(std::lround(height)));
    width *= fit;
    height *= fit;
    const cv::Size got(std::max(2, static_cast<int>(std::floor(width + 1e-6))), std::max(2, static_cast<int>(std::floor(height + 1e-6))));
    f.notes.push_back({options.aspect_ratio == "1:1" ? "expand_ratio" : "aspect_ratio",
                       fmt::format("the picture ({}) is too small for a {} frame with expand_ratio {} around the face "
                                   "({} needed); the frame shrank to {} of the picture, so the margin around the face is smaller",
                                   size_text(picture), options.aspect_ratio, options.expand_ratio, size_text(wanted), size_text(got))});
  }
  const int w = std::clamp(static_cast<int>(std::floor(width + 1e-6)), 2, std::max(2, picture.width));
  const int h = std::clamp(static_cast<int>(std::floor(height + 1e-6)), 2, std::max(2, picture.height));

  // Placement: centred on the face across; eyes a third of the way down, as long as the
  // face region (else the face box, else the face's centre) stays in the frame.
  const double eye_y = options.eye_y.value_or(face_box.y + 0.4 * face_box.height);
  const cv::Rect& region = f.face_region;
  const bool region_fits = w >= region.width && h >= region.height;
  const cv::Rect& keep = region_fits ? region : face_box;
  double x = keep_inside(cx - w / 2.0, w, keep.x, keep.x + keep.width);
  double y = keep_inside(eye_y - h / 3.0, h, keep.y, keep.y + keep.height);
  x = std::clamp(x, 0.0, static_cast<double>(std::max(0, picture.width - w)));
  y = std::clamp(y, 0.0, static_cast<double>(std::max(0, picture.height - h)));
  f.crop = cv::Rect(std::clamp(static_cast<int>(std::lround(x)), 0, std::max(0, picture.width - w)),
                    std::clamp(static_cast<int>(std::lround(y)), 0, std::max(0, picture.height - h)), w, h);

  // Output size: the shorter side is min_resolution, the longer follows the shape.
  const int shorter = round_to_even(options.min_resolution);
  const double long_over_short = std::max(ratio, 1.0 / ratio);
  int longer = round_to_even(shorter * long_over_short);
  int short_side = shorter;
  if (longer > cap) {
    const cv::Size wanted = ratio >= 1.0 ? cv::Size(longer, shorter) : cv::Size(shorter, longer);
    longer = cap & ~1;
    short_side = round_to_even(longer / long_over_short);
    const cv::Size got = ratio >= 1.0 ? cv::Size(longer, short_side) : cv::Size(short_side, longer);
    f.notes.push_back({"min_resolution", fmt::format("a {} frame at min_resolution {} would be {}; it was scaled down to {} "
                                                     "(no side longer than {} pixels on this server)",
                                                     options.aspect_ratio, options.min_resolution, size_text(wanted),
                                                     size_text(got), cap)});
  }
  f.output_size = ratio >= 1.0 ? cv::Size(longer, short_side) : cv::Size(short_side, longer);
  f.scale_x = static_cast<double>(f.output_size.width) / f.crop.width;
  f.scale_y = static_cast<double>(f.output_size.height) / f.crop.height;
  return f;
}

cv::Point2f Framing::to_output(cv::Point2f p) const {
  // Pixel centres map onto pixel centres, as cv::resize maps them.
  return {static_cast<float>((p.x - crop.x + 0.5) * scale_x - 0.5), static_cast<float>((p.y - crop.y + 0.5) * scale_y - 0.5)};
}

cv::Rect Framing::to_output(const cv::Rect& r) const {
  const cv::Point2f a = to_output(cv::Point2f(static_cast<float>(r.x) - 0.5f, static_cast<float>(r.y) - 0.5f));
  const cv::Point2f b = to_output(cv::Point2f(static_cast<float>(r.x + r.width) - 0.5f, static_cast<float>(r.y + r.height) - 0.5f));
  const int x0 = static_cast<int>(std::floor(a.x + 0.5f)), y0 = static_cast<int>(std::floor(a.y + 0.5f));
  const int x1 = static_cast<int>(std::ceil(b.x + 0.5f)), y1 = static_cast<int>(std::ceil(b.y + 0.5f));
  return {x0, y0, x1 - x0, y1 - y0};
}

cv::Mat framed_picture(const cv::Mat& picture, const Framing& framing) {
  const cv::Rect inside = framing.crop & cv::Rect(0, 0, picture.cols, picture.rows);
  if (inside != framing.crop)
    throw Error(ErrorCode::internal, "framed_picture: the crop " + size_text(framing.crop.size()) + " is not inside the picture");
  if (framing.crop.size() == framing.output_size) return picture(framing.crop).clone();
  cv::Mat out;
  const bool larger = framing.scale_x * framing.scale_y >= 1.0;
  cv::resize(picture(framing.crop), out, framing.output_size, 0, 0, larger ? cv::INTER_CUBIC : cv::INTER_AREA);
  return out;
}

face::Landmarks to_output(const face::Landmarks& points, const Framing& framing) {
  face::Landmarks out;
  for (size_t i = 0; i < points.size(); ++i) out[i] = framing.to_output(points[i]);
  return out;
}

}  // namespace sonic::engine
