// BGR → YUV 4:2:0, BT.709 limited range (see bgr_to_yuv.h).
#include "media/bgr_to_yuv.h"

#include <immintrin.h>

#include <array>

namespace sonic::media {
namespace {

// Coefficients × 65536, R G B order. Luma: Kr 0.2126, Kb 0.0722, scaled to 219 steps; chroma:
// (B − Y′)/1.8556 and (R − Y′)/1.5748 scaled to 224 steps. Each chroma row sums to 0, so a
// grey stays at 128 exactly.
constexpr int kYr = 11966, kYg = 40254, kYb = 4064;
constexpr int kUr = -6596, kUg = -22188, kUb = 28784;
constexpr int kVr = 28784, kVg = -26145, kVb = -2639;
constexpr int kYBias = (16 << 16) + (1 << 15);        // offset and rounding
constexpr int kCBias = (128 << 18) + (1 << 17);       // chroma from a sum of four pixels: 2 more bits

std::uint8_t luma(int r, int g, int b) { return static_cast<std::uint8_t>((kYr * r + kYg * g + kYb * b + kYBias) >> 16); }
std::uint8_t chroma(int cr, int cg, int cb, int sr, int sg, int sb) {
  return static_cast<std::uint8_t>((cr * sr + cg * sg + cb * sb + kCBias) >> 18);
}

// Pixels [from, width) of the row pair r0/r1 (width even).
void rows_portable(const std::uint8_t* r0, const std::uint8_t* r1, int from, int width, std::uint8_t* y0, std::uint8_t* y1,
                   std::uint8_t* u, std::uint8_t* v) {
  for (int x = from; x < width; x += 2) {
    int sr = 0, sg = 0, sb = 0;
    for (const auto& [row, out] : {std::pair{r0, y0}, std::pair{r1, y1}})
      for (int k = x; k < x + 2; ++k) {
        const std::uint8_t* p = row + 3 * k;
        out[k] = luma(p[2], p[1], p[0]);
        sb += p[0];
        sg += p[1];
        sr += p[2];
      }
    u[x / 2] = chroma(kUr, kUg, kUb, sr, sg, sb);
    v[x / 2] = chroma(kVr, kVg, kVb, sr, sg, sb);
  }
}

// The pshufb masks that gather channel `c` (0 B, 1 G, 2 R) of 16 packed BGR pixels from the
// k-th of their three 16-byte blocks into its place among the 16 (0x80: take nothing).
constexpr std::array<std::uint8_t, 16> gather_mask(int c, int k) {
  std::array<std::uint8_t, 16> m{};
  for (int j = 0; j < 16; ++j) {
    const int at = 3 * j + c - 16 * k;
    m[static_cast<size_t>(j)] = at >= 0 && at < 16 ? static_cast<std::uint8_t>(at) : 0x80;
  }
  return m;
}
constexpr std::array<std::array<std::array<std::uint8_t, 16>, 3>, 3> kGather = {{
    {gather_mask(0, 0), gather_mask(0, 1), gather_mask(0, 2)},
    {gather_mask(1, 0), gather_mask(1, 1), gather_mask(1, 2)},
    {gather_mask(2, 0), gather_mask(2, 1), gather_mask(2, 2)},
}};

#define SONIC_AVX2 __attribute__((target("avx2"), always_inline)) inline

// Channel `c` of 16 packed BGR pixels, whose 48 bytes are a0 a1 a2.
SONIC_AVX2 __m128i channel(__m128i a0, __m128i a1, __m128i a2, int c) {
  const auto& masks = kGather[static_cast<size_t>(c)];
  const __m128i m0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(masks[0].data()));
  const __m128i m1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(masks[1].data()));
  const __m128i m2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(masks[2].data()));
  return _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a0, m0), _mm_shuffle_epi8(a1, m1)), _mm_shuffle_epi8(a2, m2));
}

// 16 pixels (48 bytes) as three planes of 16 bytes: b, g, r.
SONIC_AVX2 void deinterleave(const std::uint8_t* p, __m128i& b, __m128i& g, __m128i& r) {
  const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
  const __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
  b = channel(a0, a1, a2, 0);
  g = channel(a0, a1, a2, 1);
  r = channel(a0, a1, a2, 2);
}

