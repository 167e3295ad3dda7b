// Landmark plausibility, the mouth line in the picture, and the box-fitted layout (see
// landmark_check.h).
#include "face/landmark_check.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace sonic::face {
namespace {

cv::Point2f mean_of(const Landmarks& p, int first, int last) {
  cv::Point2f s(0, 0);
  for (int i = first; i <= last; ++i) s += p[static_cast<size_t>(i)];
  return s * (1.0f / static_cast<float>(last - first + 1));
}

// 1 inside [lo, hi], falling linearly to 0 at 30 % beyond either bound.
double within(double value, double lo, double hi) {
  if (value < lo) return std::max(0.0, 1.0 - (lo - value) / (0.3 * std::abs(lo) + 1e-9));
  if (value > hi) return std::max(0.0, 1.0 - (value - hi) / (0.3 * std::abs(hi) + 1e-9));
  return 1.0;
}

// The mouth line may be this far up or down from the middle of the fit's lips, in half lip
// heights, and still count fully; the confidence falls to 0 at kMouthOffFade.
constexpr double kMouthOffOk = 1.0, kMouthOffFade = 1.6;
constexpr float kLayoutLineY = 0.765f;                       // the lips' line in unit_layout
constexpr float kLayoutMouthLeft = 0.30f, kLayoutMouthRight = 0.70f;  // its corners

// Moves the layout's eyes (and the brows with them) onto a found left and right eye: the eye
// outline scaled to 80 % of the found box's width, its opening to 35 % of its height.
void place_eyes(Landmarks& p, const cv::Rect& box, const cv::Rect& left, const cv::Rect& right) {
  const cv::Point2f lc = (left.tl() + left.br()) * 0.5, rc = (right.tl() + right.br()) * 0.5;
  const bool plausible = rc.x - lc.x >= 0.25f * box.width && std::abs(rc.y - lc.y) <= 0.15f * box.width &&
                         std::max(lc.y, rc.y) < box.y + 0.6f * box.height;
  if (!plausible) return;
  for (const auto& [first, found] : {std::pair{36, left}, std::pair{42, right}}) {
    const cv::Point2f centre = (found.tl() + found.br()) * 0.5;
    const cv::Point2f old_centre = mean_of(p, first, first + 5);
    const float old_width = std::max(1.0f, p[static_cast<size_t>(first + 3)].x - p[static_cast<size_t>(first)].x);
    const float old_height = std::max(1.0f, (p[static_cast<size_t>(first + 4)].y + p[static_cast<size_t>(first + 5)].y -
                                             p[static_cast<size_t>(first + 1)].y - p[static_cast<size_t>(first + 2)].y) / 2.0f);
    const float sx = 0.8f * found.width / old_width, sy = 0.35f * found.height / old_height;
    for (int i = first; i < first + 6; ++i) {
      const cv::Point2f d = p[static_cast<size_t>(i)] - old_centre;
      p[static_cast<size_t>(i)] = centre + cv::Point2f(d.x * sx, d.y * sy);
    }
    // The brow over this eye keeps its height above the eye's top lid.
    const int brow_first = first == 36 ? 17 : 22;
    const float shift_y = centre.y - old_centre.y - (sy - 1.0f) * old_height / 2.0f, shift_x = centre.x - old_centre.x;
    for (int i = brow_first; i < brow_first + 5; ++i) p[static_cast<size_t>(i)] += cv::Point2f(shift_x, shift_y);
  }
}

}  // namespace

