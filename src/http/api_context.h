// What every route may use: Call (one request on its way through a route: the request,
// the response, its id, who sent it) and ApiContext (the server-wide settings and
// services, and the answers routes share: access checks, job JSON, error JSON).
//
// Access (auth.h, docs/auth.md): with auth on, a user's jobs exist only for that user (and
// admins): another subject gets the same 404 as for an unknown id, so ids cannot be probed.
//
// Threads: ApiContext is shared by every worker (its members are thread-safe); a Call
// belongs to the worker serving it.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/auth.h"
#include "http/http_server.h"
#include "http/job_json_cache.h"
#include "http/metrics.h"
#include "http/rate_limit.h"
#include "http/router.h"
#include "http/transport/message.h"
#include "jobs/job_service.h"
#include "util/error.h"

namespace sonic::http {

using json = nlohmann::json;

struct Call {
  Call(Request& request, Response& response) : req(request), res(response) {}
  Request& req;
  Response& res;
  std::string request_id;
  std::string route = "unmatched";  // the route pattern, for logs and metrics
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::uint64_t bytes_in = 0;
  double read_ms = 0;   // generate: until the upload was stored
  double probe_ms = 0;  // generate: content sniffing of both files
  std::optional<Identity> identity;  // auth on: who sent the request
  std::string client;                // the client's address (client_address.h)

  std::string param(const std::string& name) const { return req.param(name); }
};

class ApiContext {
 public:
  ApiContext(const HttpConfig& config, jobs::JobService& service, HttpMetrics& metrics, RateLimiter& limiter)
      : config(config), service(service), metrics(metrics), limiter(limiter) {}

  const HttpConfig& config;
  jobs::JobService& service;
  HttpMetrics& metrics;
  RateLimiter& limiter;

  bool tls() const { return !config.tls_cert_file.empty() || !config.tls_key_file.empty(); }
  bool auth_on() const { return config.auth && config.auth->enabled(); }
  // Sets call.identity, or throws unauthorized (401 + WWW-Authenticate) / forbidden.
  void authorize(Call& call, Access access) const;
  // The owner recorded on new jobs and used for "own jobs": the token's subject, or the
  // client address when auth is off.
  std::string owner(const Call& call) const;
  // Generate's rate limit, checked before the upload is read: Error(rate_limited).
  void check_rate_limit(const Call& call) const;
  // The job if this request may see it; another user's job answers like an unknown id.
  jobs::JobRecord visible_job(const Call& call, const std::string& id) const;
  std::string base_url(const Call& call) const;
  json job_json(const Call& call, const jobs::JobRecord& job) const;
  // job_json() as text, from the record's cached serialisation (job_json_cache.h).
  std::string job_json_text(const Call& call, const std::shared_ptr<const jobs::JobRecord>& job) const;

 private:
  // What job_json() adds to JobRecord::to_json(): "success" and the URLs of this request.
  json job_links(const Call& call, const jobs::JobRecord& job) const;
  mutable JobJsonCache job_texts_;
};

std::int64_t unix_now();
void send_json(Response& res, int status, const json& body);
// A body that is already JSON text.
void send_json_text(Response& res, int status, std::string body);
json error_body(const Call& call, ErrorCode code, const std::string& message, const std::string& field);
void send_error(Call& call, const Error& e);
// The error of a finished job as the API answers it (the job id included).
void send_job_error(Call& call, const jobs::JobRecord& job);

// Route tables by concern (routes_*.cpp).
void add_generate_routes(Router& router, ApiContext& api);
void add_job_routes(Router& router, ApiContext& api);
void add_output_routes(Router& router, ApiContext& api);
void add_admin_routes(Router& router, ApiContext& api);
void add_web_routes(Router& router, ApiContext& api);
void add_worker_routes(Router& router, ApiContext& api);
void add_webhook_routes(Router& router, ApiContext& api);
void add_face_routes(Router& router, ApiContext& api);

}  // namespace sonic::http
