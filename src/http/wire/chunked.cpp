// The incremental chunked decoder (see chunked.h).
#include "http/wire/chunked.h"

#include "http/wire/query.h"
#include "http/wire/request_head.h"

namespace sonic::http::wire {

namespace {
bool is_ctl(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c < 0x20 && c != '\t') || c == 0x7f;
}
}  // namespace

ChunkedDecoder::Status ChunkedDecoder::fail(std::string message) {
  state_ = State::error;
  error_ = std::move(message);
  return Status::error;
}

ChunkedDecoder::Status ChunkedDecoder::next(std::string_view in, std::size_t& consumed, std::string_view& data) {
  if (state_ == State::error) return Status::error;
  std::size_t i = 0;
  auto finish = [&](Status s) {
    consumed += i;
    return s;
  };
  while (i < in.size()) {
    if (state_ == State::done) return finish(Status::done);
    char c = in[i];
    switch (state_) {
      case State::size: {
        int v = hex_digit(c);
        if (v >= 0) {
          if (++digits_ > 15) return finish(fail("A chunk size has more than 15 hex digits."));
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
          ++i;
          break;
        }
        if (digits_ == 0) return finish(fail("A chunk does not start with its size in hex."));
        if (c == '\r') state_ = State::size_lf;
        else if (c == ';' || c == ' ' || c == '\t') state_ = State::extension;
        else return finish(fail("A chunk size is followed by an unexpected character."));
        ++i;
        break;
      }
      case State::extension:
        if (c == '\r') {
          state_ = State::size_lf;
        } else {
          if (is_ctl(c)) return finish(fail("A chunk extension has a control character."));
          if (++extension_bytes_ > kMaxExtensionBytes) return finish(fail("A chunk extension is too long."));
        }
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return finish(fail("A chunk size line does not end with CRLF."));
        ++i;
        digits_ = 0;
        extension_bytes_ = 0;
        state_ = remaining_ == 0 ? State::trailer : State::data;
        break;
      case State::data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
        data = in.substr(i, n);
        i += n;
        remaining_ -= n;
        payload_ += n;
        if (remaining_ == 0) state_ = State::data_cr;
        return finish(Status::data);
      }
      case State::data_cr:
        if (c != '\r') return finish(fail("A chunk's data is longer than its size says."));
        state_ = State::data_lf;
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return finish(fail("A chunk's data is not followed by CRLF."));
        state_ = State::size;
        ++i;
        break;
      case State::trailer:
        if (c == '\r') {
          state_ = State::trailer_lf;
        } else {
          if (c == '\n') return finish(fail("A trailer line does not end with CRLF."));
          if (trailer_line_ == 0 && (c == ' ' || c == '\t')) trailer_line_bad_ = true;
          if (is_ctl(c)) trailer_line_bad_ = true;
          if (c == ':' && !trailer_colon_) {
            if (trailer_line_ == 0) trailer_line_bad_ = true;
            trailer_colon_ = true;
          }
          else if (!trailer_colon_ && !is_tchar(c)) trailer_line_bad_ = true;
          ++trailer_line_;
        }
        if (++trailer_bytes_ > kMaxTrailerBytes) return finish(fail("The chunked trailer is too large."));
        ++i;
        break;
      case State::trailer_lf:
        if (c != '\n') return finish(fail("A trailer line does not end with CRLF."));
        ++i;
        if (trailer_line_ == 0) {
          state_ = State::done;
          return finish(Status::done);
        }
        if (trailer_line_bad_ || !trailer_colon_) return finish(fail("A trailer line is not a header field."));
        trailer_line_ = 0;
        trailer_colon_ = false;
        trailer_line_bad_ = false;
        state_ = State::trailer;
        break;
      case State::done:
      case State::error: break;
    }
  }
  return finish(state_ == State::done ? Status::done : Status::need_more);
}

}  // namespace sonic::http::wire