const Landmarks& unit_layout() {
  // dlib's fit on the fixture portrait in its own box, made symmetric, with the smile
  // replaced by closed lips of average width.
  static const Landmarks layout = [] {
    static constexpr float unit[68][2] = {
        {-0.013f, 0.324f}, {-0.003f, 0.454f}, {0.017f, 0.579f}, {0.039f, 0.707f}, {0.081f, 0.832f}, {0.156f, 0.941f},
        {0.259f, 1.030f},  {0.372f, 1.105f},  {0.500f, 1.126f}, {0.628f, 1.105f}, {0.742f, 1.030f}, {0.845f, 0.941f},
        {0.919f, 0.832f},  {0.961f, 0.707f},  {0.983f, 0.579f}, {1.003f, 0.454f}, {1.014f, 0.324f},  // jaw
        {0.061f, 0.211f},  {0.122f, 0.145f},  {0.214f, 0.129f}, {0.307f, 0.143f}, {0.393f, 0.179f},  // brow
        {0.607f, 0.179f},  {0.693f, 0.143f},  {0.786f, 0.129f}, {0.878f, 0.145f}, {0.939f, 0.211f},  // brow
        {0.500f, 0.276f},  {0.500f, 0.371f},  {0.500f, 0.463f}, {0.500f, 0.557f},                    // nose
        {0.387f, 0.605f},  {0.442f, 0.619f},  {0.500f, 0.637f}, {0.558f, 0.619f}, {0.613f, 0.605f},
        {0.165f, 0.284f},  {0.225f, 0.246f},  {0.295f, 0.248f}, {0.361f, 0.303f}, {0.292f, 0.311f}, {0.220f, 0.310f},  // eye
        {0.639f, 0.303f},  {0.705f, 0.248f},  {0.775f, 0.246f}, {0.835f, 0.284f}, {0.780f, 0.310f}, {0.708f, 0.311f},  // eye
        {0.300f, 0.765f},  {0.360f, 0.735f},  {0.430f, 0.715f}, {0.500f, 0.725f}, {0.570f, 0.715f}, {0.640f, 0.735f},  // lips
        {0.700f, 0.765f},  {0.640f, 0.805f},  {0.570f, 0.830f}, {0.500f, 0.835f}, {0.430f, 0.830f}, {0.360f, 0.805f},
        {0.320f, 0.765f},  {0.430f, 0.760f},  {0.500f, 0.762f}, {0.570f, 0.760f},  // inner lips
        {0.680f, 0.765f},  {0.570f, 0.770f},  {0.500f, 0.772f}, {0.430f, 0.770f},
    };
    Landmarks points;
    for (size_t i = 0; i < points.size(); ++i) points[i] = cv::Point2f(unit[i][0], unit[i][1]);
    return points;
  }();
  return layout;
}

