// http/ — the HTTP API of DESIGN §5: routes, upload limits, SSE, downloads, health and
// metrics, on our own HTTP/1.1 transport (docs/http-transport.md):
//   wire/        HTTP as bytes: strict head parser, chunked, multipart, Range, query (pure)
//   transport/   the only code with sockets: epoll reactor, lanes of workers, TLS, deadlines
//   router.*     paths and methods → routes; 404 / 405 + Allow
//   routes_*.cpp the routes by concern (generate, jobs, output, admin, web)
//   http_server.cpp  the cross-cutting parts: request id, CORS, access, body limits,
//                errors as JSON, logs and metrics
// Calls jobs/ (JobService) and engine/ (parameters, presets); never pixels.
//
// Threads: run() is the transport's reactor and blocks until stop() from another thread;
// routes run on the transport's worker lanes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "http/auth.h"
#include "http/client_address.h"
#include "http/cors.h"
#include "jobs/job_service.h"

namespace sonic::http {

class OutboundClient;

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 = any free port (see bound_port())
  std::string public_base_url;       // e.g. https://sonic.example.com; empty = from Host
  std::uint64_t max_request_bytes = 50ull * 1024 * 1024;
  std::chrono::seconds sync_wait{300};  // how long POST /api/sonic/generate waits
  std::chrono::seconds sse_keepalive{15};
  int http_threads = 64;            // long-lane threads: uploads, SSE streams, downloads at once
  int http_quick_threads = 4;       // quick-lane threads: health, status, metadata
  // Transport limits (docs/http-transport.md).
  int max_connections = 4096;             // lowered to what RLIMIT_NOFILE allows
  int max_connections_per_client = 32;    // per client address; --trusted-proxy peers exempt
  int max_headers = 100;
  int max_head_kb = 16;
  std::chrono::seconds head_timeout{10};  // the whole request head, from its first byte
  std::chrono::seconds keepalive_timeout{5};
  std::chrono::seconds body_timeout{30};  // no byte of a body for this long → 408
  double min_body_kb_per_s = 4;           // average upload rate required after 10 s
  std::chrono::seconds write_timeout{30};
  std::filesystem::path web_dir;    // serve the page from this folder; empty = the embedded copy
  std::string version = "dev";
  // Null or disabled = no authentication (loopback only; cmd_serve enforces that).
  std::shared_ptr<const Authenticator> auth;
  // Generate requests per minute and burst per subject (per client address with auth
  // off); 0 per minute = no limit.
  double rate_limit_per_min = 10;
  double rate_limit_burst = 3;
  TrustedProxies trusted_proxies;  // whose X-Forwarded-For / -Proto to believe
  CorsPolicy cors;                 // default: same origin only
  // Both set = serve HTTPS (PEM certificate chain and private key); both empty = HTTP.
  std::string tls_cert_file, tls_key_file;
  // Inputs by URL and webhook URLs (issue 15): the SSRF-safe client; null = both refused.
  std::shared_ptr<const OutboundClient> outbound;
};

class HttpServer {
 public:
  HttpServer(HttpConfig config, jobs::JobService& service);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Throws Error(invalid_config) when the TLS certificate or key cannot be used.
  // Binds the listening socket; returns the port. Throws Error(internal) on failure.
  int bind();
  // Serves until stop(). Returns false when listening failed.
  bool run();
  // Stops accepting, ends open connections, makes run() return. Any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document of this API (docs/openapi.json, compiled in), also served at GET /openapi.json.
const std::string& openapi_json();

}  // namespace sonic::http
