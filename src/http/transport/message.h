// Request and Response: what a route sees of HTTP — plain C++ values, no socket and no
// library type. The transport (transport.h) fills a Request from a parsed head and a body
// source, and writes a Response with the framing it decides itself (Content-Length,
// chunked for streams, Connection, Date, HEAD without a body), so no route can produce a
// message whose length means two things.
//
// Threads: a Request/Response pair belongs to the one worker thread serving it.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/wire/query.h"
#include "http/wire/request_head.h"

namespace sonic::http {

using wire::HeaderField;

// Where a request's body comes from: the client connection, or a string in tests.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Up to `size` bytes; 0 at the end of the body. Throws Error(request_timeout) when the
  // client stops sending or sends too slowly, Error(bad_request) for a malformed or cut-off
  // body, Error(shutting_down) when the server stops meanwhile.
  virtual std::size_t read(char* out, std::size_t size) = 0;
  virtual bool complete() const = 0;
  virtual std::uint64_t bytes_read() const = 0;
  // Reads and drops the rest, at most `max_bytes`; true when the end was reached. Reads
  // nothing when the declared length is larger than that, or when the client waits for
  // `100 Continue` (it has not sent the body: the connection will close instead).
  virtual bool discard(std::uint64_t max_bytes) = 0;
};

// A body held in memory (tests, fuzzing, and requests without a body).
class StringBody : public BodySource {
 public:
  explicit StringBody(std::string text = {}) : text_(std::move(text)) {}
  std::size_t read(char* out, std::size_t size) override;
  bool complete() const override { return pos_ == text_.size(); }
  std::uint64_t bytes_read() const override { return pos_; }
  bool discard(std::uint64_t max_bytes) override;

 private:
  std::string text_;
  std::size_t pos_ = 0;
};

class Request {
 public:
  wire::RequestHead head;
  std::string peer_address;  // the TCP peer ("127.0.0.1", "::1")
  int peer_port = 0;
  int local_port = 0;
  bool tls = false;
  std::map<std::string, std::string> params;  // path parameters ({id}), decoded, set by the router

  const std::string& method() const { return head.method; }
  const std::string& path() const { return head.path; }  // percent-encoded, without the query
  bool is_head() const { return head.method == "HEAD"; }
  std::string header(std::string_view name) const { return std::string(head.field(name)); }
  bool has_header(std::string_view name) const { return head.has_field(name); }
  // Decoded query parameters; Error(bad_request) when the query has a malformed escape.
  const wire::QueryParams& query() const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::string param(const std::string& name) const;

  BodySource& body() { return *body_; }
  void set_body(BodySource* body) { body_ = body; }

 private:
  StringBody empty_;
  BodySource* body_ = &empty_;
  mutable std::optional<wire::QueryParams> query_;
};

// A file descriptor opened for reading, closed by the last FileSlice that uses it.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const char* path) : fd_(::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) {}
  ~ReadOnlyFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Bytes [offset, offset + length) of a file, read with pread in bounded chunks while writing.
struct FileSlice {
  std::shared_ptr<const ReadOnlyFile> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

using BodyPiece = std::variant<std::string, FileSlice>;

// The writer handed to a streamed response (SSE). write() is false once the client is
// gone or stopped reading: stop then, it costs nothing more.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(std::string_view data) = 0;
};

class Response {
 public:
  int status = 200;
  std::vector<HeaderField> headers;
  // A body of known length, written in order (text and file slices)...
  std::vector<BodyPiece> body;
  // ...or, when set, a stream of unknown length: called once; returns when done.
  std::function<void(StreamSink&)> stream;
  // End the connection after this answer (e.g. a body was refused unread).
  bool close = false;

  void set_header(std::string_view name, std::string value);  // replaces
  void add_header(std::string name, std::string value);
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  void remove_header(std::string_view name);
  // A text body with its Content-Type.
  void set_content(std::string text, std::string content_type);
  std::uint64_t body_length() const;
};

}  // namespace sonic::http
