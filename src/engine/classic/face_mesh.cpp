// Mesh construction (Delaunay) and per-frame point motion (see face_mesh.h). Displacements
// are written in the face's own axes and in interocular units, so they look the same for a
// tilted face, a small face and a large one.
#include "engine/classic/face_mesh.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "util/error.h"

namespace sonic::engine::classic {
namespace {

constexpr int kLandmarks = 68;
constexpr double kLipDrop = 0.19;  // lower-lip drop at jaw 1, interocular units

cv::Point2f mean_of(const face::Landmarks& p, int first, int last) {
  cv::Point2f s(0, 0);
  for (int i = first; i <= last; ++i) s += p[static_cast<size_t>(i)];
  return s * (1.0f / static_cast<float>(last - first + 1));
}

double signed_area(const cv::Point2f& a, const cv::Point2f& b, const cv::Point2f& c) {
  return 0.5 * (static_cast<double>(b.x - a.x) * (c.y - a.y) - static_cast<double>(b.y - a.y) * (c.x - a.x));
}

double smoothstep01(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

bool in_range(int i, int first, int last) { return i >= first && i <= last; }

}  // namespace

FaceMesh::FaceMesh(const face::Landmarks& lm, const cv::Rect& region) : region_(region) {
  const cv::Point2f left_eye = mean_of(lm, 36, 41), right_eye = mean_of(lm, 42, 47);
  const cv::Point2f eye_line = right_eye - left_eye;
  interocular_ = std::max(2.0, std::hypot(static_cast<double>(eye_line.x), static_cast<double>(eye_line.y)));
  axis_x_ = eye_line * static_cast<float>(1.0 / interocular_);
  axis_y_ = cv::Point2f(-axis_x_.y, axis_x_.x);  // image y grows downwards
  centre_ = mean_of(lm, 0, 67);
  const float d = static_cast<float>(interocular_);

  rest_.assign(lm.begin(), lm.end());
  head_weight_.assign(kLandmarks, 1.0);
  depth_.assign(kLandmarks, 0.55);
  for (int i = 0; i <= 16; ++i) depth_[static_cast<size_t>(i)] = 0.2 + 0.15 * (1.0 - std::abs(i - 8) / 8.0);
  for (int i = 27; i <= 35; ++i) depth_[static_cast<size_t>(i)] = 1.0;

  // Forehead: above the brows, so the brows are not the mesh's upper edge.
  for (int b : {17, 19, 21, 22, 24, 26}) {
    rest_.push_back(lm[static_cast<size_t>(b)] - axis_y_ * (0.55f * d));
    head_weight_.push_back(1.0);
    depth_.push_back(0.45);
  }

  // Ring around the face: hair, ears, neck. Follows the head halfway.
  cv::Rect2f face_bounds = cv::boundingRect(std::vector<cv::Point2f>(rest_.begin(), rest_.end()));
  const cv::Point2f ring_centre(face_bounds.x + face_bounds.width / 2, face_bounds.y + face_bounds.height / 2);
  const float ring_a = face_bounds.width * 0.5f * 1.35f, ring_b = face_bounds.height * 0.5f * 1.3f;
  for (int k = 0; k < 16; ++k) {
    const double angle = 2 * std::numbers::pi * k / 16.0;
    cv::Point2f p(ring_centre.x + ring_a * static_cast<float>(std::cos(angle)),
                  ring_centre.y + ring_b * static_cast<float>(std::sin(angle)));
    const cv::Rect2f inner(static_cast<float>(region.x) + 4, static_cast<float>(region.y) + 4,
                           static_cast<float>(region.width) - 8, static_cast<float>(region.height) - 8);
    if (!inner.contains(p)) continue;
    rest_.push_back(p);
    head_weight_.push_back(0.5);
    depth_.push_back(0.0);
  }

  // Region border: corners and 4 points per side, pinned.
  const float x0 = static_cast<float>(region.x), y0 = static_cast<float>(region.y);
  const float x1 = static_cast<float>(region.x + region.width - 1), y1 = static_cast<float>(region.y + region.height - 1);
  for (int k = 0; k <= 5; ++k) {
    const float t = static_cast<float>(k) / 5.0f;
    rest_.emplace_back(x0 + t * (x1 - x0), y0);
    rest_.emplace_back(x0 + t * (x1 - x0), y1);
    if (k > 0 && k < 5) {
      rest_.emplace_back(x0, y0 + t * (y1 - y0));
      rest_.emplace_back(x1, y0 + t * (y1 - y0));
    }
  }
  head_weight_.resize(rest_.size(), 0.0);
  depth_.resize(rest_.size(), 0.0);

  // Points closer than half a pixel would merge in the triangulation (a closed mouth's inner
  // lips nearly coincide): nudge later ones down a little.
  for (size_t i = 1; i < rest_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (cv::norm(rest_[i] - rest_[j]) < 0.5) { rest_[i].y += 0.6f; j = static_cast<size_t>(-1); }

  // Distance-to-border fade, so nothing near the region edge moves.
  const double fade_span = 0.08 * std::min(region.width, region.height);
  border_fade_.resize(rest_.size());
  for (size_t i = 0; i < rest_.size(); ++i) {
    const cv::Point2f& p = rest_[i];
    const double dist = std::min({p.x - x0, x1 - p.x, p.y - y0, y1 - p.y});
    border_fade_[i] = smoothstep01(dist / std::max(1.0, fade_span));
  }

  // Delaunay over a rectangle that holds every point (landmarks may lie outside the region).
  cv::Rect2f bounds = cv::boundingRect(rest_);
  cv::Subdiv2D subdiv(cv::Rect(static_cast<int>(std::floor(bounds.x)) - 2, static_cast<int>(std::floor(bounds.y)) - 2,
                               static_cast<int>(std::ceil(bounds.width)) + 5, static_cast<int>(std::ceil(bounds.height)) + 5));
  std::map<int, int> vertex_to_point;
  for (size_t i = 0; i < rest_.size(); ++i) vertex_to_point[subdiv.insert(rest_[i])] = static_cast<int>(i);
  std::vector<cv::Vec6f> list;
  subdiv.getTriangleList(list);
  for (const auto& t : list) {
    cv::Vec3i tri;
    bool ok = true;
    for (int k = 0; k < 3 && ok; ++k) {
      int edge = 0, vertex = 0;
      const int where = subdiv.locate(cv::Point2f(t[2 * k], t[2 * k + 1]), edge, vertex);
      auto it = vertex_to_point.find(vertex);
      ok = where == cv::Subdiv2D::PTLOC_VERTEX && it != vertex_to_point.end();
      if (ok) tri[k] = it->second;
    }
    if (!ok) continue;
    double area = signed_area(rest_[static_cast<size_t>(tri[0])], rest_[static_cast<size_t>(tri[1])], rest_[static_cast<size_t>(tri[2])]);
    if (std::abs(area) < 1e-3) continue;
    if (area < 0) {  // one orientation for all triangles
      std::swap(tri[1], tri[2]);
      area = -area;
    }
    triangles_.push_back(tri);
    rest_area_.push_back(area);
    const auto all_in = [&](int first, int last) {
      return in_range(tri[0], first, last) && in_range(tri[1], first, last) && in_range(tri[2], first, last);
    };
    // Eyes and the mouth opening may close almost completely; everything else may not
    // shrink below a quarter of its area.
    const bool closable = all_in(36, 41) || all_in(42, 47) || all_in(60, 67) || all_in(48, 67);
    min_area_ratio_.push_back(closable ? 0.02 : 0.25);
  }
  if (triangles_.empty()) throw Error(ErrorCode::engine_failed, "The face mesh could not be built from the landmarks.");
}

std::vector<cv::Point2f> FaceMesh::unchecked_points(const MouthControls& m, const MotionFrame& motion) const {
  const float d = static_cast<float>(interocular_);
  std::vector<cv::Point2f> local(rest_);
  auto move = [&](int i, double along_x, double along_y) {
    local[static_cast<size_t>(i)] += axis_x_ * static_cast<float>(along_x * d) + axis_y_ * static_cast<float>(along_y * d);
  };
  const cv::Point2f* p = rest_.data();

  // Jaw: lower lip and chin drop, corners a little down and in, upper lip a little up.
  const double j = m.jaw;
  const double drop = kLipDrop * j;
  const std::array<std::pair<int, double>, 8> lower = {{{65, 0.95}, {66, 1.0}, {67, 0.95}, {55, 0.65},
                                                        {56, 0.92}, {57, 1.0}, {58, 0.92}, {59, 0.65}}};
  for (auto [i, w] : lower) move(i, 0, drop * w);
  const std::array<std::pair<int, double>, 13> chin = {{{8, 0.8}, {7, 0.75}, {9, 0.75}, {6, 0.6}, {10, 0.6}, {5, 0.42},
                                                        {11, 0.42}, {4, 0.25}, {12, 0.25}, {3, 0.1}, {13, 0.1}, {2, 0.03}, {14, 0.03}}};
  for (auto [i, w] : chin) move(i, 0, drop * w);
  for (int i : {61, 62, 63}) move(i, 0, -0.03 * j);
  for (int i : {50, 51, 52}) move(i, 0, -0.015 * j);
  move(48, 0.025 * j, 0.07 * j * kLipDrop / 0.24);
  move(54, -0.025 * j, 0.07 * j * kLipDrop / 0.24);
  move(60, 0.02 * j, 0.08 * j);
  move(64, -0.02 * j, 0.08 * j);

  // Spread (i, e): corners out. Rounding (o, u): corners in, lips pushed out and apart.
  const double s = m.spread, r = m.rounding;
  move(48, -0.07 * s + 0.09 * r, 0);
  move(54, 0.07 * s - 0.09 * r, 0);
  move(60, -0.06 * s + 0.075 * r, 0);
  move(64, 0.06 * s - 0.075 * r, 0);
  for (auto [i, sign] : {std::pair{49, -1.0}, {59, -1.0}, {53, 1.0}, {55, 1.0}}) move(i, sign * (0.03 * s - 0.04 * r), 0);
  for (int i : {50, 51, 52}) move(i, 0, -0.015 * r);
  for (int i : {56, 57, 58}) move(i, 0, 0.015 * r);
  move(62, 0, -0.015 * r);
  move(66, 0, 0.015 * r);

  // Closure: inner lips meet in the middle of the photo's own gap; outer lips press.
  if (m.closure > 0) {
    for (auto [up, low] : {std::pair{61, 67}, {62, 66}, {63, 65}}) {
      const cv::Point2f gap = p[low] - p[up];
      local[static_cast<size_t>(up)] += gap * static_cast<float>(0.45 * m.closure);
      local[static_cast<size_t>(low)] -= gap * static_cast<float>(0.45 * m.closure);
    }
    for (auto [up, low] : {std::pair{50, 58}, {51, 57}, {52, 56}}) {
      const cv::Point2f gap = p[static_cast<size_t>(low)] - p[static_cast<size_t>(up)];
      const float inner_gap = static_cast<float>(cv::norm(p[static_cast<size_t>(low == 58 ? 67 : low == 57 ? 66 : 65)] -
                                                          p[static_cast<size_t>(up == 50 ? 61 : up == 51 ? 62 : 63)]));
      const float len = std::max(1.0f, static_cast<float>(cv::norm(gap)));
      local[static_cast<size_t>(up)] += gap * (0.4f * inner_gap / len * static_cast<float>(m.closure));
      local[static_cast<size_t>(low)] -= gap * (0.4f * inner_gap / len * static_cast<float>(m.closure));
    }
  }

  // Blink: upper lid down to the lower lid, lower lid slightly up.
  if (motion.blink > 0) {
    for (auto [up, low] : {std::pair{37, 41}, {38, 40}, {43, 47}, {44, 46}}) {
      const cv::Point2f gap = p[low] - p[up];
      local[static_cast<size_t>(up)] += gap * static_cast<float>(0.8 * motion.blink);
      local[static_cast<size_t>(low)] -= gap * static_cast<float>(0.12 * motion.blink);
    }
  }

  // Head pose: rotation about the face centre plus shift, yaw as depth-weighted parallax.
  const HeadPose& h = motion.head;
  const double angle = h.roll_deg * std::numbers::pi / 180.0;
  const double ca = std::cos(angle), sa = std::sin(angle);
  std::vector<cv::Point2f> out(rest_.size());
  for (size_t i = 0; i < rest_.size(); ++i) {
    const cv::Point2f q = local[i];
    const double rx = centre_.x + ca * (q.x - centre_.x) - sa * (q.y - centre_.y);
    const double ry = centre_.y + sa * (q.x - centre_.x) + ca * (q.y - centre_.y);
    const double w = head_weight_[i];
    const double dx = (rx - q.x) + (h.tx + h.yaw * depth_[i]) * d;
    const double dy = (ry - q.y) + h.ty * d;
    const cv::Point2f total = (q - rest_[i]) + cv::Point2f(static_cast<float>(w * dx), static_cast<float>(w * dy));
    out[i] = rest_[i] + total * static_cast<float>(border_fade_[i]);
  }
  return out;
}

bool FaceMesh::acceptable(const std::vector<cv::Point2f>& moved) const {
  for (size_t t = 0; t < triangles_.size(); ++t) {
    const cv::Vec3i& tri = triangles_[t];
    const double area = signed_area(moved[static_cast<size_t>(tri[0])], moved[static_cast<size_t>(tri[1])], moved[static_cast<size_t>(tri[2])]);
    const double floor = rest_area_[t] < 1.0 ? 0.0 : min_area_ratio_[t] * rest_area_[t];
    if (area <= floor && !(rest_area_[t] < 1.0 && area > 0)) return false;
  }
  return true;
}

std::vector<cv::Point2f> FaceMesh::moved_points(const MouthControls& mouth, const MotionFrame& motion) const {
  std::vector<cv::Point2f> moved = unchecked_points(mouth, motion);
  if (acceptable(moved)) return moved;
  // Scale the whole displacement back to the largest fraction that folds nothing.
  double good = 0, bad = 1;
  std::vector<cv::Point2f> trial(moved.size());
  for (int iteration = 0; iteration < 12; ++iteration) {
    const double t = 0.5 * (good + bad);
    for (size_t i = 0; i < moved.size(); ++i) trial[i] = rest_[i] + (moved[i] - rest_[i]) * static_cast<float>(t);
    (acceptable(trial) ? good : bad) = t;
  }
  for (size_t i = 0; i < moved.size(); ++i) trial[i] = rest_[i] + (moved[i] - rest_[i]) * static_cast<float>(good);
  return trial;
}

bool FaceMesh::keeps_orientation(const std::vector<cv::Point2f>& moved) const {
  for (size_t t = 0; t < triangles_.size(); ++t) {
    if (rest_area_[t] < 1.0) continue;
    const cv::Vec3i& tri = triangles_[t];
    if (signed_area(moved[static_cast<size_t>(tri[0])], moved[static_cast<size_t>(tri[1])], moved[static_cast<size_t>(tri[2])]) <= 0) return false;
  }
  return true;
}

}  // namespace sonic::engine::classic
