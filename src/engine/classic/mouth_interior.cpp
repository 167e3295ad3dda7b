// The opened mouth's interior: lip curves, cavity, teeth, tongue (see mouth_interior.h).
#include "engine/classic/mouth_interior.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "engine/classic/pixel_ops.h"

namespace sonic::engine::classic {
namespace {

constexpr float kFeather = 1.5f;        // px: the opening's edge fades into the lips over this
constexpr float kMinExponent = 0.45f, kMaxExponent = 1.3f;  // bounds of a lip curve's γ (sample_curve)
constexpr double kTeethHeight = 0.13;   // upper incisors' crowns (~10 mm of the ~63 mm between the eyes)
constexpr double kWideFrom = 0.2, kWideFull = 0.36;  // opening / width where lower teeth and tongue fade in
constexpr double kToothAngle = 0.3;     // radians of the dental arch one front tooth covers

double mean_inner_gap(const std::vector<cv::Point2f>& p) {
  return (cv::norm(p[67] - p[61]) + cv::norm(p[66] - p[62]) + cv::norm(p[65] - p[63])) / 3.0;
}

MouthInterior::Axes axes_of(const cv::Point2f& left, const cv::Point2f& right) {
  MouthInterior::Axes a;
  a.origin = left;
  const cv::Point2f d = right - left;
  a.length = std::max(1.0f, std::hypot(d.x, d.y));
  a.u = d * (1.0f / a.length);
  a.v = cv::Point2f(-a.u.y, a.u.x);
  return a;
}

// Samples one lip's inner contour (corner, three points, corner; in the mouth's axes) every
// pixel along x. The shape is that of a parted lip, not a polyline: on each side of the
// middle point (62 or 66, depth Y) the lip follows y = Y·(1 − t²)^γ, t running from 0 at the
// middle to 1 at the corner, with γ chosen so the curve passes through that side's point
// (61/67 or 63/65). γ < 1 leaves the corner at a steep angle and rounds off towards the middle
// (γ = 1 is a parabola); both sides meet level at the middle, so the curve is smooth there,
// and it never wiggles between the points as a spline through them can.
void sample_curve(std::array<cv::Point2f, 5> knots, float length, MouthInterior::Curve& curve) {
  const float middle_x = std::clamp(knots[2].x, 0.2f * length, 0.8f * length);
  const float depth = knots[2].y;
  const auto exponent = [&](const cv::Point2f& point, float half) {
    const float t = std::clamp(std::abs(point.x - middle_x) / std::max(1.0f, half), 0.05f, 0.95f);
    const float ratio = point.y / depth;
    if (std::abs(depth) < 0.5f || ratio <= 0.02f || ratio >= 0.999f) return 1.0f;
    return std::clamp(std::log(ratio) / std::log(1.0f - t * t), kMinExponent, kMaxExponent);
  };
  const float left_gamma = exponent(knots[1], middle_x), right_gamma = exponent(knots[3], length - middle_x);
  const int n = static_cast<int>(std::ceil(length)) + 2;
  curve.y.resize(static_cast<size_t>(n));
  curve.to_normal.resize(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    const float x = std::min(static_cast<float>(k), length);
    const bool left = x < middle_x;
    const float half = std::max(1.0f, left ? middle_x : length - middle_x);
    const float t = std::min(1.0f, std::abs(x - middle_x) / half), gamma = left ? left_gamma : right_gamma;
    const float base = std::max(0.0f, 1.0f - t * t);
    const float y = depth * std::pow(base, gamma);
    // dy/dx = Y·γ·(1 − t²)^(γ−1)·(−2t)·dt/dx; steep at the corner, capped for the normal.
    const float slope = base > 1e-4f ? depth * gamma * std::pow(base, gamma - 1.0f) * (-2.0f * t) * (left ? -1.0f : 1.0f) / half : 0.0f;
    curve.y[static_cast<size_t>(k)] = y;
    curve.to_normal[static_cast<size_t>(k)] = 1.0f / std::sqrt(1.0f + std::min(slope * slope, 100.0f));
  }
}

void lip_curves(const MouthInterior::Axes& a, const cv::Point2f* p, MouthInterior::Curve& upper, MouthInterior::Curve& lower) {
  sample_curve({a.local(p[60]), a.local(p[61]), a.local(p[62]), a.local(p[63]), a.local(p[64])}, a.length, upper);
  sample_curve({a.local(p[60]), a.local(p[67]), a.local(p[66]), a.local(p[65]), a.local(p[64])}, a.length, lower);
}

// The photo's whites: the brightest quarter of the pixels inside both eyes (the iris and
// lashes are darker). Falls back to an off-white at the face's own brightness.
cv::Vec3d eye_whites(const cv::Mat& still, const face::Landmarks& p) {
  std::vector<std::pair<double, cv::Vec3d>> pixels;
  for (int first : {36, 42}) {
    std::vector<cv::Point> eye;
    for (int i = first; i < first + 6; ++i) eye.emplace_back(cvRound(p[static_cast<size_t>(i)].x), cvRound(p[static_cast<size_t>(i)].y));
    const cv::Rect box = cv::boundingRect(eye) & cv::Rect(0, 0, still.cols, still.rows);
    if (box.empty()) continue;
    cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
    for (auto& q : eye) q -= box.tl();
    cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(255));
    for (int y = 0; y < box.height; ++y)
      for (int x = 0; x < box.width; ++x)
        if (mask.at<uchar>(y, x)) {
          const cv::Vec3b& c = still.at<cv::Vec3b>(y + box.y, x + box.x);
          const cv::Vec3d colour(c[0], c[1], c[2]);
          pixels.emplace_back(luminance(colour), colour);
        }
  }
  if (pixels.size() >= 8) {
    std::sort(pixels.begin(), pixels.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    cv::Vec3d sum(0, 0, 0);
    const size_t n = std::max<size_t>(2, pixels.size() / 4);
    for (size_t i = 0; i < n; ++i) sum += pixels[i].second;
    return sum * (1.0 / static_cast<double>(n));
  }
  std::vector<cv::Point> face;
  for (int i = 0; i <= 16; ++i) face.emplace_back(cvRound(p[static_cast<size_t>(i)].x), cvRound(p[static_cast<size_t>(i)].y));
  const cv::Rect box = cv::boundingRect(face) & cv::Rect(0, 0, still.cols, still.rows);
  const double light = box.empty() ? 150.0 : luminance(cv::Vec3d(cv::mean(still(box)).val));
  return cv::Vec3d(214, 222, 228) * std::clamp(light / 150.0 + 0.3, 0.6, 1.1);
}

}  // namespace

float MouthInterior::Curve::at(float x, float* normal) const {
  const float clamped = std::clamp(x, 0.0f, static_cast<float>(y.size() - 2));
  const size_t k = static_cast<size_t>(clamped);
  const float f = clamped - static_cast<float>(k);
  if (normal) *normal = to_normal[k] + f * (to_normal[k + 1] - to_normal[k]);
  return y[k] + f * (y[k + 1] - y[k]);
}

MouthInterior::MouthInterior(const cv::Mat& still, const face::Landmarks& rest, double interocular, const cv::Rect& region)
    : still_(still), region_(region), interocular_(interocular) {
  // Lip colour: the ring between the outer and the inner lip contour.
  std::vector<cv::Point> outer, inner;
  for (int i = 48; i <= 59; ++i) outer.emplace_back(cvRound(rest[static_cast<size_t>(i)].x), cvRound(rest[static_cast<size_t>(i)].y));
  for (int i = 60; i <= 67; ++i) inner.emplace_back(cvRound(rest[static_cast<size_t>(i)].x), cvRound(rest[static_cast<size_t>(i)].y));
  cv::Mat mask = cv::Mat::zeros(still.size(), CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outer}, cv::Scalar(255));
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(0));
  const cv::Scalar lips = cv::countNonZero(mask) > 0 ? cv::mean(still, mask) : cv::Scalar(90, 90, 160);
  lip_colour_ = cv::Vec3d(lips[0], lips[1], lips[2]);
  whites_ = eye_whites(still, rest);
  // Teeth are a little darker and warmer than the whites of the eyes beside them.
  teeth_colour_ = cv::Vec3d(whites_[0] * 0.88, whites_[1] * 0.93, whites_[2] * 0.95);

  const std::vector<cv::Point2f> rest_points(rest.begin(), rest.end());
  rest_gap_ = mean_inner_gap(rest_points);
  rest_axes_ = axes_of(rest[60], rest[64]);
  lip_curves(rest_axes_, rest.data(), rest_upper_, rest_lower_);

  // Teeth in the photo: the lips are parted by a few pixels and what is between them is
  // clearly lighter than the lips. Then the opened mouth shows those teeth.
  cv::Mat opening = cv::Mat::zeros(still.size(), CV_8U);
  cv::fillPoly(opening, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(255));
  if (cv::countNonZero(opening) >= 12 && rest_gap_ >= std::max(2.0, 0.025 * interocular)) {
    const cv::Scalar between = cv::mean(still, opening);
    photo_teeth_ = luminance(cv::Vec3d(between[0], between[1], between[2])) > luminance(lip_colour_) + 25;
    // Drawn lower teeth then take the photo's own teeth colour (its lighter half).
    if (photo_teeth_) {
      cv::Mat grey;
      cv::cvtColor(still, grey, cv::COLOR_BGR2GRAY);
      const double middle = cv::mean(grey, opening)[0];
      cv::Mat lighter = opening & (grey > middle);
      if (cv::countNonZero(lighter) >= 4) teeth_colour_ = cv::Vec3d(cv::mean(still, lighter).val) * 0.95;
    }
  }
}

