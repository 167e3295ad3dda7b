// The warp's row-span kernels (see warp_span.h): portable, AVX2 and AVX2 with an AVX-512 VBMI
// fetch, all giving the same pixels.
#include "engine/classic/warp_span.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SONIC_WARP_X86 1
#endif

namespace sonic::engine::classic {
namespace {

constexpr int kStepBits = kWarpStepBits;
constexpr int kSteps = kWarpSteps;
constexpr int kWeightBits = 2 * kStepBits;  // the four bilinear weights sum to kSteps²
constexpr int kHalfWeight = 1 << (kWeightBits - 1);

// Pixel k of the span, bilinear with BORDER_REPLICATE. The weights multiply out to
// cv::remap's INTER_LINEAR fixed-point table.
inline void warp_pixel(const WarpSource& s, const SpanGeometry& g, int k, uchar* target) {
  const int ix = cvRound(g.sx0 + k * g.dx), iy = cvRound(g.sy0 + k * g.dy);
  const int fx = ix & (kSteps - 1), fy = iy & (kSteps - 1);
  const int px = ix >> kStepBits, py = iy >> kStepBits;
  const int gx = kSteps - fx, gy = kSteps - fy;
  const uchar *p00, *p01, *p10, *p11;
  if (static_cast<unsigned>(px) < static_cast<unsigned>(s.last_x) && static_cast<unsigned>(py) < static_cast<unsigned>(s.last_y)) {
    p00 = s.data + static_cast<size_t>(py) * s.step + 3 * static_cast<size_t>(px);
    p01 = p00 + 3;
    p10 = p00 + s.step;
    p11 = p10 + 3;
  } else {  // each of the four taps clamped on its own
    const size_t cx0 = static_cast<size_t>(std::clamp(px, 0, s.last_x)), cx1 = static_cast<size_t>(std::clamp(px + 1, 0, s.last_x));
    const size_t cy0 = static_cast<size_t>(std::clamp(py, 0, s.last_y)), cy1 = static_cast<size_t>(std::clamp(py + 1, 0, s.last_y));
    p00 = s.data + cy0 * s.step + 3 * cx0;
    p01 = s.data + cy0 * s.step + 3 * cx1;
    p10 = s.data + cy1 * s.step + 3 * cx0;
    p11 = s.data + cy1 * s.step + 3 * cx1;
  }
  for (int c = 0; c < 3; ++c)
    target[c] = static_cast<uchar>((gy * (gx * p00[c] + fx * p01[c]) + fy * (gx * p10[c] + fx * p11[c]) + kHalfWeight) >> kWeightBits);
}

void warp_span_portable(const WarpSource& s, const SpanGeometry& g, int n, uchar* target) {
  for (int k = 0; k < n; ++k) warp_pixel(s, g, k, target + 3 * k);
}

#ifdef SONIC_WARP_X86
#define SONIC_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

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

SONIC_AVX2_INLINE __m256i shuffle_constant(const signed char (&bytes)[32]) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
}

// The four taps of eight pixels (4 bytes each, in pixel order: B G R and a byte of the next
// pixel).
struct Taps {
  __m256i top_left, top_right, bottom_left, bottom_right;
};

// Eight pixels' source positions: whole pixels (px, py) and 1/32 fractions (fx, fy).
struct Block {
  __m256i px, py, fx, fy;
};

// What one span's blocks share: its geometry and the kernels' constants.
struct Span {
  __m256d dx, dy, sx0, sy0;
  __m256i frac, steps, row_step, limit_x, limit_y, minus_one, half;
  __m256i low[3], high[3], pack, split;

