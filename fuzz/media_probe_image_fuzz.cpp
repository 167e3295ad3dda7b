// Fuzz target: image content sniffing and header parsing (media/probe.h, probe_image) — the
// first code that reads an uploaded picture. Any input must end in ImageInfo or a
// sonic::Error; never a crash, a hang, another exception, or a size the limits forbid.
#include <cstdint>

#include "fuzz_input.h"
#include "media/probe.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sonic::fuzz::InputFile file;
  sonic::media::MediaLimits limits;
  limits.max_image_pixels = 40'000'000;
  try {
    const auto info = sonic::media::probe_image(file.write(data, size), limits);
    const std::int64_t longer = std::max(info.width, info.height), shorter = std::min(info.width, info.height);
    if (info.width <= 0 || info.height <= 0 || static_cast<std::int64_t>(info.width) * info.height > 40'000'000 ||
        longer > 8 * shorter)
      sonic::fuzz::broken_promise();
  } catch (const sonic::Error& e) {
    if (e.field() != "image" || e.message().empty()) sonic::fuzz::broken_promise();
  }
  return 0;
}
