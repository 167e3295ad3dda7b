// MultipartReader: multipart/form-data (RFC 7578 over RFC 2046) read as it streams in.
//
// Part data goes to the handler as it arrives (UploadSink writes it to disk), so a request
// holds at most one network buffer plus one delimiter length in memory. Part headers are
// bounded (kMaxPartHeadBytes, kMaxPartFields) and so is the number of parts. Refused, with
// the form field named when it is known: a part without `Content-Disposition: form-data;
// name=…`, a name or filename with CR, LF or NUL (a CRLF inside a quoted filename ends the
// header line and leaves the quote open), duplicate parameters, a field sent twice (file or
// text alike: which copy counts would be a guess), and a body that ends before the closing
// delimiter. An empty body, or one with the closing delimiter and no parts, is a form with
// no fields (the route then says which field is missing). `filename*` is ignored (RFC 7578
// §4.2 forbids it in form-data); the filename is for logs only.
//
// Plain C++; one reader per request.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace sonic::http::wire {

struct FormPart {
  std::string name;
  std::string filename;  // empty when the part is not a file
  bool has_filename = false;
  std::string content_type;  // as declared; never trusted
};

struct FormError {
  std::string message;
  std::string field;  // the form field at fault, when known
};

class MultipartReader {
 public:
  static constexpr std::size_t kMaxPartHeadBytes = 8 * 1024;
  static constexpr std::size_t kMaxPartFields = 16;
  static constexpr std::size_t kMaxParts = 32;

  // begin: a part starts (false = stop reading); data: bytes of the current part (false = stop).
  struct Handler {
    std::function<bool(const FormPart&)> begin;
    std::function<bool(std::string_view)> data;
  };

  MultipartReader(std::string boundary, Handler handler);

  // Feeds body bytes. False when reading stopped: a malformed body (error() is set) or a
  // handler that returned false.
  bool feed(std::string_view bytes);
  // The body ended. False (error() set) when it was cut off before the closing delimiter.
  bool finish();

  bool complete() const { return state_ == State::epilogue; }
  std::size_t parts() const { return names_.size(); }
  const std::optional<FormError>& error() const { return error_; }

 private:
  enum class State { preamble, after_delimiter, part_head, data, epilogue, stopped };
  bool fail(std::string message, std::string field = {});
  bool parse_part_head(std::string_view head);
  bool step();  // processes buf_ as far as possible; false when stopped

  std::string delimiter_;  // "\r\n--" + boundary
  Handler handler_;
  State state_ = State::preamble;
  std::string buf_;
  std::set<std::string> names_;
  std::optional<FormError> error_;
  bool any_bytes_ = false;
};

// The boundary of a `multipart/form-data; boundary=…` Content-Type, validated (RFC 2046:
// 1–70 characters of bchars, not ending in a space). nullopt with `why` set otherwise,
// including when the type is not multipart/form-data at all (`why` empty then).
std::optional<std::string> form_data_boundary(std::string_view content_type, std::string& why);

}  // namespace sonic::http::wire
