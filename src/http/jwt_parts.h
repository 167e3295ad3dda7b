// The untrusted half of JWT checking: a compact JWS (RFC 7515 §7.1) split into its three
// parts, decoded and its header judged, before any key or signature is involved. Kept
// apart from Authenticator (auth.h) so the part an attacker controls byte for byte is one
// small pure function — it is what fuzz/auth_jwt_header_fuzz.cpp drives.
//
// Rules: exactly three base64url parts (no padding, no standard-base64 characters), a
// header and a payload that are JSON objects, `alg` equal to the algorithm the server was
// configured with (the token never chooses it), and no `crit` header: RFC 7515 §4.1.11
// says a recipient must refuse a token whose critical extensions it does not understand,
// and this server understands none (e.g. RFC 7797's `b64: false`, which changes what the
// signature covers).
//
// Plain C++ and nlohmann::json; no HTTP library, no libjwt, no OpenSSL.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace sonic::http {

struct JwtParts {
  nlohmann::json header;           // a JSON object
  nlohmann::json claims;           // a JSON object
  std::string_view signing_input;  // "<header>.<payload>" as sent: what the signature covers
  std::string signature;           // decoded bytes of the third part
};

// Splits and checks `token`. On failure returns nullopt and puts a sentence safe to show
// the caller in `why` ("The token is malformed (…)", "The token must be signed with HS256.").
std::optional<JwtParts> parse_jwt(std::string_view token, std::string_view expected_alg, std::string& why);

// base64url without padding (RFC 7515 §2); nullopt for any other character.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace sonic::http
