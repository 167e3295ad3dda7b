// Access checks and the JSON answers routes share (see api_context.h).
#include "http/api_context.h"

#include <cmath>
#include <ctime>
#include <sstream>

#include "http/header_text.h"

namespace sonic::http {
namespace fs = std::filesystem;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

void send_json(Response& res, int status, const json& body) {
  send_json_text(res, status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void send_json_text(Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

json error_body(const Call& call, ErrorCode code, const std::string& message, const std::string& field) {
  json body = {{"success", false}, {"error", message}, {"code", code_name(code)}};
  if (!field.empty()) body["field"] = field;
  if (!call.request_id.empty()) body["request_id"] = call.request_id;
  return body;
}

namespace {

// Every 429 and 503 tells the client when to come back (RFC 9110 §10.2.3): the error's own
// figure, else a default by code. 0: no header.
int retry_after_for(ErrorCode code, int own_s) {
  if (own_s > 0) return own_s;
  switch (code) {
    case ErrorCode::queue_full:
    case ErrorCode::rate_limited:
      return 5;
    case ErrorCode::shutting_down:
    case ErrorCode::server_busy:
    case ErrorCode::engine_unavailable:
      return 10;
    default:
      return 0;
  }
}

}  // namespace

void send_error(Call& call, const Error& e) {
  if (int s = retry_after_for(e.code(), e.retry_after_s()); s > 0) call.res.set_header("Retry-After", std::to_string(s));
  call.res.stream = nullptr;
  send_json(call.res, e.http_status(), error_body(call, e.code(), e.message(), e.field()));
}

void send_job_error(Call& call, const jobs::JobRecord& job) {
  const ErrorCode code = parse_code(job.error_code).value_or(ErrorCode::internal);
  json body = error_body(call, code, job.error_message, job.error_field);
  body["code"] = job.error_code;  // keeps "interrupted", which is not a request error code
  body["job_id"] = job.id;
  body["status"] = jobs::state_name(job.state);
  // A job that failed because its engine was down (it restarts) answers 503 like a refused
  // request does, so with the same Retry-After.
  if (int s = retry_after_for(code, 0); s > 0) call.res.set_header("Retry-After", std::to_string(s));
  send_json(call.res, http_status(code), body);
}

void ApiContext::authorize(Call& call, Access access) const {
  if (access == Access::public_route) return;
  const Request& req = call.req;
  if (access == Access::metrics) {
    bool has_key = config.auth && config.auth->has_metrics_key();
    if (has_key && config.auth->metrics_key_matches(req.header("Authorization"))) return;
    if (!auth_on() && !has_key) return;
    if (!auth_on()) {
      call.res.set_header("WWW-Authenticate", "Bearer realm=\"sonic-server metrics\"");
      throw Error(ErrorCode::unauthorized, "Send Authorization: Bearer <the metrics key>.");
    }
    access = Access::admin;
  }
  if (!auth_on()) return;
  AuthFailure failure;
  auto identity = config.auth->authenticate(req.header("Authorization"), unix_now(), failure, req.header("X-API-Key"));
  if (!identity) {
    std::string challenge = "Bearer realm=\"sonic-server\"";
    if (failure.token_present) challenge += ", error=\"invalid_token\"";
    call.res.set_header("WWW-Authenticate", challenge);
    throw Error(ErrorCode::unauthorized, failure.description);
  }
  if (access == Access::admin && !identity->admin) {
    call.res.set_header("WWW-Authenticate", "Bearer realm=\"sonic-server\", error=\"insufficient_scope\"");
    throw Error(ErrorCode::forbidden, "This needs an admin token.");
  }
  call.identity = std::move(identity);
}

std::string ApiContext::owner(const Call& call) const {
  return call.identity ? call.identity->subject : call.client;
}

// The cap on active jobs is JobService::submit's: only once the upload is hashed is it
// known whether the request joins a job in flight or hits the cache, which add no work.
void ApiContext::check_rate_limit(const Call& call) const {
  std::string key = (call.identity ? "sub:" : "ip:") + owner(call);
  if (auto wait = limiter.take(key)) {
    int retry = std::max(1, static_cast<int>(std::ceil(*wait)));
    std::ostringstream rate;
    rate << config.rate_limit_per_min;
    throw Error(ErrorCode::rate_limited, "Too many videos requested: the limit is " + rate.str() +
                                             " a minute; retry in " + std::to_string(retry) + " s.")
        .with_retry_after(retry);
  }
}

jobs::JobRecord ApiContext::visible_job(const Call& call, const std::string& id) const {
  auto job = service.get(id);
  bool hidden = job && auth_on() && call.identity && !call.identity->admin && job->client != call.identity->subject;
  if (!job || hidden) throw Error(ErrorCode::not_found, "No job with id " + id + ".");
  return *job;
}

std::string ApiContext::base_url(const Call& call) const {
  if (!config.public_base_url.empty()) {
    std::string b = config.public_base_url;
    while (!b.empty() && b.back() == '/') b.pop_back();
    return b;
  }
  const Request& req = call.req;
  std::string host = req.header("Host");
  std::string scheme = tls() ? "https" : "http";
  auto first = [&](const char* name) {
    const auto items = comma_items(req.header(name));
    return items.empty() ? std::string() : std::string(items.front());
  };
  if (config.trusted_proxies.trusted(req.peer_address)) {
    std::string proto = first("X-Forwarded-Proto");
    if (proto == "https" || proto == "http") scheme = proto;
    std::string forwarded_host = first("X-Forwarded-Host");
    if (!forwarded_host.empty()) host = forwarded_host;
  }
  if (host.empty() || host.find_first_of(" /\\\"<>") != std::string::npos)
    host = config.host + ":" + std::to_string(req.local_port);
  return scheme + "://" + host;
}

json ApiContext::job_json(const Call& call, const jobs::JobRecord& job) const {
  json j = job.to_json();
  j.update(job_links(call, job));
  return j;
}

std::string ApiContext::job_json_text(const Call& call, const std::shared_ptr<const jobs::JobRecord>& job) const {
  // The links first, then the record's own members: the two sets of names never meet.
  std::string links = job_links(call, *job).dump(-1, ' ', false, json::error_handler_t::replace);
  std::shared_ptr<const std::string> record = job_texts_.text(job);
  links.pop_back();  // '}'
  links += ',';
  links.append(*record, 1);  // after its '{'
  return links;
}

json ApiContext::job_links(const Call& call, const jobs::JobRecord& job) const {
  json j;
  j["success"] = true;
  std::string base = base_url(call);
  j["status_url"] = base + "/api/jobs/" + job.id;
  j["events_url"] = base + "/api/jobs/" + job.id + "/events";
  if (job.state == jobs::JobState::succeeded && !job.output_expired && !job.output_file.empty()) {
    std::string path = "/output/" + job.output_file;
    j["video_url"] = base + path + (auth_on() ? config.auth->sign_path(path, unix_now()) : "");
    j["output_path"] = fs::absolute(service.outputs_dir() / job.output_file).string();
  }
  return j;
}

}  // namespace sonic::http
