// http/transport/ — the only code in the project with sockets: an HTTP/1.1 server on
// POSIX sockets, epoll and OpenSSL, built so that hostile traffic costs little and never
// changes what a request means (docs/http-transport.md).
//
//   reactor thread (run())  accepts, enforces the connection caps, does TLS handshakes,
//                           reads request heads under a whole-head deadline, keeps idle
//                           keep-alive connections, refuses bad heads with a canned answer
//                           and closes them; idle and slow connections cost no thread
//   lanes of workers        a complete, valid head is handed with its connection to the
//                           lane its route names (Dispatcher::lane): `quick` (a small fixed
//                           pool for health, status and metadata) or `long` (grows on demand
//                           to long_threads for uploads, SSE and downloads; full → 503)
//   exchange (worker)       the route runs with a body reader bound to deadlines; then an
//                           unread body is drained up to 64 KiB or the connection closes;
//                           the response is written with framing decided here; a keep-alive
//                           connection goes back to the reactor with any pipelined bytes
//
// Threads: run() is the reactor; stop() from any thread. The Dispatcher is called from
// the reactor (lane, refused) and from workers (handle) at once: it must be thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/transport/message.h"
#include "http/wire/request_head.h"

namespace sonic::http {

enum class Lane { quick, long_running };

struct TransportConfig {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port
  wire::HeadLimits head_limits;
  std::chrono::milliseconds head_timeout{10'000};      // whole head, from its first byte (or the accept)
  std::chrono::milliseconds keepalive_timeout{5'000};  // idle between requests
  std::chrono::milliseconds body_timeout{30'000};      // no body byte for this long → 408
  double min_body_bytes_per_s = 4096;                  // average, checked after body_grace
  std::chrono::milliseconds body_grace{10'000};
  std::chrono::milliseconds write_timeout{30'000};     // no progress writing for this long → close
  int quick_threads = 4;
  int long_threads = 64;
  int max_connections = 4096;            // lowered to what RLIMIT_NOFILE allows
  int max_connections_per_client = 32;   // per peer address; 0 = no cap
  std::function<bool(std::string_view peer)> exempt_from_client_cap;  // trusted proxies
  std::string tls_cert_file, tls_key_file;  // both set = HTTPS
};

// A refusal the transport answered itself, for the server's log and metrics.
struct TransportRefusal {
  int status = 0;
  std::string code;
  std::string message;
  std::string peer;
  std::string method;  // empty when no head was parsed
  std::string path;
  std::string request_id;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Which lane serves this head (called on the reactor thread: must not block).
  virtual Lane lane(const wire::RequestHead& head) const = 0;
  // Serves one request (on a worker). Errors should be answered in `response`; an
  // exception escaping here becomes a 500 and closes the connection.
  virtual void handle(Request& request, Response& response) = 0;
  // The transport refused a request or connection itself (any thread).
  virtual void refused(const TransportRefusal& refusal) = 0;
};

class Transport {
 public:
  // Loads TLS when configured: throws Error(invalid_config) for unusable files.
  Transport(TransportConfig config, Dispatcher& dispatcher);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Raises RLIMIT_NOFILE to its hard limit, binds and listens (backlog 1024). Returns the
  // port. Throws Error(internal) when the address cannot be used.
  int bind();
  // Serves until stop(); then waits for running handlers and joins every thread.
  bool run();
  // Stops accepting, closes idle connections, lets running requests finish. Any thread.
  void stop();
  // Effective limits (after RLIMIT_NOFILE), for logs.
  const TransportConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::http
