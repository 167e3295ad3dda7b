// One row span of the face warp: `n` output pixels in a row, each resampled bilinearly from
// the still at a source position that moves by a fixed step per pixel (a triangle's affine
// map along one row; face_warper.cpp walks the triangles and their rows).
//
// Positions are rounded to 1/32 pixel and the four taps weighted as cv::remap's fixed-point
// INTER_LINEAR does, with BORDER_REPLICATE. Three kernels give the same pixels, bit for bit:
// the portable one; AVX2, eight pixels at a time, each pixel's two rows of taps fetched with
// one 8-byte load per row; and, where the CPU has AVX-512 VBMI, the AVX2 kernel with a
// faster fetch: when a block's eight pixels read from one pair of rows and within ten pixels
// of each other (as nearly always in a face, whose warp is close to a shift), one 32-byte load
// per row and two byte permutes replace the sixteen small loads. The best kernel the CPU has
// is chosen at run time; tests can cap it.
#pragma once

#include <cstddef>
#include <opencv2/core.hpp>

namespace sonic::engine::classic {

// Sub-pixel precision of the warp: source positions in 1/kWarpSteps pixel, as cv::remap's
// fixed-point maps (INTER_BITS = 5).
inline constexpr int kWarpStepBits = 5;
inline constexpr int kWarpSteps = 1 << kWarpStepBits;

// The still picture a span reads: BGR 8-bit, `step` bytes per row.
struct WarpSource {
  const uchar* data = nullptr;
  size_t step = 0;
  int last_x = 0, last_y = 0;  // cols - 1, rows - 1
};

// Pixel k of the span (0 ≤ k < n) samples the still at (sx0 + k·dx, sy0 + k·dy), in
// 1/kWarpSteps pixels. Each position is computed from the span's start (not accumulated), so
// every kernel rounds it the same way.
struct SpanGeometry {
  double sx0, sy0, dx, dy;
};

enum class WarpKernel { portable, avx2, avx512_vbmi };

// Writes n BGR pixels at `target`.
void warp_span(const WarpSource& source, const SpanGeometry& g, int n, uchar* target);

// The kernel warp_span uses: the best this CPU has, at most the cap. For tests and
// benchmarks; process-wide.
WarpKernel warp_kernel();
void cap_warp_kernel(WarpKernel highest);
// The best kernel this CPU has.
WarpKernel best_warp_kernel();
const char* warp_kernel_name(WarpKernel kernel);  // "portable", "avx2", "avx512_vbmi"

}  // namespace sonic::engine::classic
