// Piecewise-affine warp and closed lids (see face_warper.h); the mouth interior is mouth_interior.cpp.
#include "engine/classic/face_warper.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <opencv2/imgproc.hpp>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "engine/classic/pixel_ops.h"

namespace sonic::engine::classic {
namespace {

// Sub-pixel precision of the warp: source positions are rounded to 1/32 pixel, as cv::remap's
// fixed-point maps do (INTER_BITS = 5).
constexpr int kStepBits = 5;
constexpr int kSteps = 1 << kStepBits;
constexpr int kWeightBits = 2 * kStepBits;  // the four bilinear weights sum to kSteps²
constexpr int kHalfWeight = 1 << (kWeightBits - 1);

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


// One row span of a triangle: pixel k (0 ≤ k < n) samples the still at (sx0 + k·dx, sy0 + k·dy),
// in 1/kSteps pixels. Each position is computed from the span's start (not accumulated), so
// the portable and the vector code below give the same pixels, bit for bit.
struct SpanGeometry {
  double sx0, sy0, dx, dy;
};

// Pixel k of the span, bilinear with BORDER_REPLICATE. The weights multiply out to
// cv::remap's INTER_LINEAR fixed-point table.
inline void warp_pixel(const uchar* source, size_t step, int last_x, int last_y, const SpanGeometry& g, int k,
                       uchar* target) {
  const int ix = cvRound(g.sx0 + k * g.dx), iy = cvRound(g.sy0 + k * g.dy);
  const int fx = ix & (kSteps - 1), fy = iy & (kSteps - 1);
  const int px = ix >> kStepBits, py = iy >> kStepBits;
  const int gx = kSteps - fx, gy = kSteps - fy;
  const uchar *p00, *p01, *p10, *p11;
  if (static_cast<unsigned>(px) < static_cast<unsigned>(last_x) && static_cast<unsigned>(py) < static_cast<unsigned>(last_y)) {
    p00 = source + static_cast<size_t>(py) * step + 3 * static_cast<size_t>(px);
    p01 = p00 + 3;
    p10 = p00 + step;
    p11 = p10 + 3;
  } else {  // each of the four taps clamped on its own
    const size_t cx0 = static_cast<size_t>(std::clamp(px, 0, last_x)), cx1 = static_cast<size_t>(std::clamp(px + 1, 0, last_x));
    const size_t cy0 = static_cast<size_t>(std::clamp(py, 0, last_y)), cy1 = static_cast<size_t>(std::clamp(py + 1, 0, last_y));
    p00 = source + cy0 * step + 3 * cx0;
    p01 = source + cy0 * step + 3 * cx1;
    p10 = source + cy1 * step + 3 * cx0;
    p11 = source + cy1 * step + 3 * cx1;
  }
  for (int c = 0; c < 3; ++c)
    target[c] = static_cast<uchar>((gy * (gx * p00[c] + fx * p01[c]) + fy * (gx * p10[c] + fx * p11[c]) + kHalfWeight) >> kWeightBits);
}

void warp_span_portable(const uchar* source, size_t step, int last_x, int last_y, const SpanGeometry& g, int n,
                        uchar* target) {
  for (int k = 0; k < n; ++k) warp_pixel(source, step, last_x, last_y, g, k, target + 3 * k);
}

#if defined(__x86_64__) && defined(__GNUC__)
// Byte c of each 32-bit lane to the lane's low 16 bits (kLow: the left or upper tap) or its
// high 16 bits (kHigh: the right or lower tap), the rest zero; kPack: the B G R bytes of the
// lanes packed to 12 bytes per 128-bit half.
constexpr signed char kLow[3][32] = {
    {0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1, -1, -1, 0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1, -1, -1},
    {1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1, -1, -1, 1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1, -1, -1},
    {2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1, 2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1}};
constexpr signed char kHigh[3][32] = {
    {-1, -1, 0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1, -1, -1, 0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1},
    {-1, -1, 1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1, -1, -1, 1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1},
    {-1, -1, 2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1, 2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1}};
// Two pixels' eight bytes per 128-bit half to their left taps (bytes 0-3) in the low 64 bits
// and right taps (bytes 3-6) in the high 64 bits.
constexpr signed char kSplit[32] = {0, 1, 2, 3, 8, 9, 10, 11, 3, 4, 5, 6, 11, 12, 13, 14,
                                    0, 1, 2, 3, 8, 9, 10, 11, 3, 4, 5, 6, 11, 12, 13, 14};
constexpr signed char kPack[32] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                   0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1};

__attribute__((target("avx2"))) inline __m256i shuffle_constant(const signed char (&bytes)[32]) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
}

// The four taps of eight pixels (4 bytes each: B G R and a byte of the next pixel), with the
// horizontal weights (gx, fx) and vertical ones (gy, fy) as 16-bit pairs.
struct Taps {
  __m256i top_left, top_right, bottom_left, bottom_right, wx, wy, half;
};

