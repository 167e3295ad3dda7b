// Piecewise-affine warp + mouth interior (see face_warper.h).
#include "engine/classic/face_warper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

namespace sonic::engine::classic {
namespace {

double mean_inner_gap(const std::vector<cv::Point2f>& p) {
  return (cv::norm(p[67] - p[61]) + cv::norm(p[66] - p[62]) + cv::norm(p[65] - p[63])) / 3.0;
}

double smoothstep01(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

}  // namespace

FaceWarper::FaceWarper(cv::Mat still, const face::Landmarks& landmarks, const cv::Rect& region)
    : still_(std::move(still)), mesh_(landmarks, region) {
  // Identity to start with; every frame then rewrites every pixel a triangle covers.
  map_xy_.create(region.size(), CV_16SC2);
  map_fraction_ = cv::Mat::zeros(region.size(), CV_16UC1);
  for (int y = 0; y < region.height; ++y) {
    auto* row = map_xy_.ptr<cv::Vec2s>(y);
    for (int x = 0; x < region.width; ++x)
      row[x] = cv::Vec2s(cv::saturate_cast<short>(x + region.x), cv::saturate_cast<short>(y + region.y));
  }
  // Lip colour: the ring between the outer and the inner lip contour.
  std::vector<cv::Point> outer, inner;
  for (int i = 48; i <= 59; ++i) outer.emplace_back(cvRound(landmarks[static_cast<size_t>(i)].x), cvRound(landmarks[static_cast<size_t>(i)].y));
  for (int i = 60; i <= 67; ++i) inner.emplace_back(cvRound(landmarks[static_cast<size_t>(i)].x), cvRound(landmarks[static_cast<size_t>(i)].y));
  cv::Mat mask = cv::Mat::zeros(still_.size(), CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outer}, cv::Scalar(255));
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{inner}, cv::Scalar(0));
  const cv::Scalar lips = cv::countNonZero(mask) > 0 ? cv::mean(still_, mask) : cv::Scalar(90, 90, 160);
  lip_colour_ = cv::Vec3d(lips[0], lips[1], lips[2]);
  rest_mouth_gap_ = mean_inner_gap(mesh_.rest_points());
}

