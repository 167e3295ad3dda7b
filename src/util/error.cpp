#include "util/error.h"

namespace sonic {

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::missing_file: return "missing_file";
    case ErrorCode::invalid_config: return "invalid_config";
    case ErrorCode::invalid_param: return "invalid_param";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::unsupported_media_type: return "unsupported_media_type";
    case ErrorCode::no_face: return "no_face";
    case ErrorCode::audio_too_long: return "audio_too_long";
    case ErrorCode::unreadable_media: return "unreadable_media";
    case ErrorCode::queue_full: return "queue_full";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::canceled: return "canceled";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::engine_failed: return "engine_failed";
    case ErrorCode::internal: return "internal";
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::headers_too_large: return "headers_too_large";
    case ErrorCode::insufficient_storage: return "insufficient_storage";
    case ErrorCode::job_too_large: return "job_too_large";
    case ErrorCode::job_timeout: return "job_timeout";
    case ErrorCode::forbidden_url: return "forbidden_url";
    case ErrorCode::fetch_failed: return "fetch_failed";
    case ErrorCode::idempotency_conflict: return "idempotency_conflict";
    case ErrorCode::idempotency_in_progress: return "idempotency_in_progress";
    case ErrorCode::engine_unavailable: return "engine_unavailable";
    case ErrorCode::worker_crashed: return "worker_crashed";
    case ErrorCode::server_busy: return "server_busy";
    case ErrorCode::request_timeout: return "request_timeout";
  }
  return "internal";
}

std::optional<ErrorCode> parse_code(std::string_view name) {
  for (ErrorCode code : kAllErrorCodes)
    if (code_name(code) == name) return code;
  return std::nullopt;
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::missing_file:
    case ErrorCode::invalid_config:
    case ErrorCode::invalid_param:
    case ErrorCode::bad_request: return 400;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::idempotency_in_progress: return 409;
    case ErrorCode::headers_too_large: return 431;
    case ErrorCode::insufficient_storage: return 507;
    case ErrorCode::job_too_large:
    case ErrorCode::forbidden_url:
    case ErrorCode::fetch_failed:
    case ErrorCode::idempotency_conflict: return 422;
    case ErrorCode::engine_unavailable:
    case ErrorCode::server_busy: return 503;
    case ErrorCode::request_timeout: return 408;
    case ErrorCode::job_timeout:
    case ErrorCode::worker_crashed: return 500;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::canceled: return 409;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::unsupported_media_type: return 415;
    case ErrorCode::no_face:
    case ErrorCode::audio_too_long:
    case ErrorCode::unreadable_media: return 422;
    case ErrorCode::queue_full:
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::shutting_down: return 503;
    case ErrorCode::engine_failed:
    case ErrorCode::internal: return 500;
  }
  return 500;
}

}  // namespace sonic