// One channel of eight pixels, in the low byte of each 32-bit lane: each row's two taps paired
// in 16-bit lanes so one multiply-add blends them, then the two rows the same way.
__attribute__((target("avx2"))) inline __m256i blend_channel(const Taps& t, __m256i low, __m256i high) {
  const __m256i top =
      _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(t.top_left, low), _mm256_shuffle_epi8(t.top_right, high)), t.wx);
  const __m256i bottom = _mm256_madd_epi16(
      _mm256_or_si256(_mm256_shuffle_epi8(t.bottom_left, low), _mm256_shuffle_epi8(t.bottom_right, high)), t.wx);
  const __m256i sum = _mm256_madd_epi16(_mm256_or_si256(top, _mm256_slli_epi32(bottom, 16)), t.wy);
  return _mm256_srli_epi32(_mm256_add_epi32(sum, t.half), kWeightBits);
}

// Eight pixels at a time with AVX2 (chosen at run time): positions in double as above, each
// pixel's two rows of taps fetched with one 8-byte load per row, each channel's two
// horizontal taps paired in 16-bit lanes so one multiply-add blends them, then the two rows
// the same way. Blocks that reach the picture's edge (where
// taps are clamped) and the span's last few pixels go through warp_pixel. No FMA: a fused
// multiply-add would round positions differently from the portable code.
__attribute__((target("avx2"))) void warp_span_avx2(const uchar* source, size_t step, int last_x, int last_y,
                                                    const SpanGeometry& g, int n, uchar* target) {
  const __m256d dx = _mm256_set1_pd(g.dx), dy = _mm256_set1_pd(g.dy);
  const __m256d sx0 = _mm256_set1_pd(g.sx0), sy0 = _mm256_set1_pd(g.sy0);
  const __m256i frac = _mm256_set1_epi32(kSteps - 1), steps = _mm256_set1_epi32(kSteps);
  const __m256i row_step = _mm256_set1_epi32(static_cast<int>(step));
  const __m256i limit_x = _mm256_set1_epi32(last_x - 2), limit_y = _mm256_set1_epi32(last_y - 1);
  const __m256i minus_one = _mm256_set1_epi32(-1);
  const __m256i half = _mm256_set1_epi32(kHalfWeight);
  const __m256i low_b = shuffle_constant(kLow[0]), low_g = shuffle_constant(kLow[1]), low_r = shuffle_constant(kLow[2]);
  const __m256i high_b = shuffle_constant(kHigh[0]), high_g = shuffle_constant(kHigh[1]), high_r = shuffle_constant(kHigh[2]);
  const __m256i pack = shuffle_constant(kPack);
  const __m256i split = shuffle_constant(kSplit);
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256d lo = _mm256_setr_pd(k, k + 1, k + 2, k + 3), hi = _mm256_setr_pd(k + 4, k + 5, k + 6, k + 7);
    const __m256i ix = _mm256_set_m128i(_mm256_cvtpd_epi32(_mm256_add_pd(sx0, _mm256_mul_pd(hi, dx))),
                                        _mm256_cvtpd_epi32(_mm256_add_pd(sx0, _mm256_mul_pd(lo, dx))));
    const __m256i iy = _mm256_set_m128i(_mm256_cvtpd_epi32(_mm256_add_pd(sy0, _mm256_mul_pd(hi, dy))),
                                        _mm256_cvtpd_epi32(_mm256_add_pd(sy0, _mm256_mul_pd(lo, dy))));
    const __m256i px = _mm256_srai_epi32(ix, kStepBits), py = _mm256_srai_epi32(iy, kStepBits);
    // Inside: 0 ≤ px ≤ last_x - 2 (an 8-byte read at the left tap stays in the row) and
    // 0 ≤ py ≤ last_y - 1, for all eight.
    const __m256i outside = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpgt_epi32(px, limit_x), _mm256_cmpgt_epi32(py, limit_y)),
        _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), px), _mm256_cmpgt_epi32(_mm256_setzero_si256(), py)));
    if (!_mm256_testz_si256(outside, minus_one)) {
      for (int j = k; j < k + 8; ++j) warp_pixel(source, step, last_x, last_y, g, j, target + 3 * j);
      continue;
    }
    const __m256i fx = _mm256_and_si256(ix, frac), fy = _mm256_and_si256(iy, frac);
    // (gx, fx) and (gy, fy) as 16-bit pairs.
    const __m256i wx = _mm256_or_si256(_mm256_sub_epi32(steps, fx), _mm256_slli_epi32(fx, 16));
    const __m256i wy = _mm256_or_si256(_mm256_sub_epi32(steps, fy), _mm256_slli_epi32(fy, 16));
    const __m256i offset = _mm256_add_epi32(_mm256_mullo_epi32(py, row_step), _mm256_add_epi32(px, _mm256_add_epi32(px, px)));
    // Eight bytes from each tap pair's left pixel hold both taps (B G R, then the next pixel's
    // B G R). Plain loads, not gathers: on the AMD servers we measured, vpgatherdd cost more
    // than the loads it replaces. Pixels 0 1 4 5 go in one register and 2 3 6 7 in the other,
    // so after the in-lane shuffle the 64-bit unpacks put them back in order.
    alignas(32) int at[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(at), offset);
    const auto eight = [source](int where) {
      long long value;
      std::memcpy(&value, source + where, 8);
      return value;
    };
    const int down = static_cast<int>(step);
    const __m256i top_a = _mm256_shuffle_epi8(_mm256_setr_epi64x(eight(at[0]), eight(at[1]), eight(at[4]), eight(at[5])), split);
    const __m256i top_b = _mm256_shuffle_epi8(_mm256_setr_epi64x(eight(at[2]), eight(at[3]), eight(at[6]), eight(at[7])), split);
    const __m256i bottom_a = _mm256_shuffle_epi8(
        _mm256_setr_epi64x(eight(at[0] + down), eight(at[1] + down), eight(at[4] + down), eight(at[5] + down)), split);
    const __m256i bottom_b = _mm256_shuffle_epi8(
        _mm256_setr_epi64x(eight(at[2] + down), eight(at[3] + down), eight(at[6] + down), eight(at[7] + down)), split);
    const __m256i t0 = _mm256_unpacklo_epi64(top_a, top_b), t1 = _mm256_unpackhi_epi64(top_a, top_b);
    const __m256i b0 = _mm256_unpacklo_epi64(bottom_a, bottom_b), b1 = _mm256_unpackhi_epi64(bottom_a, bottom_b);
    const Taps taps{t0, t1, b0, b1, wx, wy, half};
    const __m256i bgr = _mm256_or_si256(
        blend_channel(taps, low_b, high_b),
        _mm256_or_si256(_mm256_slli_epi32(blend_channel(taps, low_g, high_g), 8),
                        _mm256_slli_epi32(blend_channel(taps, low_r, high_r), 16)));
    const __m256i packed = _mm256_shuffle_epi8(bgr, pack);
    uchar* t = target + 3 * k;
    alignas(32) uchar bytes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), packed);
    std::memcpy(t, bytes, 12);
    std::memcpy(t + 12, bytes + 16, 12);
  }
  for (; k < n; ++k) warp_pixel(source, step, last_x, last_y, g, k, target + 3 * k);
}