  SONIC_AVX2_INLINE Span(const WarpSource& s, const SpanGeometry& g)
      : dx(_mm256_set1_pd(g.dx)),
        dy(_mm256_set1_pd(g.dy)),
        sx0(_mm256_set1_pd(g.sx0)),
        sy0(_mm256_set1_pd(g.sy0)),
        frac(_mm256_set1_epi32(kSteps - 1)),
        steps(_mm256_set1_epi32(kSteps)),
        row_step(_mm256_set1_epi32(static_cast<int>(s.step))),
        limit_x(_mm256_set1_epi32(s.last_x - 2)),
        limit_y(_mm256_set1_epi32(s.last_y - 1)),
        minus_one(_mm256_set1_epi32(-1)),
        half(_mm256_set1_epi32(kHalfWeight)),
        low{shuffle_constant(kLow[0]), shuffle_constant(kLow[1]), shuffle_constant(kLow[2])},
        high{shuffle_constant(kHigh[0]), shuffle_constant(kHigh[1]), shuffle_constant(kHigh[2])},
        pack(shuffle_constant(kPack)),
        split(shuffle_constant(kSplit)) {}

  // Pixels k … k+7. No FMA: a fused multiply-add would round positions differently from the
  // portable code.
  SONIC_AVX2_INLINE Block block(int k) const {
    const __m256d lo = _mm256_setr_pd(k, k + 1, k + 2, k + 3), hi = _mm256_setr_pd(k + 4, k + 5, k + 6, k + 7);
    const __m256i ix = _mm256_set_m128i(_mm256_cvtpd_epi32(_mm256_add_pd(sx0, _mm256_mul_pd(hi, dx))),
                                        _mm256_cvtpd_epi32(_mm256_add_pd(sx0, _mm256_mul_pd(lo, dx))));
    const __m256i iy = _mm256_set_m128i(_mm256_cvtpd_epi32(_mm256_add_pd(sy0, _mm256_mul_pd(hi, dy))),
                                        _mm256_cvtpd_epi32(_mm256_add_pd(sy0, _mm256_mul_pd(lo, dy))));
    return {_mm256_srai_epi32(ix, kStepBits), _mm256_srai_epi32(iy, kStepBits), _mm256_and_si256(ix, frac),
            _mm256_and_si256(iy, frac)};
  }

