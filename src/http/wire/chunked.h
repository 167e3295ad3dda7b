// ChunkedDecoder: the chunked transfer coding (RFC 9112 §7.1), decoded incrementally as
// bytes arrive, without copying the data. Strict and bounded: chunk sizes are 1–15 hex
// digits (no overflow, no sign, no whitespace before them), lines end in CRLF, a chunk's
// data is followed by exactly CRLF, chunk extensions are skipped but limited to
// kMaxExtensionBytes a chunk, and trailer fields are checked and dropped, at most
// kMaxTrailerBytes in all. Anything else is an error and the connection must close.
//
// Plain C++; one decoder per request body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sonic::http::wire {

class ChunkedDecoder {
 public:
  enum class Status { data, need_more, done, error };
  static constexpr std::size_t kMaxExtensionBytes = 1024;
  static constexpr std::size_t kMaxTrailerBytes = 8 * 1024;

  // Consumes bytes of `in` from its start and adds their count to `consumed`. Returns
  // `data` with `data` set to a span of `in` (payload to hand on; call again with the rest
  // of `in`), `need_more` once all of `in` was consumed, `done` after the last chunk and
  // trailers (bytes after them belong to the next request and are not consumed), or `error`.
  Status next(std::string_view in, std::size_t& consumed, std::string_view& data);

  bool done() const { return state_ == State::done; }
  const std::string& error() const { return error_; }
  std::uint64_t payload_bytes() const { return payload_; }

 private:
  enum class State { size, extension, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done, error };
  Status fail(std::string message);

  State state_ = State::size;
  std::uint64_t remaining_ = 0;  // data bytes left in the current chunk
  int digits_ = 0;
  std::size_t extension_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t trailer_line_ = 0;  // bytes in the current trailer line
  bool trailer_line_bad_ = false;
  bool trailer_colon_ = false;
  std::uint64_t payload_ = 0;
  std::string error_;
};

}  // namespace sonic::http::wire
