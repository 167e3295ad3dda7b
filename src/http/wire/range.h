// The Range request header for byte ranges (RFC 9110 §14.1–14.2), resolved against a
// representation of `size` bytes.
//
// Policy (docs/http-transport.md): `bytes=` with up to kMaxRanges ranges of the forms
// first-last, first- and -suffix. Ranges past the end are clipped; ranges that cannot be
// satisfied are dropped, and when none is left the answer is 416 with
// `Content-Range: bytes */size`. One range → 206 with Content-Range; several → 206
// multipart/byteranges in the order asked, except that overlapping or adjacent ranges are
// merged first (in file order), so a response is never larger than the file plus part
// headers. Another unit, a malformed header or more than kMaxRanges ranges: the header is
// ignored and the whole file is sent (RFC 9110 lets a server ignore Range).
//
// Plain C++.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace sonic::http::wire {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
};

struct RangeRequest {
  enum class Kind { whole, partial, unsatisfiable } kind = Kind::whole;
  std::vector<ByteRange> ranges;  // partial: one or more, resolved and clipped
};

constexpr std::size_t kMaxRanges = 16;

RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace sonic::http::wire