void MouthInterior::paint(const std::vector<cv::Point2f>& moved, cv::Mat& out) {
  prepare(moved);
  paint_rows(out, 0, out.rows);
}

void MouthInterior::prepare(const std::vector<cv::Point2f>& moved) {
  frame_.active = false;
  const double d = interocular_;
  const double extra = (mean_inner_gap(moved) - rest_gap_) / d;
  // With the photo's teeth the interior at the photo's own opening is the photo itself, so
  // it can take over at once; drawn teeth fade in over the first 5 % of the eye distance.
  const double strength = smoothstep01(extra / (photo_teeth_ ? 0.01 : 0.05));
  if (strength <= 0.01) return;
  frame_.active = true;
  frame_.strength = strength;

  const Axes axes = frame_.axes = axes_of(moved[60], moved[64]);
  lip_curves(axes, moved.data(), upper_, lower_);
  const float length = axes.length;
  const float centre_x = length / 2;
  const float centre_low = frame_.centre_low = lower_.at(centre_x);
  frame_.centre_open = std::max(0.0f, centre_low - upper_.at(centre_x));
  // Wide openings show the lower teeth and the tongue.
  frame_.wide = smoothstep01((frame_.centre_open / length - kWideFrom) / (kWideFull - kWideFrom));
  frame_.teeth_height = kTeethHeight * d;
  frame_.scale_rest = rest_axes_.length / length;

  // The pixels the opening may cover: its curves' extent in the picture, plus the feather.
  float top = 0, bottom = 0;
  for (size_t k = 0; k < upper_.y.size(); ++k) {
    top = std::min(top, upper_.y[k]);
    bottom = std::max(bottom, lower_.y[k]);
  }
  std::vector<cv::Point2f> corners = {axes.picture(-2, top - 2), axes.picture(length + 2, top - 2), axes.picture(-2, bottom + 2),
                                      axes.picture(length + 2, bottom + 2)};
  frame_.box = cv::boundingRect(corners) & region_;
}

