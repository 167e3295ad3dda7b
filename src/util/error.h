// util/ — small pieces every layer uses: the error model and logging. Calls nothing above it.
//
// Error is the one error type of the project. Its codes are the API's error codes
// (DESIGN §5), so an error found deep in media/ or engine/ reaches the HTTP client
// unchanged: the place that finds the fault says what it is and what a person can do about it.
#pragma once

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
};

// The machine code as the API spells it, e.g. "unsupported_media_type".
std::string_view code_name(ErrorCode code);
// The HTTP status the API answers with for this code.
int http_status(ErrorCode code);

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