bool cpu_has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

std::atomic<bool> simd_allowed{true};

// `vector_ok`: the picture's byte offsets fit the gathers' 32-bit indices.
void warp_span(const uchar* source, size_t step, int last_x, int last_y, bool vector_ok, const SpanGeometry& g, int n,
               uchar* target) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (n >= 8 && vector_ok && cpu_has_avx2() && simd_allowed.load(std::memory_order_relaxed))
    return warp_span_avx2(source, step, last_x, last_y, g, n, target);
#endif
  warp_span_portable(source, step, last_x, last_y, g, n, target);
}

}  // namespace

FaceWarper::FaceWarper(cv::Mat still, const face::Landmarks& landmarks, const cv::Rect& region)
    : still_(std::move(still)), mesh_(landmarks, region), mouth_(still_, landmarks, mesh_.interocular(), region) {}

void FaceWarper::warp_triangles(const std::vector<cv::Point2f>& moved, cv::Mat& out) const {
  const cv::Rect& region = mesh_.region();
  constexpr double kSubpixel = kSteps;
  const auto& rest = mesh_.rest_points();
  const int last_x = still_.cols - 1, last_y = still_.rows - 1;
  const size_t step = still_.step[0];
  const uchar* const source = still_.data;
  const bool vector_ok = step * static_cast<size_t>(still_.rows) < static_cast<size_t>(INT32_MAX) - step;
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
      const double sx0 = (sx_x * x0 + sx_y * y + sx_c) * kSubpixel, sy0 = (sy_x * x0 + sy_y * y + sy_c) * kSubpixel;
      warp_span(source, step, last_x, last_y, vector_ok, {sx0, sy0, sx_x * kSubpixel, sy_x * kSubpixel}, x1 - x0 + 1,
                out.ptr<uchar>(y) + 3 * x0);
    }
  }
}

void FaceWarper::render(const MouthControls& mouth, const MotionFrame& motion, cv::Mat& out) {
  last_points_ = mesh_.moved_points(mouth, motion);
  // Every pixel starts as the still: outside the warp region (full_frame) that is the
  // picture itself, and inside it the rare pixel no triangle reaches keeps its place.
  still_.copyTo(out);
  const auto& rest = mesh_.rest_points();
  bool moved_any = false;
  for (size_t i = 0; i < rest.size() && !moved_any; ++i) moved_any = cv::norm(last_points_[i] - rest[i]) >= 1e-3;
  if (!moved_any) return;
  warp_triangles(last_points_, out);
  mouth_.paint(last_points_, out);
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

void FaceWarper::allow_simd(bool allowed) { simd_allowed = allowed; }

}  // namespace sonic::engine::classic
