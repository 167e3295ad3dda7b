// util/ — small pieces every layer uses: the error model and logging. Calls nothing above it.
//
// Error is the one error type of the project. Its codes are the API's error codes
// (DESIGN §5), so an error found deep in media/ or engine/ reaches the HTTP client
// unchanged: the place that finds the fault says what it is and what a person can do about it.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sonic {

enum class ErrorCode {
  missing_file,
  invalid_config,
  invalid_param,
  payload_too_large,
  unsupported_media_type,
  no_face,
  audio_too_long,
  unreadable_media,
  queue_full,
  rate_limited,
  unauthorized,
  forbidden,
  not_found,
  canceled,
  shutting_down,
  engine_failed,
  internal,
  // Added for the open-internet, engine, scale-out and app-integration work (issues 10–15);
  // declared together so the code list has one owner.
  bad_request,              // 400: not valid HTTP/1.1 (framing, syntax); the connection closes
  method_not_allowed,       // 405
  headers_too_large,        // 431: too many header fields or too many bytes of head
  insufficient_storage,     // 507: the data disk is below its free-space threshold
  job_too_large,            // 422: output pixels × frames over the per-job budget
  job_timeout,              // 500: the job ran past its wall-clock limit
  forbidden_url,            // 422: an input or webhook URL points where the server may not go
  fetch_failed,             // 422: an input URL could not be fetched (the reason is said)
  idempotency_conflict,     // 422: the same Idempotency-Key with a different request
  idempotency_in_progress,  // 409: the same Idempotency-Key while the first is still received
  engine_unavailable,       // 503: the chosen engine is not running (starting or crashed)
  worker_crashed,           // 500: a remote job was delivered too often and dead-lettered
  server_busy,              // 503: every connection slot of this kind is in use; retry shortly
  request_timeout,          // 408: the request head or body did not arrive in time
};

// Every code, in declaration order (for parsing a stored code back).
inline constexpr ErrorCode kAllErrorCodes[] = {
    ErrorCode::missing_file,      ErrorCode::invalid_config,       ErrorCode::invalid_param,
    ErrorCode::payload_too_large, ErrorCode::unsupported_media_type, ErrorCode::no_face,
    ErrorCode::audio_too_long,    ErrorCode::unreadable_media,     ErrorCode::queue_full,
    ErrorCode::rate_limited,      ErrorCode::unauthorized,         ErrorCode::forbidden,
    ErrorCode::not_found,         ErrorCode::canceled,             ErrorCode::shutting_down,
    ErrorCode::engine_failed,     ErrorCode::internal,             ErrorCode::bad_request,
    ErrorCode::method_not_allowed, ErrorCode::headers_too_large,   ErrorCode::insufficient_storage,
    ErrorCode::job_too_large,     ErrorCode::job_timeout,          ErrorCode::forbidden_url,
    ErrorCode::fetch_failed,      ErrorCode::idempotency_conflict, ErrorCode::idempotency_in_progress,
    ErrorCode::engine_unavailable, ErrorCode::worker_crashed,      ErrorCode::server_busy,
    ErrorCode::request_timeout,
};

// The machine code as the API spells it, e.g. "unsupported_media_type".
std::string_view code_name(ErrorCode code);
// The HTTP status the API answers with for this code.
int http_status(ErrorCode code);
// The code spelled `name` (code_name's inverse); nullopt for anything else (e.g. a job's
// "interrupted", which is not a request error code).
std::optional<ErrorCode> parse_code(std::string_view name);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, std::string field = {})
      : std::runtime_error(std::move(message)), code_(code), field_(std::move(field)) {}

  ErrorCode code() const noexcept { return code_; }
  std::string_view code_name() const noexcept { return sonic::code_name(code_); }
  int http_status() const noexcept { return sonic::http_status(code_); }
  std::string message() const { return what(); }
  // The parameter or form field at fault; empty when none is.
  const std::string& field() const noexcept { return field_; }
  // Seconds after which a retry can succeed (429/503 answers carry it as Retry-After);
  // 0 = not said.
  int retry_after_s() const noexcept { return retry_after_s_; }
  Error& with_retry_after(int seconds) noexcept {
    retry_after_s_ = seconds;
    return *this;
  }

 private:
  ErrorCode code_;
  std::string field_;
  int retry_after_s_ = 0;
};

}  // namespace sonic