void FaceWarper::fill_maps(const std::vector<cv::Point2f>& moved) {
  const cv::Rect& region = mesh_.region();
  constexpr double kSubpixel = cv::INTER_TAB_SIZE;  // 32 steps per pixel
  const auto& rest = mesh_.rest_points();
  for (const cv::Vec3i& tri : mesh_.triangles()) {
    const cv::Point2f d0 = moved[static_cast<size_t>(tri[0])], d1 = moved[static_cast<size_t>(tri[1])],
                      d2 = moved[static_cast<size_t>(tri[2])];
    const cv::Point2f s0 = rest[static_cast<size_t>(tri[0])], s1 = rest[static_cast<size_t>(tri[1])],
                      s2 = rest[static_cast<size_t>(tri[2])];
    // Barycentric coordinates of the destination triangle, then source = Σ λ_k s_k.
    const double det = static_cast<double>(d1.x - d0.x) * (d2.y - d0.y) - static_cast<double>(d2.x - d0.x) * (d1.y - d0.y);
    if (std::abs(det) < 1e-9) continue;
    const int x_min = std::max(region.x, static_cast<int>(std::floor(std::min({d0.x, d1.x, d2.x}))));
    const int x_max = std::min(region.x + region.width - 1, static_cast<int>(std::ceil(std::max({d0.x, d1.x, d2.x}))));
    const int y_min = std::max(region.y, static_cast<int>(std::floor(std::min({d0.y, d1.y, d2.y}))));
    const int y_max = std::min(region.y + region.height - 1, static_cast<int>(std::ceil(std::max({d0.y, d1.y, d2.y}))));
    // λ1 = a1·x + b1·y + c1, λ2 = a2·x + b2·y + c2 (affine in the pixel position).
    const double a1 = (d2.y - d0.y) / det, b1 = -(d2.x - d0.x) / det;
    const double a2 = -(d1.y - d0.y) / det, b2 = (d1.x - d0.x) / det;
    const double c1 = -(a1 * d0.x + b1 * d0.y), c2 = -(a2 * d0.x + b2 * d0.y);
    const double ux = s1.x - s0.x, uy = s1.y - s0.y, vx = s2.x - s0.x, vy = s2.y - s0.y;
    // Source position is affine in the pixel position: sx = sx_x·x + sx_y·y + sx_c (same for sy).
    const double sx_x = a1 * ux + a2 * vx, sx_y = b1 * ux + b2 * vx, sx_c = s0.x + c1 * ux + c2 * vx;
    const double sy_x = a1 * uy + a2 * vy, sy_y = b1 * uy + b2 * vy, sy_c = s0.y + c1 * uy + c2 * vy;
    constexpr double eps = 1e-3;  // a hair of overlap, so shared edges never leave a crack
    for (int y = y_min; y <= y_max; ++y) {
      // The span of x where λ1 ≥ 0, λ2 ≥ 0 and λ1 + λ2 ≤ 1: three half-lines in x.
      double lo = x_min, hi = x_max;
      const auto clip = [&](double slope, double offset) {  // keep slope·x + offset ≥ -eps
        if (std::abs(slope) < 1e-12) {
          if (offset < -eps) hi = lo - 1;
        } else if (slope > 0) {
          lo = std::max(lo, (-eps - offset) / slope);
        } else {
          hi = std::min(hi, (-eps - offset) / slope);
        }
      };
      clip(a1, b1 * y + c1);
      clip(a2, b2 * y + c2);
      clip(-(a1 + a2), 1.0 - (b1 + b2) * y - c1 - c2);
      const int x0 = std::max(x_min, static_cast<int>(std::ceil(lo)));
      const int x1 = std::min(x_max, static_cast<int>(std::floor(hi)));
      if (x0 > x1) continue;
      auto* xy = map_xy_.ptr<cv::Vec2s>(y - region.y) + (x0 - region.x);
      auto* fraction = map_fraction_.ptr<ushort>(y - region.y) + (x0 - region.x);
      double sx = (sx_x * x0 + sx_y * y + sx_c) * kSubpixel, sy = (sy_x * x0 + sy_y * y + sy_c) * kSubpixel;
      const double step_x = sx_x * kSubpixel, step_y = sy_x * kSubpixel;
      for (int x = x0; x <= x1; ++x, sx += step_x, sy += step_y, ++xy, ++fraction) {
        const int ix = cvRound(sx), iy = cvRound(sy);
        *xy = cv::Vec2s(cv::saturate_cast<short>(ix >> cv::INTER_BITS), cv::saturate_cast<short>(iy >> cv::INTER_BITS));
        *fraction = static_cast<ushort>(((iy & (cv::INTER_TAB_SIZE - 1)) << cv::INTER_BITS) | (ix & (cv::INTER_TAB_SIZE - 1)));
      }
    }
  }
}

