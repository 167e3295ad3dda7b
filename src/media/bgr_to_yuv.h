// BGR → YUV 4:2:0 for the H.264 encoder: BT.709, limited range (Y 16–235, U/V 16–240), the
// tags the MP4 writer sets. Each chroma sample is the mean of its 2×2 pixels (centred
// between them). Fixed point with 16 fraction bits, so every value is within half a step of
// the exact formula; the AVX2 kernel (chosen at run time) and the portable one give the same
// bytes.
//
// It replaced libswscale in the writer: swscale's BGR24 input has no vector path for this
// conversion on x86 and took about 0.8 ns a pixel (6 % of a classic-engine job's CPU); this
// one does 16 pixels at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sonic::media {

struct YuvPlanes {
  std::uint8_t* y;
  std::uint8_t* u;
  std::uint8_t* v;
  std::ptrdiff_t y_stride, u_stride, v_stride;  // bytes
};

// `bgr`: rows of width×3 bytes, `bgr_stride` apart; width and height even and > 0. Reads
// nothing outside the rows, writes width×height luma and (width/2)×(height/2) of each chroma.
void bgr_to_yuv420(const std::uint8_t* bgr, std::ptrdiff_t bgr_stride, int width, int height, const YuvPlanes& out);

// The same with the portable kernel only (for tests and benchmarks).
void bgr_to_yuv420_portable(const std::uint8_t* bgr, std::ptrdiff_t bgr_stride, int width, int height,
                            const YuvPlanes& out);

// "avx2" or "portable": the kernel bgr_to_yuv420 uses on this CPU.
const char* bgr_to_yuv_kernel_name();

}  // namespace sonic::media
