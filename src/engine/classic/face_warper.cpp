// Piecewise-affine warp and closed lids (see face_warper.h); the mouth interior is mouth_interior.cpp.
#include "engine/classic/face_warper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/classic/pixel_ops.h"
#include "engine/classic/warp_span.h"

namespace sonic::engine::classic {
namespace {

// y of a lid polyline (points in increasing x) at column x; flat beyond its ends.
double polyline_y(const std::array<cv::Point2f, 5>& line, double x) {
  if (x <= line.front().x) return line.front().y;
  for (size_t k = 0; k + 1 < line.size(); ++k)
    if (x <= line[k + 1].x) {
      const double t = (x - line[k].x) / std::max(1e-3, static_cast<double>(line[k + 1].x - line[k].x));
      return line[k].y + t * (line[k + 1].y - line[k].y);
    }
  return line.back().y;
}

// An anti-aliased coverage mask of a polygon given in 1/16 pixels, in a box around it
// (clipped to `region`). Empty when the box is smaller than min_width × min_height.
struct PolygonMask {
  cv::Rect box;
  cv::Mat mask;  // CV_8U, box.size(), 255 = inside
};
PolygonMask polygon_mask(std::vector<cv::Point> outline16, const cv::Rect& region, int min_width, int min_height) {
  PolygonMask out;
  cv::Rect box = cv::boundingRect(outline16);
  box = cv::Rect(box.x / 16 - 2, box.y / 16 - 2, box.width / 16 + 5, box.height / 16 + 5) & region;
  if (box.width < min_width || box.height < min_height) return out;
  out.box = box;
  out.mask = cv::Mat::zeros(box.size(), CV_8U);
  for (auto& p : outline16) p -= cv::Point(box.x * 16, box.y * 16);
  cv::fillPoly(out.mask, std::vector<std::vector<cv::Point>>{outline16}, cv::Scalar(255), cv::LINE_AA, 4);
  return out;
}



}  // namespace

FaceWarper::FaceWarper(cv::Mat still, const face::Landmarks& landmarks, const cv::Rect& region)
    : still_(std::move(still)), mesh_(landmarks, region), mouth_(still_, landmarks, mesh_.interocular(), region) {}

void FaceWarper::warp_triangles(const std::vector<cv::Point2f>& moved, cv::Mat& out, int row_begin, int row_end) const {
  const cv::Rect& region = mesh_.region();
  constexpr double kSubpixel = kWarpSteps;
  const auto& rest = mesh_.rest_points();
  const WarpSource source{still_.data, still_.step[0], still_.cols - 1, still_.rows - 1};
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
    const int y_min = std::max({region.y, row_begin, static_cast<int>(std::floor(std::min({d0.y, d1.y, d2.y})))});
    const int y_max = std::min({region.y + region.height - 1, row_end - 1, static_cast<int>(std::ceil(std::max({d0.y, d1.y, d2.y})))});
    if (y_min > y_max) continue;
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
      const double sx0 = (sx_x * x0 + sx_y * y + sx_c) * kSubpixel, sy0 = (sy_x * x0 + sy_y * y + sy_c) * kSubpixel;
      warp_span(source, {sx0, sy0, sx_x * kSubpixel, sy_x * kSubpixel}, x1 - x0 + 1, out.ptr<uchar>(y) + 3 * x0);
    }
  }
}

void FaceWarper::render(const MouthControls& mouth, const MotionFrame& motion, cv::Mat& out) {
  last_points_ = mesh_.moved_points(mouth, motion);
  // Every pixel starts as the still: outside the warp region (full_frame) that is the
  // picture itself, and inside it the rare pixel no triangle reaches keeps its place.
  out.create(still_.size(), still_.type());
  const auto& rest = mesh_.rest_points();
  bool moved_any = false;
  for (size_t i = 0; i < rest.size() && !moved_any; ++i) moved_any = cv::norm(last_points_[i] - rest[i]) >= 1e-3;
  if (!moved_any) {
    still_.copyTo(out);
    return;
  }
  // Bands of rows, warped and then painted (the mouth's interior) at once on all cores: the
  // renderer's share of the work is about as large as the encoder's, so splitting it lets
  // both cores finish together (bench/engine_bench). Eight bands, taken by whichever thread
  // is free, so the mouth's rows, which cost more, are shared too: at 1024 px 1.56-1.58 s a
  // 10 s job against 1.61-1.79 s with two bands and the mouth after them (alternating runs).
  constexpr int kBands = 8;
  const int rows = still_.rows;
  mouth_.prepare(last_points_);
  cv::parallel_for_(
      cv::Range(0, kBands),
      [&](const cv::Range& bands) {
        for (int band = bands.start; band < bands.end; ++band) {
          const int begin = rows * band / kBands, end = rows * (band + 1) / kBands;
          still_.rowRange(begin, end).copyTo(out.rowRange(begin, end));
          warp_triangles(last_points_, out, begin, end);
          mouth_.paint_rows(out, begin, end);
        }
      },
      kBands);
  if (motion.blink > 0.5) paint_closed_lids(last_points_, motion.blink, out);
}

void FaceWarper::paint_closed_lids(const std::vector<cv::Point2f>& moved, double blink, cv::Mat& out) const {
  // Near closure the eye between the lids is squeezed into a sliver a pixel or two high
  // whose white still shows as a light line, which reads as a squint. The upper lid covers
  // it: each column of the sliver takes the colour of the lid skin just above it in this
  // frame, fading in over the last part of the blink.
  const double cover = smoothstep01((blink - 0.5) / 0.4);
  for (int first : {36, 42}) {
    std::vector<cv::Point> outline;
    for (int i = first; i < first + 6; ++i)
      outline.emplace_back(cvRound(moved[static_cast<size_t>(i)].x * 16), cvRound(moved[static_cast<size_t>(i)].y * 16));
    auto [box, mask] = polygon_mask(std::move(outline), mesh_.region(), 2, 1);
    if (mask.empty()) continue;
    // The squeezed white reaches a pixel past the outline (resampling): cover that rim too.
    cv::dilate(mask, mask, cv::Mat::ones(3, 3, CV_8U));
    // Upper lid line (corner, 37, 38, corner) in x order, and how far above it the skin is.
    const std::array<cv::Point2f, 5> lid = {moved[static_cast<size_t>(first)], moved[static_cast<size_t>(first + 1)],
                                           (moved[static_cast<size_t>(first + 1)] + moved[static_cast<size_t>(first + 2)]) * 0.5f,
                                           moved[static_cast<size_t>(first + 2)], moved[static_cast<size_t>(first + 3)]};
    const double lift = std::max(2.0, 0.12 * cv::norm(lid.back() - lid.front()));
    for (int y = 0; y < box.height; ++y) {
      const uchar* m = mask.ptr<uchar>(y);
      auto* row = out.ptr<cv::Vec3b>(y + box.y);
      for (int x = 0; x < box.width; ++x) {
        const double alpha = m[x] / 255.0 * cover;
        if (alpha <= 0) continue;
        const double px = x + box.x;
        const cv::Vec3d skin = sample_bgr(out, px, polyline_y(lid, px) - lift);
        blend_into(row[x + box.x], skin, alpha);
      }
    }
  }
}

}  // namespace sonic::engine::classic