void FaceWarper::render(const MouthControls& mouth, const MotionFrame& motion, cv::Mat& out) {
  last_points_ = mesh_.moved_points(mouth, motion);
  const auto& rest = mesh_.rest_points();
  bool moved_any = false;
  for (size_t i = 0; i < rest.size() && !moved_any; ++i) moved_any = cv::norm(last_points_[i] - rest[i]) >= 1e-3;
  // Only the pixels outside the warp region need the still copied (full_frame); in crop
  // mode the remap below writes every pixel.
  if (!moved_any || mesh_.region() != cv::Rect(cv::Point(0, 0), still_.size()) || out.size() != still_.size() ||
      out.type() != still_.type())
    still_.copyTo(out);
  if (!moved_any) return;
  fill_maps(last_points_);
  cv::Mat target = out(mesh_.region());
  cv::remap(still_, target, map_xy_, map_fraction_, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  paint_mouth_interior(last_points_, out);
}

void FaceWarper::paint_mouth_interior(const std::vector<cv::Point2f>& moved, cv::Mat& out) const {
  const double d = mesh_.interocular();
  const double extra = (mean_inner_gap(moved) - rest_mouth_gap_) / d;
  const double strength = smoothstep01(extra / 0.05);
  if (strength <= 0.01) return;

  // The opening's outline: a Catmull-Rom curve through the inner-lip points, so the
  // opening is round, not an octagon.
  std::vector<cv::Point2f> ring;
  for (int i = 60; i <= 67; ++i) ring.push_back(moved[static_cast<size_t>(i)]);
  std::vector<cv::Point> outline;
  constexpr int kSteps = 6;
  for (size_t k = 0; k < ring.size(); ++k) {
    const cv::Point2f p0 = ring[(k + ring.size() - 1) % ring.size()], p1 = ring[k], p2 = ring[(k + 1) % ring.size()],
                      p3 = ring[(k + 2) % ring.size()];
    for (int s = 0; s < kSteps; ++s) {
      const float t = static_cast<float>(s) / kSteps, t2 = t * t, t3 = t2 * t;
      const cv::Point2f p = 0.5f * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3);
      outline.emplace_back(cvRound(p.x * 16), cvRound(p.y * 16));  // 4 bits of sub-pixel precision
    }
  }
  cv::Rect box = cv::boundingRect(outline);
  box = cv::Rect(box.x / 16 - 2, box.y / 16 - 2, box.width / 16 + 5, box.height / 16 + 5) & mesh_.region();
  if (box.width < 2 || box.height < 2) return;
  cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
  for (auto& p : outline) p -= cv::Point(box.x * 16, box.y * 16);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(255), cv::LINE_AA, 4);
  cv::GaussianBlur(mask, mask, cv::Size(3, 3), 0.8);

  // Upper edge of the opening at column x: the upper inner lip 60–61–62–63–64 (a polyline).
  const std::array<cv::Point2f, 5> upper = {moved[60], moved[61], moved[62], moved[63], moved[64]};
  const auto upper_y = [&](double x) {
    if (x <= upper.front().x) return static_cast<double>(upper.front().y);
    for (size_t k = 0; k + 1 < upper.size(); ++k)
      if (x <= upper[k + 1].x) {
        const double t = (x - upper[k].x) / std::max(1e-3, static_cast<double>(upper[k + 1].x - upper[k].x));
        return upper[k].y + t * (upper[k + 1].y - upper[k].y);
      }
    return static_cast<double>(upper.back().y);
  };

  const cv::Point2f centre = (moved[62] + moved[66]) * 0.5f;
  const double half_width = std::max(1.0, 0.5 * cv::norm(moved[64] - moved[60]));
  const double half_height = std::max(1.0, 0.5 * cv::norm(moved[66] - moved[62]));
  const double teeth_height = std::min(0.09 * d, 0.55 * 2 * half_height);
  const cv::Vec3d teeth_colour(196, 204, 214);
  const cv::Vec3d cavity_colour = lip_colour_ * 0.42;
  const cv::Vec3d tongue_colour = lip_colour_ * 0.72;
  for (int y = 0; y < box.height; ++y) {
    const uchar* m = mask.ptr<uchar>(y);
    auto* row = out.ptr<cv::Vec3b>(y + box.y);
    for (int x = 0; x < box.width; ++x) {
      const double alpha = m[x] / 255.0 * strength;
      if (alpha <= 0) continue;
      const double px = x + box.x, py = y + box.y;
      auto& pixel = row[x + box.x];
      const cv::Vec3d warped(pixel[0], pixel[1], pixel[2]);
      const double u = (px - centre.x) / half_width, v = (py - centre.y) / half_height;
      // Cavity: darker towards the centre-back, lighter near the lips.
      const double radius = std::min(1.0, std::sqrt(u * u + v * v));
      cv::Vec3d colour = cavity_colour * (0.45 + 0.55 * radius * radius);
      // Tongue: a soft lighter mound rising from the lower lip.
      const double tongue = smoothstep01((v - 0.25 - 0.35 * u * u) / 0.5);
      colour = colour * (1 - 0.7 * tongue) + tongue_colour * (0.7 * tongue) * (0.6 + 0.4 * v);
      // Upper teeth: a light band under the upper lip, shorter at the corners, shaded in the
      // lip's shadow and mixed with the warped pixels so it is never flat.
      const double below_lip = py - upper_y(px);
      const double band = teeth_height * (1.0 - 0.45 * std::min(1.0, u * u));
      const double in_teeth = smoothstep01((band - below_lip) / 1.5 + 0.5);
      if (in_teeth > 0) {
        const double shade = (1.0 - 0.45 * std::min(1.0, u * u)) * (0.7 + 0.3 * smoothstep01(below_lip / 2.0)) *
                             (0.85 + 0.15 * (1.0 - std::clamp(below_lip / std::max(1.0, band), 0.0, 1.0)));
        // Faint gaps between the incisors.
        const double phase = std::abs(std::sin(std::numbers::pi * (px - centre.x) / (0.11 * d) + std::numbers::pi / 2));
        const double gap = 1.0 - 0.12 * smoothstep01((0.25 - phase) / 0.25);
        const cv::Vec3d teeth = teeth_colour * (0.8 * shade * gap) + warped * 0.2;
        colour = teeth * in_teeth + colour * (1.0 - in_teeth);
      }
      const cv::Vec3d blended = warped * (1.0 - alpha) + colour * alpha;
      pixel = cv::Vec3b(cv::saturate_cast<uchar>(blended[0]), cv::saturate_cast<uchar>(blended[1]),
                        cv::saturate_cast<uchar>(blended[2]));
    }
  }
}

}  // namespace sonic::engine::classic
