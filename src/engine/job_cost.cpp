// The job cost bound and the budget check (see job_cost.h).
#include "engine/job_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "util/error.h"

namespace sonic::engine {
namespace {

int even_at_least_2(double value) { return std::max(2, 2 * static_cast<int>(std::floor(value / 2.0))); }
int even_rounded(double value) { return std::max(2, 2 * static_cast<int>(std::lround(value / 2.0))); }

double picture_ratio(int width, int height) {
  if (width <= 0 || height <= 0) return 1.0;
  return static_cast<double>(std::max(width, height)) / std::min(width, height);
}

// "9:16" → 16/9 (longer over shorter); nullopt for anything that is not W:H.
std::optional<double> ratio_of(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return std::nullopt;
  try {
    std::size_t used_w = 0, used_h = 0;
    double w = std::stod(text.substr(0, colon), &used_w);
    double h = std::stod(text.substr(colon + 1), &used_h);
    if (used_w != colon || used_h != text.size() - colon - 1 || !(w > 0) || !(h > 0)) return std::nullopt;
    return std::max(w, h) / std::min(w, h);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Longer side over shorter side of the crop-mode output, and whether it is wider than tall.
struct CropShape {
  double ratio = 1.0;
  bool landscape = false;
};

CropShape crop_shape(std::string_view aspect, int picture_width, int picture_height) {
  if (aspect.empty() || aspect == "1:1") return {};
  const double picture = picture_ratio(picture_width, picture_height);
  if (aspect == "original") return {picture, picture_width > picture_height};
  const std::string text(aspect);
  if (auto ratio = ratio_of(text)) {
    const auto colon = text.find(':');
    return {*ratio, std::stod(text.substr(0, colon)) > std::stod(text.substr(colon + 1))};
  }
  return {std::max(16.0 / 9.0, picture), false};  // a ratio this file does not know: the widest bound
}

std::string number(double value) {
  double rounded = std::round(value * 10) / 10;
  return rounded == std::floor(rounded) ? fmt::format("{:.0f}", rounded) : fmt::format("{:.1f}", rounded);
}

}  // namespace

JobCost estimate_job_cost(const GenerationParams& params, int picture_width, int picture_height,
                          double audio_seconds, const media::MediaLimits& limits) {
  // Read from the JSON so this file does not depend on whether this build's
  // GenerationParams has the field yet; absent (or null) = the square crop.
  const nlohmann::json recorded = params.to_json();
  const auto it = recorded.find("aspect_ratio");
  std::string aspect;
  if (it != recorded.end() && !it->is_null()) aspect = it->is_string() ? it->get<std::string>() : "?";
  return estimate_job_cost(params, aspect, picture_width, picture_height, audio_seconds, limits);
}

JobCost estimate_job_cost(const GenerationParams& params, std::string_view aspect_ratio, int picture_width,
                          int picture_height, double audio_seconds, const media::MediaLimits& limits) {
  JobCost cost;
  cost.duration_s = params.duration_s.value_or(std::max(0.0, audio_seconds));
  cost.frames = std::llround(cost.duration_s * params.fps);
  if (params.full_frame) {
    const int longer = std::max(picture_width, picture_height);
    const double scale = limits.max_full_frame_side > 0 && longer > limits.max_full_frame_side
                             ? static_cast<double>(limits.max_full_frame_side) / longer
                             : 1.0;
    cost.width = even_at_least_2(picture_width * scale);
    cost.height = even_at_least_2(picture_height * scale);
  } else {
    const CropShape shape = crop_shape(aspect_ratio, picture_width, picture_height);
    const int shorter = even_rounded(params.min_resolution);
    // Rounded up to even: a bound, never below what the framing makes.
    const int longer = std::max(shorter, 2 * static_cast<int>(std::ceil(shorter * shape.ratio / 2.0 - 1e-9)));
    cost.width = shape.landscape ? longer : shorter;
    cost.height = shape.landscape ? shorter : longer;
  }
  return cost;
}

void check_job_budget(const JobCost& cost, const GenerationParams& params, int picture_width, int picture_height,
                      double budget) {
  if (budget <= 0 || cost.megapixel_frames() <= budget) return;
  const double fits = budget / cost.megapixel_frames();  // < 1: the factor the job must shrink by
  const std::string size = fmt::format("This job would render {} frames of up to {}×{} px ({} megapixel-frames); "
                                       "the limit per job is {}. ",
                                       cost.frames, cost.width, cost.height, number(cost.megapixel_frames()),
                                       number(budget));
  auto refuse = [&](const char* field, const std::string& advice) {
    throw Error(ErrorCode::job_too_large, size + advice, field);
  };

  const int min_resolution = even_at_least_2(params.min_resolution * std::sqrt(fits));
  const int fps = static_cast<int>(std::floor(params.fps * fits));
  const double duration = std::floor(cost.duration_s * fits * 10) / 10;
  const std::string duration_now =
      params.duration_s ? number(cost.duration_s) + " s" : number(cost.duration_s) + " s, the recording's length";

  if (params.full_frame) {
    GenerationParams cropped = params;
    cropped.full_frame = false;
    const JobCost crop = estimate_job_cost(cropped, picture_width, picture_height, cost.duration_s, {});
    refuse("full_frame", crop.megapixel_frames() <= budget
                             ? fmt::format("Turn off full_frame (a {}×{} crop around the face fits), or send a "
                                           "smaller picture.",
                                           crop.width, crop.height)
                             : fmt::format("Turn off full_frame or send a smaller picture, and lower duration "
                                           "(now {}) or fps (now {}).",
                                           duration_now, params.fps));
  }
  if (params.min_resolution > 512 && min_resolution >= 256)
    refuse("min_resolution", fmt::format("Lower min_resolution to {} or less (it is {}), or lower fps or duration.",
                                         min_resolution, params.min_resolution));
  if (params.fps > 25 && fps >= 10)
    refuse("fps", fmt::format("Lower fps to {} or less (it is {}), or lower min_resolution or duration.", fps,
                              params.fps));
  if (duration >= 0.5)
    refuse("duration", fmt::format("Lower duration to {} s or less (it is {}), or lower min_resolution or fps.",
                                   number(duration), duration_now));
  refuse("min_resolution", fmt::format("Lower min_resolution (it is {}) and fps (it is {}).", params.min_resolution,
                                       params.fps));
}

}  // namespace sonic::engine
