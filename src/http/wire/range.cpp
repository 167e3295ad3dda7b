// Range header parsing (see range.h).
#include "http/wire/range.h"

#include <algorithm>
#include <optional>

#include "http/wire/request_head.h"

namespace sonic::http::wire {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 1–19 digits (no sign, no overflow); nullopt otherwise.
std::optional<std::uint64_t> digits(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  RangeRequest whole;
  header = trim(header);
  std::size_t eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return whole;
  std::string_view set = header.substr(eq + 1);
  std::vector<ByteRange> ranges;
  std::size_t specs = 0;
  while (true) {
    std::size_t comma = set.find(',');
    std::string_view spec = trim(set.substr(0, comma));
    if (!spec.empty()) {  // empty list elements are allowed and ignored (RFC 9110 §5.6.1)
      if (++specs > kMaxRanges) return whole;
      std::size_t dash = spec.find('-');
      if (dash == std::string_view::npos) return whole;
      std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
      if (a.empty()) {  // -suffix: the last N bytes
        auto n = digits(b);
        if (!n) return whole;
        if (*n > 0 && size > 0) ranges.push_back({size - std::min(*n, size), size - 1});
      } else {
        auto first = digits(a);
        if (!first) return whole;
        std::uint64_t last = size == 0 ? 0 : size - 1;
        if (!b.empty()) {
          auto l = digits(b);
          if (!l || *l < *first) return whole;  // invalid range-spec: ignore the header
          last = std::min(*l, last);
        }
        if (*first < size) ranges.push_back({*first, last});
      }
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (specs == 0) return whole;
  RangeRequest out;
  if (ranges.empty()) {
    out.kind = RangeRequest::Kind::unsatisfiable;
    return out;
  }
  bool overlap = false;
  for (std::size_t i = 0; i < ranges.size() && !overlap; ++i)
    for (std::size_t j = i + 1; j < ranges.size() && !overlap; ++j)
      overlap = ranges[i].first <= ranges[j].last + 1 && ranges[j].first <= ranges[i].last + 1;
  if (overlap) {
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& x, const ByteRange& y) { return x.first < y.first; });
    std::vector<ByteRange> merged;
    for (const auto& r : ranges) {
      if (!merged.empty() && r.first <= merged.back().last + 1) merged.back().last = std::max(merged.back().last, r.last);
      else merged.push_back(r);
    }
    ranges = std::move(merged);
  }
  out.kind = RangeRequest::Kind::partial;
  out.ranges = std::move(ranges);
  return out;
}

}  // namespace sonic::http::wire
