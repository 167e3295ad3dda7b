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
  }
  return "internal";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::missing_file:
    case ErrorCode::invalid_config:
    case ErrorCode::invalid_param: return 400;
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
