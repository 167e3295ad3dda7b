// Small text helpers for HTTP header values and comma-separated settings (RFC 9110 lists:
// items separated by commas, optional whitespace around them). Plain C++, header-only.
#pragma once

#include <string_view>
#include <vector>

namespace sonic::http {

// `s` without surrounding spaces, tabs, CR or LF.
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// The comma-separated items of `list`, trimmed, in order; empty items are kept (callers
// decide whether they matter).
inline std::vector<std::string_view> comma_items(std::string_view list) {
  std::vector<std::string_view> items;
  if (list.empty()) return items;
  for (std::size_t start = 0;;) {
    const auto comma = list.find(',', start);
    items.push_back(trim(list.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

}  // namespace sonic::http
