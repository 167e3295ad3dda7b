// Writing responses: the status line and header block with the framing the transport
// decides (a route's own Content-Length, Transfer-Encoding or Connection never reach the
// wire), bodies of text and file slices (pread in bounded chunks), streams as chunked
// (HTTP/1.1) or close-delimited (HTTP/1.0), HEAD and 204/304 without a body, and the
// canned JSON refusals the reactor sends without involving a route.
//
// Threads: any; each call works on the Stream it is given.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "http/transport/message.h"
#include "http/transport/stream.h"

namespace sonic::http {

std::string_view reason_phrase(int status);
// The current time as an IMF-fixdate (RFC 9110 §5.6.7), cached per second.
std::string http_date();

struct WriteOptions {
  bool head_only = false;      // HEAD: the headers GET would send, no body
  bool chunked = false;        // a stream on HTTP/1.1
  bool keep_alive = true;
  bool http10 = false;
  std::chrono::milliseconds progress_timeout{30'000};
};

// Writes `response` to `stream`; false when the client is gone or stopped reading.
bool write_response(Stream& stream, Response& response, const WriteOptions& options);

// A complete JSON error answer that ends the connection:
// {"success":false,"error":message,"code":code,"request_id":id}.
std::string canned_response(int status, std::string_view code, std::string_view message,
                            const std::string& request_id, int retry_after_s = 0);

}  // namespace sonic::http
