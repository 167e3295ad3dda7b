// Percent-decoding (RFC 3986 §2.1) and application/x-www-form-urlencoded query strings.
// Strict: a `%` not followed by two hex digits is an error, never passed through, so a
// path or parameter has one meaning. Plain C++.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sonic::http::wire {

// The value of a hex digit, or -1.
int hex_digit(char c);

// Decodes %XX escapes; `plus_is_space` for query strings. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `a=1&b=&c` → {a,1} {b,""} {c,""}, decoded; empty items are skipped. nullopt when an
// escape is malformed.
std::optional<QueryParams> parse_query(std::string_view query);

}  // namespace sonic::http::wire