std::optional<MouthLine> find_mouth_line(const cv::Mat& bgr, const cv::Rect& box) {
  if (bgr.empty() || box.width < 8 || box.height < 8) return std::nullopt;
  // The lower face, from under the nose (a drawn face's mouth sits higher in the box than a
  // photo's) to just below the box; scanned at most 160 px wide: the mouth is a coarse feature.
  const cv::Rect search(box.x + box.width * 15 / 100, box.y + box.height * 48 / 100, box.width * 70 / 100, box.height * 57 / 100);
  const double f = std::min(1.0, 160.0 / std::max(1, search.width));
  // A dark line (or a dark shape lower than 2k) stands out against the pixels k above and k
  // below it; edges and gradients do not.
  const int k_picture = std::max(2, static_cast<int>(std::lround(0.05 * box.height)));
  const cv::Rect read = cv::Rect(search.x, search.y - k_picture, search.width, search.height + 2 * k_picture) &
                        cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (read.width < 8 || read.height < 8) return std::nullopt;
  cv::Mat grey;
  if (bgr.channels() == 3) cv::cvtColor(bgr(read), grey, cv::COLOR_BGR2GRAY);
  else if (bgr.channels() == 4) cv::cvtColor(bgr(read), grey, cv::COLOR_BGRA2GRAY);
  else grey = bgr(read).clone();
  if (f < 1.0) cv::resize(grey, grey, cv::Size(), f, f, cv::INTER_AREA);
  cv::Mat g;
  grey.convertTo(g, CV_32F);
  cv::GaussianBlur(g, g, cv::Size(0, 0), 0.7);
  const int k = std::max(2, static_cast<int>(std::lround(k_picture * f)));
  if (g.rows <= 2 * k + 2) return std::nullopt;
  cv::Mat ridge = cv::Mat::zeros(g.size(), CV_32F);
  for (int y = k; y < g.rows - k; ++y) {
    const float *above = g.ptr<float>(y - k), *row = g.ptr<float>(y), *below = g.ptr<float>(y + k);
    float* out = ridge.ptr<float>(y);
    for (int x = 0; x < g.cols; ++x) out[x] = std::max(0.0f, std::min(above[x], below[x]) - row[x]);
  }
  double peak = 0;
  cv::minMaxLoc(ridge, nullptr, &peak);
  if (peak < 12.0) return std::nullopt;
  // Pieces of one line (an open smile's dark corners and the gaps between teeth) are joined
  // across short breaks before they are told apart.
  cv::Mat mask = ridge > 0.4 * peak, labels, stats, centroids;
  const int join = std::max(3, static_cast<int>(std::lround(0.12 * box.width * f)) | 1);
  cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(join, 1)));
  const int count = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  int best = -1;
  double best_score = 0;
  // Preferred: near the middle across, and near where a face's mouth is (0.76 of the box).
  const double middle_x = (box.x + box.width / 2.0 - read.x) * f, expected_y = (box.y + 0.76 * box.height - read.y) * f;
  for (int c = 1; c < count; ++c) {
    const int width = stats.at<int>(c, cv::CC_STAT_WIDTH);
    if (width < std::max(3.0, 0.08 * box.width * f)) continue;
    double sum = 0;
    const cv::Rect r(stats.at<int>(c, cv::CC_STAT_LEFT), stats.at<int>(c, cv::CC_STAT_TOP), width, stats.at<int>(c, cv::CC_STAT_HEIGHT));
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x)
        if (labels.at<int>(y, x) == c) sum += ridge.at<float>(y, x);
    const double off_x = std::abs(centroids.at<double>(c, 0) - middle_x) / (0.35 * box.width * f);
    const double off_y = (centroids.at<double>(c, 1) - expected_y) / (0.2 * box.height * f);
    const double wide = std::min(1.0, width / (0.25 * box.width * f)) * std::min(1.0, 3.0 * width / std::max(1, r.height));
    const double score = sum * std::max(0.0, 1.0 - off_x) * std::exp(-off_y * off_y) * wide;
    if (score > best_score) {
      best_score = score;
      best = c;
    }
  }
  if (best < 0) return std::nullopt;
  const int x0 = stats.at<int>(best, cv::CC_STAT_LEFT), x1 = x0 + stats.at<int>(best, cv::CC_STAT_WIDTH) - 1;
  const int top = stats.at<int>(best, cv::CC_STAT_TOP), bottom = top + stats.at<int>(best, cv::CC_STAT_HEIGHT);
  // Per column: where the line is darkest (ridge-weighted), and how thick it is.
  const auto column = [&](int x, float* thickness) {
    double weight = 0, sum_y = 0;
    int n = 0;
    for (int y = top; y < bottom; ++y)
      if (labels.at<int>(y, x) == best) {
        const double w = ridge.at<float>(y, x);
        weight += w;
        sum_y += w * y;
        ++n;
      }
    if (thickness) *thickness = static_cast<float>(n);
    return weight > 0 ? sum_y / weight : (top + bottom) / 2.0;
  };
  const auto to_picture = [&](double x, double y) {
    return cv::Point2f(static_cast<float>(read.x + (x + 0.5) / f - 0.5), static_cast<float>(read.y + (y + 0.5) / f - 0.5));
  };
  MouthLine line;
  float thickness = 0;
  const int xm = (x0 + x1) / 2;
  line.left = to_picture(x0, column(x0, nullptr));
  line.right = to_picture(x1, column(x1, nullptr));
  line.centre = to_picture(xm, column(xm, &thickness));
  line.thickness = static_cast<float>(thickness / f);
  double contrast = 0;
  for (int y = top; y < bottom; ++y)
    for (int x = x0; x <= x1; ++x)
      if (labels.at<int>(y, x) == best) contrast = std::max(contrast, static_cast<double>(ridge.at<float>(y, x)));
  line.contrast = contrast;
  return line;
}

