// HttpServer: the routes of DESIGN §5 (routes_*.cpp) on our transport (transport/), and
// what every request goes through on its way (HttpServer::Impl::handle):
//
//   request id   X-Request-Id, the client's own when it is sane, else a new UUID
//   client       the peer address, or X-Forwarded-For from --trusted-proxy peers
//   CORS         headers for allowed origins; OPTIONS answers preflights (any path)
//   routing      404 not_found / 405 method_not_allowed with Allow
//   bodies       only routes that take a body get one: elsewhere a body over 64 KiB or a
//                chunked one is refused unread (413) and the connection closes; generate's
//                Content-Length over twice the limit likewise
//   access       public, user, admin or metrics (auth.h, docs/auth.md)
//   errors       sonic::Error → JSON with its status; a refused body that is still coming is
//                read and dropped up to kRefusalDrain so the client sees the answer, else the
//                connection closes after it
//   log, metrics one JSON line and the counters per request
//
// Transport refusals (bad heads, timeouts, caps) are logged and counted by refused().
#include "http/http_server.h"

#include "http/api_context.h"
#include "http/transport/transport.h"
#include "util/log.h"

namespace sonic::http {

namespace {

// A body a route never reads, up to this, is drained by the transport; above it (or
// chunked) the request is refused before the body is read.
constexpr std::uint64_t kSmallBody = 64 * 1024;
// A refused upload is read and dropped up to this, so the client can read the 401/429
// instead of a reset; a larger rest is cut off: refused uploads must not cost us.
constexpr std::uint64_t kRefusalDrain = 2 * 1024 * 1024;

bool sane_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

TransportConfig transport_config(const HttpConfig& c) {
  TransportConfig t;
  t.host = c.host;
  t.port = c.port;
  t.head_limits.max_headers = static_cast<std::size_t>(std::max(1, c.max_headers));
  t.head_limits.max_head_bytes = static_cast<std::size_t>(std::max(1, c.max_head_kb)) * 1024;
  t.head_limits.max_target_bytes = std::min<std::size_t>(8 * 1024, t.head_limits.max_head_bytes);
  t.head_timeout = c.head_timeout;
  t.keepalive_timeout = c.keepalive_timeout;
  t.body_timeout = c.body_timeout;
  t.min_body_bytes_per_s = c.min_body_kb_per_s * 1024;
  t.write_timeout = c.write_timeout;
  t.quick_threads = std::max(1, c.http_quick_threads);
  t.long_threads = std::max(1, c.http_threads);
  t.max_connections = std::max(1, c.max_connections);
  t.max_connections_per_client = std::max(0, c.max_connections_per_client);
  TrustedProxies proxies = c.trusted_proxies;
  t.exempt_from_client_cap = [proxies](std::string_view peer) { return proxies.trusted(peer); };
  t.tls_cert_file = c.tls_cert_file;
  t.tls_key_file = c.tls_key_file;
  return t;
}

}  // namespace

struct HttpServer::Impl : Dispatcher {
  HttpConfig config;
  jobs::JobService& service;
  HttpMetrics metrics;
  RateLimiter limiter;
  ApiContext api;
  Router router;
  Transport transport;

  Impl(HttpConfig c, jobs::JobService& s)
      : config(std::move(c)),
        service(s),
        limiter(config.rate_limit_per_min, config.rate_limit_burst),
        api(config, service, metrics, limiter),
        transport(transport_config(config), *this) {
    add_generate_routes(router, api);
    add_job_routes(router, api);
    add_output_routes(router, api);
    add_admin_routes(router, api);
    add_worker_routes(router, api);
    add_web_routes(router, api);
    add_webhook_routes(router, api);
    add_face_routes(router, api);
  }

  Lane lane(const wire::RequestHead& head) const override {
    if (head.method == "OPTIONS") return Lane::quick;
    auto m = router.match(head.method, head.path);
    return m.route ? m.route->lane : Lane::quick;
  }

  void refused(const TransportRefusal& r) override {
    metrics.observe("unmatched", r.method.empty() ? "-" : r.method, r.status, 0);
    log::info("request refused", {{"status", r.status}, {"code", r.code}, {"error", r.message}, {"client", r.peer},
                                  {"method", r.method}, {"path", r.path}, {"request_id", r.request_id}});
  }

  void handle(Request& req, Response& res) override {
    Call call(req, res);
    std::string id = req.header("X-Request-Id");
    call.request_id = sane_request_id(id) ? id : jobs::new_uuid();
    res.set_header("X-Request-Id", call.request_id);
    call.client = config.trusted_proxies.client_address(req.peer_address, req.header("X-Forwarded-For"));
    add_cors_headers(call);
    try {
      route(call);
    } catch (const Error& e) {
      // A refused body still on its way: drop a little of it so the answer can be read,
      // or hang up after answering. Never is it read as another request.
      if (!res.close && !req.body().complete() && !req.body().discard(kRefusalDrain)) res.close = true;
      send_error(call, e);
    } catch (const std::exception& e) {
      log::error("handler failed", {{"route", call.route}, {"error", e.what()}, {"request_id", call.request_id}});
      if (!req.body().complete()) res.close = true;
      send_error(call, Error(ErrorCode::internal, "Internal error; the request id identifies it in the logs."));
    }
    finish(call);
  }