void MouthInterior::paint_rows(cv::Mat& out, int row_begin, int row_end) const {
  if (!frame_.active) return;
  const Axes& axes = frame_.axes;
  const float length = axes.length, centre_low = frame_.centre_low, centre_open = frame_.centre_open;
  const double strength = frame_.strength, wide = frame_.wide, teeth_height = frame_.teeth_height, scale_rest = frame_.scale_rest;
  const cv::Rect box = frame_.box & cv::Rect(0, 0, out.cols, out.rows) & cv::Rect(0, row_begin, out.cols, row_end - row_begin);

  const cv::Vec3d rim = lip_colour_ * 0.42, deep = lip_colour_ * 0.17;
  const cv::Vec3d tongue_colour = lip_colour_.mul(cv::Vec3d(0.72, 0.74, 0.9));
  for (int py = box.y; py < box.y + box.height; ++py) {
    auto* row = out.ptr<cv::Vec3b>(py);
    for (int px = box.x; px < box.x + box.width; ++px) {
      const cv::Point2f local = axes.local(cv::Point2f(static_cast<float>(px), static_cast<float>(py)));
      const float x = local.x, y = local.y;
      if (x < -1 || x > length + 1) continue;
      float upper_normal = 1, lower_normal = 1;
      const float u = upper_.at(x, &upper_normal), l = lower_.at(x, &lower_normal);
      // Anti-aliased coverage from the perpendicular distance to the nearer lip.
      const float inside = std::min((y - u) * upper_normal, (l - y) * lower_normal);
      const double coverage = std::clamp(inside / kFeather + 0.5f, 0.0f, 1.0f);
      if (coverage <= 0) continue;
      const double e = std::clamp(2.0 * x / length - 1.0, -1.0, 1.0), e2 = e * e;
      const double below = std::max(0.0f, y - u), above = std::max(0.0f, l - y), open = std::max(0.0f, l - u);

      // Cavity: the lip colour at the rim, a warm dark at the back, darker at the corners.
      const double depth = smoothstep01(std::min(below, above) / std::max(2.0, 0.3 * open));
      cv::Vec3d colour = (rim * (1 - depth) + deep * depth) * (1.0 - 0.35 * e2);
      if (wide > 0) {
        // Tongue: a low dome behind the lower teeth, narrower than the mouth, mostly in the
        // mouth's shadow; its top fades into the dark rather than ending in an edge.
        const double across = e / 0.7;
        const double dome = wide * 0.4 * centre_open * std::sqrt(std::max(0.0, 1 - across * across));
        const double over = y - (centre_low - dome);  // > 0 below the dome's top
        const double in_tongue = smoothstep01(over / (0.4 * dome + 2.0)) * wide * (dome > 0.5 ? 1.0 : 0.0);
        const double lit = 0.42 + 0.22 * smoothstep01(over / std::max(1.0, dome));
        colour = colour * (1 - in_tongue) + tongue_colour * (lit * in_tongue);
        // Lower teeth: the front ones only, just above the lower lip, their edges catching
        // the light and their roots in the lip's shadow.
        const double front = std::max(0.0, 1.0 - e2 / 0.25);
        const double low = wide * 0.4 * teeth_height * std::sqrt(front);
        const double in_low = smoothstep01((low - above) / 1.8 + 0.5) * smoothstep01((wide - 0.3) / 0.7) * smoothstep01(front / 0.4);
        const double low_shade = (1.0 - 0.3 * e2) * (0.7 + 0.3 * smoothstep01(above / std::max(1.0, low)));
        colour = colour * (1 - in_low) + teeth_colour_ * (low_shade * in_low);
      }
      if (photo_teeth_) {
        // The photo's teeth, read at the same depth under their lip and the same fraction of
        // the mouth's width.
        const float rx = static_cast<float>(x * scale_rest);
        const double rest_top = rest_upper_.at(rx), rest_bottom = rest_lower_.at(rx);
        const double rest_depth = std::max(0.0, rest_bottom - rest_top);
        const double side = std::min(1.0, e2);
        // (Towards the corners the lower teeth hide behind the lip; wide open, the drawn lower
        // teeth above take over from the photo's thin strip.)
        const double upper_share = 0.6 * rest_depth;
        const double lower_share = 0.35 * rest_depth * std::max(0.0, 1.0 - 1.6 * side) * (1.0 - wide);
        // The upper teeth's edge follows the smile arc: their band is stretched a little in the
        // middle and shortened at the sides, so it curves down where the lips would leave
        // a straight edge.
        const double arc = 0.85 + 0.35 * (1.0 - e2);
        const double upper_height = upper_share * arc;
        const double up = upper_height - below, down = lower_share - above;
        if (up > 0 || down > 0) {
          const bool from_upper = up > 0 && (down <= 0 || up / std::max(1e-6, upper_height) >= down / std::max(1e-6, lower_share));
          const double edge = from_upper ? up : down;
          const cv::Point2f at = from_upper ? rest_axes_.picture(rx, static_cast<float>(rest_top + below / arc))
                                            : rest_axes_.picture(rx, static_cast<float>(rest_bottom - above));
          const cv::Vec3d teeth = sample_bgr(still_, at.x, at.y) * (from_upper ? 1.0 : 0.85);
          const double weight = smoothstep01(edge / 1.6);
          const double shade = (0.78 + 0.22 * smoothstep01(edge / 3.0)) * (1.0 - 0.3 * side * side);
          colour = teeth * (shade * weight) + colour * (1.0 - weight);
        }
      } else {
        // Drawn upper teeth: hanging from the upper lip along its curve, shorter towards the
        // corners, lit from the front, in the lip's shadow at the top. The arch seen from the
        // front: equal teeth at equal angles round it (asin of the position across), each a
        // little brighter in its middle, their edges rounded so the row's lower edge is a
        // soft scallop, not a line.
        const double angle = std::asin(std::clamp(e, -0.98, 0.98));
        const double between = 0.5 + 0.5 * std::cos(2 * std::numbers::pi * angle / kToothAngle);  // 1 where two teeth meet
        const double height = teeth_height * (1.0 - 0.55 * e2) * (1.0 - 0.07 * between);
        const double in_teeth = smoothstep01((height - below) / 1.3 + 0.5);
        if (in_teeth > 0) {
          const double shadow = 0.5 + 0.5 * smoothstep01(below / std::max(1.5, 0.45 * height));
          const double falloff = 1.0 - 0.85 * e2 * e2;  // bright in front, into the dark at the corners
          const double rounding = 1.0 - 0.07 * between;
          const double tip = 1.0 - 0.1 * smoothstep01((below - 0.7 * height) / (0.3 * height));
          const cv::Vec3d teeth = teeth_colour_ * (shadow * falloff * rounding * tip);
          colour = colour * (1 - in_teeth) + teeth * in_teeth;
        }
      }
      blend_into(row[px], colour, coverage * strength);
    }
  }
}

}  // namespace sonic::engine::classic