  // 0 ≤ px ≤ last_x - 2 (an 8-byte read at the left tap stays in the row) and
  // 0 ≤ py ≤ last_y - 1, for all eight: no tap is clamped.
  SONIC_AVX2_INLINE bool inside(const Block& b) const {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i outside =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(b.px, limit_x), _mm256_cmpgt_epi32(b.py, limit_y)),
                        _mm256_or_si256(_mm256_cmpgt_epi32(zero, b.px), _mm256_cmpgt_epi32(zero, b.py)));
    return _mm256_testz_si256(outside, minus_one);
  }

  // Eight bytes from each tap pair's left pixel hold both taps (B G R, then the next pixel's
  // B G R). Plain loads, not gathers: on the AMD servers we measured, vpgatherdd cost more
  // than the loads it replaces. Pixels 0 1 4 5 go in one register and 2 3 6 7 in the other,
  // so after the in-lane shuffle the 64-bit unpacks put them back in order.
  SONIC_AVX2_INLINE Taps load_taps(const uchar* source, const Block& b) const {
    const __m256i offset = _mm256_add_epi32(_mm256_mullo_epi32(b.py, row_step), _mm256_add_epi32(b.px, _mm256_add_epi32(b.px, b.px)));
    alignas(32) int at[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(at), offset);
    const auto eight = [source](int where) {
      long long value;
      std::memcpy(&value, source + where, 8);
      return value;
    };
    const int down = _mm256_cvtsi256_si32(row_step);
    const __m256i top_a = _mm256_shuffle_epi8(_mm256_setr_epi64x(eight(at[0]), eight(at[1]), eight(at[4]), eight(at[5])), split);
    const __m256i top_b = _mm256_shuffle_epi8(_mm256_setr_epi64x(eight(at[2]), eight(at[3]), eight(at[6]), eight(at[7])), split);
    const __m256i bottom_a = _mm256_shuffle_epi8(
        _mm256_setr_epi64x(eight(at[0] + down), eight(at[1] + down), eight(at[4] + down), eight(at[5] + down)), split);
    const __m256i bottom_b = _mm256_shuffle_epi8(
        _mm256_setr_epi64x(eight(at[2] + down), eight(at[3] + down), eight(at[6] + down), eight(at[7] + down)), split);
    return {_mm256_unpacklo_epi64(top_a, top_b), _mm256_unpackhi_epi64(top_a, top_b), _mm256_unpacklo_epi64(bottom_a, bottom_b),
            _mm256_unpackhi_epi64(bottom_a, bottom_b)};
  }

  // One channel of eight pixels, in the low byte of each 32-bit lane: each row's two taps
  // paired in 16-bit lanes so one multiply-add blends them, then the two rows the same way.
  SONIC_AVX2_INLINE __m256i blend_channel(const Taps& t, const __m256i& wx, const __m256i& wy, int c) const {
    const __m256i top = _mm256_madd_epi16(
        _mm256_or_si256(_mm256_shuffle_epi8(t.top_left, low[c]), _mm256_shuffle_epi8(t.top_right, high[c])), wx);
    const __m256i bottom = _mm256_madd_epi16(
        _mm256_or_si256(_mm256_shuffle_epi8(t.bottom_left, low[c]), _mm256_shuffle_epi8(t.bottom_right, high[c])), wx);
    const __m256i sum = _mm256_madd_epi16(_mm256_or_si256(top, _mm256_slli_epi32(bottom, 16)), wy);
    return _mm256_srli_epi32(_mm256_add_epi32(sum, half), kWeightBits);
  }

  // Blends the taps with the block's weights and writes the eight BGR pixels (24 bytes).
  SONIC_AVX2_INLINE void blend_and_store(const Taps& taps, const Block& b, uchar* target) const {
    // (gx, fx) and (gy, fy) as 16-bit pairs.
    const __m256i wx = _mm256_or_si256(_mm256_sub_epi32(steps, b.fx), _mm256_slli_epi32(b.fx, 16));
    const __m256i wy = _mm256_or_si256(_mm256_sub_epi32(steps, b.fy), _mm256_slli_epi32(b.fy, 16));
    const __m256i bgr = _mm256_or_si256(blend_channel(taps, wx, wy, 0),
                                        _mm256_or_si256(_mm256_slli_epi32(blend_channel(taps, wx, wy, 1), 8),
                                                        _mm256_slli_epi32(blend_channel(taps, wx, wy, 2), 16)));
    alignas(32) uchar bytes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), _mm256_shuffle_epi8(bgr, pack));
    std::memcpy(target, bytes, 12);
    std::memcpy(target + 12, bytes + 16, 12);
  }
};

// Blocks of eight pixels over a span of n ≥ 8: `next` is where the next block starts, and the
// span's last block ends at its end, overlapping the block before it (where both give the same
// pixels), so no pixel is left to the slow path. Returns the block's first pixel.
inline int next_block(int& next, int n) {
  const int k = std::min(next, n - 8);
  next = k + 8;
  return k;
}

// A block that reaches the picture's edge, where taps are clamped.
void warp_block_portable(const WarpSource& s, const SpanGeometry& g, int k, uchar* target) {
  for (int j = k; j < k + 8; ++j) warp_pixel(s, g, j, target + 3 * j);
}

__attribute__((target("avx2"))) void warp_span_avx2(const WarpSource& s, const SpanGeometry& g, int n, uchar* target) {
  const Span span(s, g);
  for (int next = 0; next < n;) {
    const int k = next_block(next, n);
    const Block b = span.block(k);
    if (span.inside(b))
      span.blend_and_store(span.load_taps(s.data, b), b, target + 3 * k);
    else
      warp_block_portable(s, g, k, target);
  }
}

#define SONIC_VBMI_TARGET "avx2,avx512f,avx512vl,avx512bw,avx512vbmi"

