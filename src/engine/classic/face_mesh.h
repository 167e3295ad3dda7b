// FaceMesh: the triangulated landmark mesh the classic engine warps, and how mouth controls,
// blinks and head pose move its points.
//
// Points: the 68 landmarks, 5 forehead points above the brows, a ring around the face (hair,
// ears, neck; half the head motion) and points on the border of the warp region (pinned, so
// the background stays put). Triangles: Delaunay (cv::Subdiv2D) over the rest positions,
// computed once per job. Every frame's displacement is checked triangle by triangle and
// scaled back if any triangle would fold or collapse, so no parameter value in range can
// tear the picture.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <vector>

#include "engine/classic/motion_track.h"
#include "engine/classic/mouth_track.h"
#include "face/landmarks.h"

namespace sonic::engine::classic {

class FaceMesh {
 public:
  // `landmarks` and `region` in output pixels; `region` is where the warp may act.
  FaceMesh(const face::Landmarks& landmarks, const cv::Rect& region);

  const std::vector<cv::Point2f>& rest_points() const { return rest_; }
  const std::vector<cv::Vec3i>& triangles() const { return triangles_; }
  const cv::Rect& region() const { return region_; }
  double interocular() const { return interocular_; }

  // The points for one frame. Indices 0–67 are the landmarks. Never folds a triangle.
  std::vector<cv::Point2f> moved_points(const MouthControls& mouth, const MotionFrame& motion) const;

  // True when every triangle whose rest area is ≥ 1 px² keeps its orientation in `moved`.
  bool keeps_orientation(const std::vector<cv::Point2f>& moved) const;

 private:
  std::vector<cv::Point2f> unchecked_points(const MouthControls& mouth, const MotionFrame& motion) const;
  bool acceptable(const std::vector<cv::Point2f>& moved) const;

  cv::Rect region_;
  std::vector<cv::Point2f> rest_;
  std::vector<cv::Vec3i> triangles_;
  std::vector<double> rest_area_;      // signed, per triangle
  std::vector<double> min_area_ratio_; // how far a triangle may shrink (eyes and mouth may close)
  std::vector<double> head_weight_;    // share of the head motion per point
  std::vector<double> depth_;          // parallax for yaw: nose 1, outline ~0.2
  std::vector<double> border_fade_;    // 0 on the region border … 1 inside
  cv::Point2f axis_x_, axis_y_;        // face axes: along the eyes, and down
  cv::Point2f centre_;
  double interocular_ = 1;
};

}  // namespace sonic::engine::classic