  void add_cors_headers(Call& call) {
    std::string origin = call.req.header("Origin");
    if (origin.empty() || !config.cors.enabled()) return;
    call.res.set_header("Vary", "Origin");
    if (!config.cors.allows(origin)) return;
    call.res.set_header("Access-Control-Allow-Origin", config.cors.allow_origin_value(origin));
    call.res.set_header("Access-Control-Expose-Headers", std::string(CorsPolicy::kExposedHeaders));
    if (config.cors.allow_credentials()) call.res.set_header("Access-Control-Allow-Credentials", "true");
  }

  void route(Call& call) {
    Request& req = call.req;
    if (req.method() == "OPTIONS") {
      call.route = "OPTIONS";
      refuse_body(call, nullptr);
      return options(call);
    }
    auto m = router.match(req.method(), req.path());
    refuse_body(call, m.route);
    if (!m.route) {
      if (!m.allow.empty()) {
        call.res.set_header("Allow", m.allow);
        throw Error(ErrorCode::method_not_allowed, req.method() + " is not allowed on " + req.path() + "; use " + m.allow + ".");
      }
      throw Error(ErrorCode::not_found, "No route for " + req.method() + " " + req.path() + ".");
    }
    call.route = m.route->pattern;
    req.params = std::move(m.params);
    api.authorize(call, m.route->access);
    m.route->handler(call);
  }

  // Before any byte of a body is read: too large for its route → 413 and the connection
  // is closed with the body unread.
  void refuse_body(Call& call, const Route* route) {
    const auto& head = call.req.head;
    std::string message;
    if (route && route->takes_body) {
      if (!head.content_length || *head.content_length <= 2 * config.max_request_bytes) return;
      message = "The request is larger than the limit of " + std::to_string(config.max_request_bytes / (1024 * 1024)) + " MB.";
    } else {
      if (!head.chunked && (!head.content_length || *head.content_length <= kSmallBody)) return;
      message = "Only POST /api/sonic/generate takes a request body of this size.";
      if (route) call.route = route->pattern;
    }
    call.res.close = true;
    throw Error(ErrorCode::payload_too_large, message);
  }

  // CORS preflight (and plain OPTIONS): an allowed origin asking for allowed methods and
  // headers gets 204 with the CORS headers; any other origin gets 403 and none of them.
  void options(Call& call) {
    Request& req = call.req;
    Response& res = call.res;
    res.set_header("Allow", std::string(CorsPolicy::kMethods));
    std::string origin = req.header("Origin");
    std::string method = req.header("Access-Control-Request-Method");
    res.status = 204;
    if (origin.empty() || method.empty()) return;
    if (!config.cors.allows(origin))
      throw Error(ErrorCode::forbidden, "Origin " + origin + " may not call this API (see --cors-origin).", "Origin");
    if (!CorsPolicy::method_allowed(method))
      throw Error(ErrorCode::forbidden, "Method " + method + " is not allowed here.", "Access-Control-Request-Method");
    std::string headers = req.header("Access-Control-Request-Headers");
    if (!CorsPolicy::headers_allowed(headers))
      throw Error(ErrorCode::forbidden, "A requested header is not allowed: " + headers + ".",
                  "Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Methods", std::string(CorsPolicy::kMethods));
    res.set_header("Access-Control-Allow-Headers", std::string(CorsPolicy::kRequestHeaders));
    res.set_header("Access-Control-Max-Age", "600");
  }

  void finish(Call& call) {
    const Request& req = call.req;
    const Response& res = call.res;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - call.start).count();
    metrics.observe(call.route, req.method(), res.status, seconds);
    log::info("request", {{"method", req.method()}, {"route", call.route}, {"path", req.path()},
                          {"status", res.status}, {"bytes", res.stream ? 0 : res.body_length()},
                          {"bytes_in", call.bytes_in}, {"latency_ms", seconds * 1000.0},
                          {"request_id", call.request_id}, {"client", call.client},
                          {"sub", call.identity ? json(call.identity->subject) : json(nullptr)}});
    if (call.read_ms > 0)
      log::debug("request phases", {{"request_id", call.request_id}, {"read_ms", call.read_ms}, {"probe_ms", call.probe_ms}});
  }
};

HttpServer::HttpServer(HttpConfig config, jobs::JobService& service)
    : impl_(std::make_unique<Impl>(std::move(config), service)) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  int port = impl_->transport.bind();
  impl_->config.port = port;
  return port;
}

bool HttpServer::run() { return impl_->transport.run(); }

void HttpServer::stop() { impl_->transport.stop(); }

}  // namespace sonic::http