// Luma of the first 8 pixels of the planes, as 8 × int32.
SONIC_AVX2 __m256i luma8(__m128i b, __m128i g, __m128i r) {
  __m256i y = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(r), _mm256_set1_epi32(kYr));
  y = _mm256_add_epi32(y, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(g), _mm256_set1_epi32(kYg)));
  y = _mm256_add_epi32(y, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(b), _mm256_set1_epi32(kYb)));
  return _mm256_srai_epi32(_mm256_add_epi32(y, _mm256_set1_epi32(kYBias)), 16);
}

// 16 luma bytes from 16 pixels' planes.
SONIC_AVX2 __m128i luma16(__m128i b, __m128i g, __m128i r) {
  const __m256i lo = luma8(b, g, r);
  const __m256i hi = luma8(_mm_srli_si128(b, 8), _mm_srli_si128(g, 8), _mm_srli_si128(r, 8));
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);  // in pixel order
  return _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}

// 8 chroma bytes from the 2×2 sums (8 × int16 each).
SONIC_AVX2 __m128i chroma8(int cr, int cg, int cb, __m128i sr, __m128i sg, __m128i sb) {
  __m256i c = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(sr), _mm256_set1_epi32(cr));
  c = _mm256_add_epi32(c, _mm256_mullo_epi32(_mm256_cvtepi16_epi32(sg), _mm256_set1_epi32(cg)));
  c = _mm256_add_epi32(c, _mm256_mullo_epi32(_mm256_cvtepi16_epi32(sb), _mm256_set1_epi32(cb)));
  c = _mm256_srai_epi32(_mm256_add_epi32(c, _mm256_set1_epi32(kCBias)), 18);
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
  return _mm_packus_epi16(words, words);
}

// Whole blocks of 16 pixels of the row pair; returns how many pixels it did.
__attribute__((target("avx2"))) int rows_avx2(const std::uint8_t* r0, const std::uint8_t* r1, int width, std::uint8_t* y0,
                                              std::uint8_t* y1, std::uint8_t* u, std::uint8_t* v) {
  const __m128i ones = _mm_set1_epi8(1);
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    __m128i b0, g0, rr0, b1, g1, rr1;
    deinterleave(r0 + 3 * x, b0, g0, rr0);
    deinterleave(r1 + 3 * x, b1, g1, rr1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y0 + x), luma16(b0, g0, rr0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y1 + x), luma16(b1, g1, rr1));
    // Neighbours summed across (u8 × 1 pairwise adds), then the two rows: 2×2 sums ≤ 1020.
    const __m128i sb = _mm_add_epi16(_mm_maddubs_epi16(b0, ones), _mm_maddubs_epi16(b1, ones));
    const __m128i sg = _mm_add_epi16(_mm_maddubs_epi16(g0, ones), _mm_maddubs_epi16(g1, ones));
    const __m128i sr = _mm_add_epi16(_mm_maddubs_epi16(rr0, ones), _mm_maddubs_epi16(rr1, ones));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(u + x / 2), chroma8(kUr, kUg, kUb, sr, sg, sb));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(v + x / 2), chroma8(kVr, kVg, kVb, sr, sg, sb));
  }
  return x;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

void convert(const std::uint8_t* bgr, std::ptrdiff_t stride, int width, int height, const YuvPlanes& out, bool vector) {
  for (int y = 0; y + 1 < height; y += 2) {
    const std::uint8_t* r0 = bgr + y * stride;
    const std::uint8_t* r1 = r0 + stride;
    std::uint8_t* y0 = out.y + y * out.y_stride;
    std::uint8_t* y1 = y0 + out.y_stride;
    std::uint8_t* u = out.u + (y / 2) * out.u_stride;
    std::uint8_t* v = out.v + (y / 2) * out.v_stride;
    const int done = vector ? rows_avx2(r0, r1, width, y0, y1, u, v) : 0;
    rows_portable(r0, r1, done, width, y0, y1, u, v);
  }
}

}  // namespace

void bgr_to_yuv420(const std::uint8_t* bgr, std::ptrdiff_t bgr_stride, int width, int height, const YuvPlanes& out) {
  convert(bgr, bgr_stride, width, height, out, has_avx2());
}

void bgr_to_yuv420_portable(const std::uint8_t* bgr, std::ptrdiff_t bgr_stride, int width, int height,
                            const YuvPlanes& out) {
  convert(bgr, bgr_stride, width, height, out, false);
}

const char* bgr_to_yuv_kernel_name() { return has_avx2() ? "avx2" : "portable"; }

}  // namespace sonic::media
