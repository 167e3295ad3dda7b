// libFuzzer target: the Range header parser (src/http/wire/range.h). The first 8 bytes are
// the file size; every range returned lies inside the file, is well ordered, and the
// ranges of one answer never overlap (so a response is never larger than the file).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "http/wire/range.h"

using namespace sonic::http::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t file_size = 0;
  std::memcpy(&file_size, data, 8);
  file_size %= (1ull << 62);
  std::string_view header(reinterpret_cast<const char*>(data) + 8, size - 8);
  RangeRequest r = parse_range(header, file_size);
  if (r.kind != RangeRequest::Kind::partial) return 0;
  if (r.ranges.empty() || r.ranges.size() > kMaxRanges) std::abort();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < r.ranges.size(); ++i) {
    const auto& a = r.ranges[i];
    if (a.first > a.last || a.last >= file_size) std::abort();
    total += a.length();
    for (std::size_t j = i + 1; j < r.ranges.size(); ++j) {
      const auto& b = r.ranges[j];
      if (a.first <= b.last && b.first <= a.last) std::abort();
    }
  }
  if (total > file_size) std::abort();
  return 0;
}