double texture_of(const cv::Mat& bgr, const cv::Rect& box) {
  const cv::Rect inside = box & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (inside.width < 8 || inside.height < 8) return 0.0;
  // The face at 64 px, whatever its size: an upscaled photo's noise and a drawing's flat
  // areas then measure the same at every size.
  constexpr int kSide = 64;
  cv::Mat face, grey;
  cv::resize(bgr(inside), face, cv::Size(kSide, kSide), 0, 0, inside.width > kSide ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (face.channels() == 3) cv::cvtColor(face, grey, cv::COLOR_BGR2GRAY);
  else if (face.channels() == 4) cv::cvtColor(face, grey, cv::COLOR_BGRA2GRAY);
  else grey = face;
  cv::Mat g, blurred;
  grey(cv::Rect(kSide / 5, kSide / 5, kSide * 3 / 5, kSide * 3 / 5)).convertTo(g, CV_32F);
  cv::GaussianBlur(g, blurred, cv::Size(0, 0), 1.0);
  const cv::Mat detail = cv::abs(g - blurred);
  std::vector<float> values(detail.begin<float>(), detail.end<float>());
  const auto at = values.begin() + static_cast<std::ptrdiff_t>(values.size() * 3 / 10);
  std::nth_element(values.begin(), at, values.end());
  return *at;
}

double fit_confidence(const Landmarks& p, const cv::Rect& box, const std::optional<MouthLine>& mouth) {
  const cv::Point2f left_eye = mean_of(p, 36, 41), right_eye = mean_of(p, 42, 47);
  const cv::Point2f eye_line = right_eye - left_eye;
  const double d = std::hypot(eye_line.x, eye_line.y);
  if (d < 1e-3 || box.width <= 0 || box.height <= 0) return 0.0;
  // Face axes: u along the eyes, v down; origin between the eyes.
  const cv::Point2f ux = eye_line * static_cast<float>(1.0 / d), vy(-ux.y, ux.x), origin = (left_eye + right_eye) * 0.5f;
  const auto v = [&](const cv::Point2f& q) { return static_cast<double>((q - origin).dot(vy)); };
  const auto u = [&](const cv::Point2f& q) { return static_cast<double>((q - origin).dot(ux)); };
  const double brows = v(mean_of(p, 17, 26)), nose = v(p[30]), mouth_v = v((p[62] + p[66]) * 0.5f), chin = v(p[8]);
  // A face's order: brows above the eyes above the nose tip above the mouth above the chin,
  // corners of the eyes left to right, mouth corners left to right.
  if (!(brows < 0 && 0 < nose && nose < mouth_v && mouth_v < chin)) return 0.0;
  if (!(u(p[36]) < u(p[39]) && u(p[39]) < u(p[42]) && u(p[42]) < u(p[45]) && u(p[48]) < u(p[54]))) return 0.0;
  double confidence = 1.0;
  confidence *= within(d / box.width, 0.25, 0.6);                  // eyes apart by about half the face
  confidence *= within(cv::norm(p[54] - p[48]) / d, 0.5, 1.5);     // mouth about as wide as the eyes apart
  confidence *= within(mouth_v / d, 0.75, 1.6);                    // mouth about one eye distance down
  confidence *= within(nose / mouth_v, 0.4, 0.8);                  // nose tip between them
  confidence *= within(chin / mouth_v, 1.2, 2.1);                  // chin below the mouth
  confidence *= within(std::abs(u(p[30])) / d, 0.0, 0.25);          // nose between the eyes
  // Inside the box, give or take a third of it.
  const cv::Rect2f grown(box.x - box.width / 3.0f, box.y - box.height / 3.0f, box.width * 5 / 3.0f, box.height * 5 / 3.0f);
  int inside = 0;
  for (const auto& q : p) inside += grown.contains(q) ? 1 : 0;
  confidence *= std::clamp((inside / 68.0 - 0.85) / 0.15, 0.0, 1.0);
  // The mouth where the picture has one: the line found must lie within the fit's lips (up
  // or down; across, a smile's line may be found in pieces).
  if (mouth) {
    const double lips_middle = (v(p[51]) + v(p[57])) / 2.0;
    const double half_lips = std::max(std::abs(v(p[57]) - v(p[51])) / 2.0, 0.06 * d);
    const double off = std::abs(v(mouth->centre) - lips_middle) / half_lips;
    confidence *= std::clamp((kMouthOffFade - off) / (kMouthOffFade - kMouthOffOk), 0.0, 1.0);
  }
  return confidence;
}

Landmarks box_layout(const cv::Rect& box, const std::optional<MouthLine>& mouth, const std::vector<cv::Rect>& eyes) {
  const Landmarks& unit = unit_layout();
  Landmarks p;
  const float bx = static_cast<float>(box.x), by = static_cast<float>(box.y);
  const float bw = static_cast<float>(box.width), bh = static_cast<float>(box.height);
  for (size_t i = 0; i < p.size(); ++i) p[i] = cv::Point2f(bx + unit[i].x * bw, by + unit[i].y * bh);
  if (eyes.size() >= 2) {
    place_eyes(p, box, eyes.front(), eyes.back());
  } else if (eyes.size() == 1) {  // the other eye mirrored across the face's middle
    const float axis = mouth ? mouth->centre.x : bx + bw / 2.0f;
    const cv::Rect& e = eyes.front();
    const cv::Rect mirrored(static_cast<int>(std::lround(2.0f * axis - static_cast<float>(e.x + e.width))), e.y, e.width, e.height);
    if (mirrored.x < e.x) place_eyes(p, box, mirrored, e);
    else place_eyes(p, box, e, mirrored);
  }
  if (!mouth) return p;

  // The mouth on the line: position along it from the corners, height scaled with its width
  // (a small drawn mouth has thin lips), the inner lips at the top and bottom of the line.
  const cv::Point2f left = mouth->left, right = mouth->right, centre = mouth->centre;
  const float width = std::max(2.0f, right.x - left.x);
  const float lip_scale = width / ((kLayoutMouthRight - kLayoutMouthLeft) * bw);
  const float half_line = std::max(0.5f, mouth->thickness / 2.0f);
  // The line's curve: the quadratic through the corners and the middle, in s = 0…1.
  const auto line_y = [&](float s) {
    const float l0 = (1 - s) * (1 - 2 * s), l1 = 4 * s * (1 - s), l2 = s * (2 * s - 1);
    return l0 * left.y + l1 * centre.y + l2 * right.y;
  };
  for (int i = 48; i <= 67; ++i) {
    const cv::Point2f& q = unit[static_cast<size_t>(i)];
    const float s = std::clamp((q.x - kLayoutMouthLeft) / (kLayoutMouthRight - kLayoutMouthLeft), 0.0f, 1.0f);
    const float x = left.x + s * width;
    float offset = (q.y - kLayoutLineY) * bh * lip_scale;  // outer lips: above or below the line
    if (i >= 61 && i <= 63) offset = -half_line;           // inner lips: the line's own edges
    if (i >= 65 && i <= 67) offset = half_line;
    if (i == 60 || i == 64) offset = 0;
    p[static_cast<size_t>(i)] = cv::Point2f(x, line_y(s) + offset);
  }
  // Keep the nose above the upper lip and the chin below the lower lip.
  const float lip_top = std::min({p[50].y, p[51].y, p[52].y}), lip_bottom = std::max({p[56].y, p[57].y, p[58].y});
  const float nose_lift = std::max(0.0f, p[33].y - (lip_top - 0.02f * bh));
  for (int i = 30; i <= 35; ++i) p[static_cast<size_t>(i)].y -= std::min(nose_lift, std::max(0.0f, p[static_cast<size_t>(i)].y - p[39].y - 0.05f * bh));
  const float chin_drop = std::max(0.0f, lip_bottom + 0.08f * bh - p[8].y);
  for (int i = 3; i <= 13; ++i) p[static_cast<size_t>(i)].y += chin_drop * (1.0f - std::abs(i - 8) / 6.0f);
  return p;
}

}  // namespace sonic::face
