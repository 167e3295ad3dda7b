// http/ — the HTTP API of DESIGN §5: routes, upload limits, SSE, downloads, health and
// metrics. The only code that includes the HTTP library (cpp-httplib), and only in
// http_server.cpp: everything else here (UploadSink, HttpMetrics, the OpenAPI text) is
// plain C++. Calls jobs/ (JobService) and engine/ (parameters, presets); never pixels.
//
// Threads: cpp-httplib runs each connection on a thread of its pool (http_threads);
// run() blocks the calling thread until stop() is called from another one.
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

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 = any free port (see bound_port())
  std::string public_base_url;       // e.g. https://sonic.example.com; empty = from Host
  std::uint64_t max_request_bytes = 50ull * 1024 * 1024;
  std::chrono::seconds sync_wait{300};  // how long POST /api/sonic/generate waits
  std::chrono::seconds sse_keepalive{15};
  int http_threads = 64;            // connections served at once (SSE streams hold one)
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
