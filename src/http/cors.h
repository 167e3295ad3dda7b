// CorsPolicy: which other web origins may call the API from a browser (issue 5,
// docs/auth.md). Default: none — only the page this server serves itself (same origin).
//
// An allowed Origin gets Access-Control-Allow-Origin with that exact origin (and
// `Vary: Origin`); "*" allows any origin but then credentials are never allowed — the
// combination is refused at start-up, as browsers refuse it too. Tokens travel in the
// Authorization header, which is not a "credential" in the CORS sense, so a cross-origin
// page with a token works without credentials; --cors-allow-credentials is only for
// deployments that put a cookie-based gateway in front.
//
// Plain C++. Threads: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sonic::http {

class CorsPolicy {
 public:
  CorsPolicy() = default;
  // Comma-separated origins ("https://app.example.com,http://localhost:3000") or "*".
  // Throws Error(invalid_config) for an entry that is not scheme://host[:port], or for
  // "*" with credentials.
  CorsPolicy(std::string_view origins, bool allow_credentials);

  bool enabled() const { return any_ || !origins_.empty(); }
  // Whether a request with this Origin header value may read responses.
  bool allows(std::string_view origin) const;
  // The Access-Control-Allow-Origin value for an allowed origin ("*" or the origin).
  std::string allow_origin_value(std::string_view origin) const;
  bool allow_credentials() const { return credentials_; }

  // Methods and request headers a preflight may ask for.
  static constexpr std::string_view kMethods = "GET, HEAD, POST, DELETE, OPTIONS";
  static constexpr std::string_view kRequestHeaders =
      "Authorization, Content-Type, Last-Event-ID, Prefer, Range, If-None-Match, X-Request-Id, X-API-Key, "
      "Idempotency-Key";
  // Response headers a script may read besides the CORS-safelisted ones.
  static constexpr std::string_view kExposedHeaders =
      "Location, Retry-After, X-Request-Id, Content-Range, Accept-Ranges, ETag, Preference-Applied, "
      "WWW-Authenticate, Idempotent-Replayed";
  // Whether every method / header of a preflight's Access-Control-Request-* is allowed.
  static bool method_allowed(std::string_view method);
  static bool headers_allowed(std::string_view request_headers);

 private:
  bool any_ = false;
  bool credentials_ = false;
  std::vector<std::string> origins_;  // lower case, no trailing slash
};

}  // namespace sonic::http
