// The response head our outbound client reads (http/outbound/): status line and header
// fields of an HTTP/1.x response (RFC 9112 §4–§6), parsed strictly enough that the body's
// framing is never a guess: a status line `HTTP/1.x SP 3DIGIT [SP reason]`, lines ending
// in CRLF, field names that are tokens followed directly by `:`, no control characters in
// values, at most kMaxFields fields; Content-Length 1–18 digits and never two different
// values; Transfer-Encoding only `chunked` (as the last coding) and then Content-Length is
// ignored, as RFC 9112 §6.3 says. Anything else → nullopt with the reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/wire/request_head.h"

namespace sonic::http::wire {

struct ResponseHead {
  int status = 0;
  int minor_version = 1;
  std::vector<HeaderField> fields;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;  // Connection: close, or HTTP/1.0 without keep-alive

  std::string_view field(std::string_view name) const;
};

inline constexpr std::size_t kMaxResponseFields = 100;

// `head` is the status line to the empty line, inclusive (as found by find_head_end).
std::optional<ResponseHead> parse_response_head(std::string_view head, std::string& why);
// Bytes up to and including the CRLFCRLF that ends the head in `buffer`, or 0 when it is
// not there yet.
std::size_t find_head_end(std::string_view buffer);

}  // namespace sonic::http::wire
