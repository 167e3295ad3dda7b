// Response serialisation (see response_writer.h).
#include "http/transport/response_writer.h"

#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

namespace sonic::http {

namespace {

constexpr std::size_t kFileChunk = 256 * 1024;
constexpr std::size_t kCoalesce = 64 * 1024;  // text bodies up to this go out with the head

bool body_forbidden(int status) { return status == 204 || status == 304 || (status >= 100 && status < 200); }

bool is_framing_field(std::string_view name) {
  return wire::iequals(name, "Content-Length") || wire::iequals(name, "Transfer-Encoding") ||
         wire::iequals(name, "Connection") || wire::iequals(name, "Date") || wire::iequals(name, "Keep-Alive");
}

class ChunkedSink : public StreamSink {
 public:
  ChunkedSink(Stream& s, bool chunked, std::chrono::milliseconds timeout)
      : stream_(s), chunked_(chunked), timeout_(timeout) {}
  bool write(std::string_view data) override {
    if (failed_) return false;
    if (data.empty()) return true;
    std::string out;
    if (chunked_) {
      char size[24];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      out.reserve(data.size() + static_cast<std::size_t>(n) + 2);
      out.append(size, static_cast<std::size_t>(n)).append(data).append("\r\n");
    } else {
      out.assign(data);
    }
    failed_ = !write_all(stream_, out.data(), out.size(), timeout_);
    return !failed_;
  }
  bool finish() {
    if (failed_ || !chunked_) return !failed_;
    return write_all(stream_, "0\r\n\r\n", 5, timeout_);
  }

 private:
  Stream& stream_;
  bool chunked_;
  std::chrono::milliseconds timeout_;
  bool failed_ = false;
};

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

std::string http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = text;
    cached_second = now;
  }
  return cached;
}

bool write_response(Stream& stream, Response& response, const WriteOptions& o) {
  const bool streamed = static_cast<bool>(response.stream);
  const bool no_body = body_forbidden(response.status);
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(reason_phrase(response.status)) + "\r\n";
  for (const auto& h : response.headers)
    if (!is_framing_field(h.name)) head += h.name + ": " + h.value + "\r\n";
  if (!response.has_header("X-Content-Type-Options")) head += "X-Content-Type-Options: nosniff\r\n";
  head += "Date: " + http_date() + "\r\n";
  if (streamed) {
    if (o.chunked && !no_body) head += "Transfer-Encoding: chunked\r\n";
  } else if (!no_body) {
    head += "Content-Length: " + std::to_string(response.body_length()) + "\r\n";
  }
  if (!o.keep_alive) head += "Connection: close\r\n";
  else if (o.http10) head += "Connection: keep-alive\r\n";
  head += "\r\n";

  if (o.head_only || no_body) return write_all(stream, head.data(), head.size(), o.progress_timeout);
  if (streamed) {
    if (!write_all(stream, head.data(), head.size(), o.progress_timeout)) return false;
    ChunkedSink sink(stream, o.chunked, o.progress_timeout);
    response.stream(sink);
    return sink.finish();
  }
  std::string out = std::move(head);
  std::vector<char> buffer;
  for (const auto& piece : response.body) {
    if (const auto* text = std::get_if<std::string>(&piece)) {
      if (out.size() + text->size() <= kCoalesce) {
        out += *text;
        continue;
      }
      if (!write_all(stream, out.data(), out.size(), o.progress_timeout)) return false;
      out.clear();
      if (!write_all(stream, text->data(), text->size(), o.progress_timeout)) return false;
      continue;
    }
    const auto& slice = std::get<FileSlice>(piece);
    if (!out.empty() && !write_all(stream, out.data(), out.size(), o.progress_timeout)) return false;
    out.clear();
    buffer.resize(kFileChunk);
    std::uint64_t done = 0;
    while (done < slice.length) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kFileChunk, slice.length - done));
      ssize_t n = ::pread(slice.file->fd(), buffer.data(), want, static_cast<off_t>(slice.offset + done));
      if (n <= 0) return false;  // the file shrank: the framing cannot be kept, close
      if (!write_all(stream, buffer.data(), static_cast<std::size_t>(n), o.progress_timeout)) return false;
      done += static_cast<std::uint64_t>(n);
    }
  }
  return out.empty() || write_all(stream, out.data(), out.size(), o.progress_timeout);
}

std::string canned_response(int status, std::string_view code, std::string_view message,
                            const std::string& request_id, int retry_after_s) {
  nlohmann::json body = {{"success", false}, {"error", message}, {"code", code}, {"request_id", request_id}};
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) + "\r\n";
  out += "Connection: close\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: " + request_id + "\r\n";
  if (retry_after_s > 0) out += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  out += "Date: " + http_date() + "\r\n\r\n" + text;
  return out;
}

}  // namespace sonic::http