// GCC 12's header passes an undefined vector as the unused merge source of the unmasked
// permute and then warns about it; nothing reads it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// When all eight pixels read rows py and py+1 and their left taps lie within 8 pixels of the
// first one's, the 32 bytes from the first left tap on each row hold every tap: the left tap
// of pixel j is bytes 3r…3r+3 (r = px_j - px_0; B G R and the next byte, as load_taps gives
// them) and the right tap bytes 3r+3…3r+6, so two byte permutes per row fetch all of them.
// Else (or when a 32-byte read would pass the picture's last byte) the plain loads.
__attribute__((target(SONIC_VBMI_TARGET), always_inline)) inline Taps permute_taps(const WarpSource& s, const Span& span,
                                                                                  const Block& b) {
  const int px0 = _mm256_cvtsi256_si32(b.px), py0 = _mm256_cvtsi256_si32(b.py);
  const __m256i r = _mm256_sub_epi32(b.px, _mm256_set1_epi32(px0));
  // 0 ≤ r ≤ 8 (unsigned) and one pair of rows for all eight.
  const __mmask8 near = _mm256_cmple_epu32_mask(r, _mm256_set1_epi32(8)) & _mm256_cmpeq_epi32_mask(b.py, _mm256_set1_epi32(py0));
  const size_t first = static_cast<size_t>(py0) * s.step + 3 * static_cast<size_t>(px0);
  if (near != 0xFF || first + s.step + 32 > s.step * static_cast<size_t>(s.last_y + 1)) return span.load_taps(s.data, b);
  const __m256i top = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data + first));
  const __m256i bottom = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data + first + s.step));
  // 3r in each of the lane's four bytes, plus 0 1 2 3; the right taps 3 bytes on.
  const __m256i each_byte =
      _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  const __m256i left = _mm256_add_epi8(_mm256_shuffle_epi8(_mm256_add_epi32(r, _mm256_add_epi32(r, r)), each_byte),
                                       _mm256_set1_epi32(0x03020100));
  const __m256i right = _mm256_add_epi8(left, _mm256_set1_epi8(3));
  return {_mm256_permutexvar_epi8(left, top), _mm256_permutexvar_epi8(right, top), _mm256_permutexvar_epi8(left, bottom),
          _mm256_permutexvar_epi8(right, bottom)};
}

__attribute__((target(SONIC_VBMI_TARGET))) void warp_span_vbmi(const WarpSource& s, const SpanGeometry& g, int n, uchar* target) {
  const Span span(s, g);
  for (int next = 0; next < n;) {
    const int k = next_block(next, n);
    const Block b = span.block(k);
    if (span.inside(b))
      span.blend_and_store(permute_taps(s, span, b), b, target + 3 * k);
    else
      warp_block_portable(s, g, k, target);
  }
}
#pragma GCC diagnostic pop

WarpKernel detect_best() {
  if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx2"))
    return WarpKernel::avx512_vbmi;
  if (__builtin_cpu_supports("avx2")) return WarpKernel::avx2;
  return WarpKernel::portable;
}
#else
WarpKernel detect_best() { return WarpKernel::portable; }
#endif

std::atomic<WarpKernel> kernel_cap{WarpKernel::avx512_vbmi};

}  // namespace

WarpKernel best_warp_kernel() {
  static const WarpKernel best = detect_best();
  return best;
}

WarpKernel warp_kernel() { return std::min(best_warp_kernel(), kernel_cap.load(std::memory_order_relaxed)); }

void cap_warp_kernel(WarpKernel highest) { kernel_cap = highest; }

const char* warp_kernel_name(WarpKernel kernel) {
  switch (kernel) {
    case WarpKernel::avx512_vbmi:
      return "avx512_vbmi";
    case WarpKernel::avx2:
      return "avx2";
    case WarpKernel::portable:
      break;
  }
  return "portable";
}

void warp_span(const WarpSource& s, const SpanGeometry& g, int n, uchar* target) {
#ifdef SONIC_WARP_X86
  // The vector kernels keep byte offsets in 32-bit lanes.
  const bool offsets_fit = s.step * static_cast<size_t>(s.last_y + 1) < static_cast<size_t>(INT32_MAX) - s.step;
  if (n >= 8 && offsets_fit) {
    switch (warp_kernel()) {
      case WarpKernel::avx512_vbmi:
        return warp_span_vbmi(s, g, n, target);
      case WarpKernel::avx2:
        return warp_span_avx2(s, g, n, target);
      case WarpKernel::portable:
        break;
    }
  }
#endif
  warp_span_portable(s, g, n, target);
}

}  // namespace sonic::engine::classic
