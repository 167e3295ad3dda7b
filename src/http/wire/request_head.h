// http/wire/ — HTTP/1.1 as bytes: pure functions and small state machines with no socket,
// no thread and no allocation beyond their own, so each can be unit-tested and fuzzed
// (fuzz/*_fuzz.cpp). The transport (http/transport/) feeds them what the network gives.
//
// This file: the request head (RFC 9112 §2–§6), parsed strictly. Anything a proxy in
// front of us could read differently is refused instead of guessed, because the answer to
// "which bytes are the next request" must be the same for every hop (request smuggling):
//   - request line `METHOD SP origin-form SP HTTP/1.x CRLF` with single spaces, a token
//     method, a target starting with `/` (`*` only for OPTIONS), at most 8 KiB (414);
//   - header lines end in CRLF (a bare LF is refused), names are tokens followed directly
//     by `:`, values have no control characters but HTAB; obsolete line folding → 400;
//   - at most `max_headers` fields and `max_head_bytes` bytes of head → 431;
//   - framing: Content-Length is 1–18 digits and appears once; Transfer-Encoding is exactly
//     `chunked`, never with Content-Length, never on HTTP/1.0; anything else → 400;
//   - HTTP/1.1 has exactly one Host; versions other than 1.0/1.1 → 505.
// Leading empty lines before the request line are skipped (RFC 9112 §2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace sonic::http::wire {

// Why bytes were refused: the status and API code of the answer, and a sentence for it.
struct Refusal {
  int status = 400;
  ErrorCode code = ErrorCode::bad_request;
  std::string message;
};

struct HeadLimits {
  std::size_t max_head_bytes = 16 * 1024;  // request line + fields + the empty line
  std::size_t max_headers = 100;
  std::size_t max_target_bytes = 8 * 1024;
};

struct HeaderField {
  std::string name;   // as sent
  std::string value;  // without surrounding whitespace
};

struct RequestHead {
  std::string method;  // case-sensitive token, e.g. "GET"
  std::string target;  // as sent: "/api/jobs?limit=5" or "*"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // after '?', without it; still encoded
  int minor_version = 1;  // HTTP/1.<minor>: 0 or 1
  std::vector<HeaderField> fields;
  // Framing, decided here once: exactly one of these, or neither (no body).
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;       // HTTP/1.1 unless `Connection: close`; 1.0 only with keep-alive
  bool expect_continue = false; // `Expect: 100-continue` on HTTP/1.1

  // The first value of field `name` (case-insensitive), or "" when absent.
  std::string_view field(std::string_view name) const;
  bool has_field(std::string_view name) const;
  bool has_body() const { return chunked || (content_length && *content_length > 0); }
};

// Finds the end of a head as bytes arrive, refusing early what can never become a valid
// head (bare LF, too many lines or bytes, a request line over the target limit), so a
// flood costs at most max_head_bytes of memory. Keeps its position between calls.
class HeadScanner {
 public:
  enum class Result { need_more, complete, refused };
  explicit HeadScanner(HeadLimits limits = {}) : limits_(limits) {}

  // `buffer` is every byte received for this head so far (it only grows between calls).
  Result scan(std::string_view buffer);
  // Once complete: bytes of the head including the final empty line (and skipped leading
  // empty lines); the body or next request starts there.
  std::size_t head_bytes() const { return end_; }
  // Leading empty lines skipped before the request line.
  std::size_t skipped_bytes() const { return skipped_; }
  const Refusal& refusal() const { return refusal_; }
  void reset() { *this = HeadScanner(limits_); }

 private:
  Result refuse(int status, ErrorCode code, std::string message);
  HeadLimits limits_;
  std::size_t pos_ = 0;        // next byte to look at
  std::size_t line_start_ = 0;
  std::size_t lines_ = 0;      // complete non-empty lines (request line + fields)
  std::size_t skipped_ = 0;
  std::size_t end_ = 0;
  Refusal refusal_;
};

// Parses a complete head (what HeadScanner found: request line to the empty line, leading
// empty lines already removed). Returns the head, or sets `refusal` and returns nullopt.
std::optional<RequestHead> parse_request_head(std::string_view head, const HeadLimits& limits, Refusal& refusal);

// RFC 9110 token characters.
bool is_tchar(char c);
// ASCII case-insensitive comparison.
bool iequals(std::string_view a, std::string_view b);

}  // namespace sonic::http::wire
