// Fuzz target: the JWT header parser (http/jwt_parts.h) and the whole bearer check behind
// it (http/auth.h, Authenticator::authenticate, HS256 with libjwt) — the bytes an
// unauthenticated client controls. Promises: a token is accepted by parse_jwt only with
// JSON object parts, the configured alg and no crit; authenticate never accepts a token
// that is not signed with the server's secret, and never throws.
#include <cstdint>
#include <string>

#include "http/auth.h"
#include "http/jwt_parts.h"

namespace {
[[noreturn]] void broken_promise() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sonic::http::Authenticator auth = [] {
    sonic::http::AuthSettings settings;
    settings.mode = "jwt";
    settings.jwt_secret = std::string(48, 's');  // no fuzzer input is signed with it
    return sonic::http::Authenticator(settings);
  }();
  const std::string token(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto parts = sonic::http::parse_jwt(token, "HS256", why)) {
    if (!parts->header.is_object() || !parts->claims.is_object() || parts->header.contains("crit") ||
        parts->header.value("alg", "") != "HS256")
      broken_promise();
  } else if (why.empty()) {
    broken_promise();
  }
  sonic::http::AuthFailure failure;
  try {
    if (auth.authenticate("Bearer " + token, 1'700'000'000, failure)) broken_promise();
  } catch (...) {
    broken_promise();
  }
  if (failure.description.empty()) broken_promise();
  return 0;
}
