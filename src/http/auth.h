// Authentication and download signing for the HTTP API (issue 5, docs/auth.md).
//
// Three modes: `none` (only on a loopback address unless the operator insists), `jwt`:
// HS256 with a shared secret, or RS256/ES256 with a PEM public key, verified with libjwt,
// and `apikey`: static keys for scripts. API keys also work next to JWTs when a keys file
// is given in `jwt` mode. The keys file holds only SHA-256 hashes of the keys (which are
// 256-bit random strings made by `sonic-server apikey`, so a fast hash is enough: there is
// nothing to brute-force), one line per key: `<subject> sha256:<64 hex> [admin]`.
// A key is sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
// Every rule is explicit here rather than left to the library's defaults: the token's
// `alg` must equal the configured algorithm exactly (so `alg: none` and HS/RS confusion —
// an HS256 token "signed" with the RSA public key — fail before any signature check), `exp`
// is required, `nbf`/`iss`/`aud` are checked, with 60 s of clock skew.
//
// Signed download URLs: /output/<name>?expires=<unix>&sig=<hex HMAC-SHA256> over the
// exact text "/output/<name>?expires=<unix>", so a browser <video src> works without an
// Authorization header. The key is derived from the JWT secret (or a key file), never the
// secret itself.
//
// Plain C++: no HTTP library here; http_server.cpp passes header values in and turns an
// AuthFailure into 401/403. Threads: an Authenticator is immutable after construction and
// safe to share between HTTP threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sonic::http {

// What `serve` was given (flags, SONIC_* env, config file).
struct AuthSettings {
  std::string mode = "none";        // none | jwt | apikey
  std::string jwt_secret;           // HS256 secret bytes (SONIC_JWT_SECRET)
  std::string jwt_secret_file;      // HS256 secret in a file (trailing newline ignored)
  std::string jwt_public_key_file;  // PEM public key: RSA -> RS256, EC P-256 -> ES256
  std::string issuer;               // required `iss` when set
  std::string audience;             // required in `aud` when set
  std::string admin_claim;          // CLAIM or CLAIM=VALUE; empty = admin:true or scope has "admin"
  std::string url_signing_key_file;  // key for signed URLs; default: derived from the HS secret
  int signed_url_ttl_s = 3600;
  int clock_skew_s = 60;
  std::string api_keys_file;  // hashed static API keys (see above); required for `apikey`
  std::string metrics_key;    // a bearer key that may read /metrics (besides admins)
};

// Who made a request.
struct Identity {
  std::string subject;  // the token's `sub`: owns the jobs it creates
  bool admin = false;   // sees every job and /metrics
};

// Why a token was refused; `description` is safe to show the caller.
struct AuthFailure {
  bool token_present = false;  // false: no credentials at all (no error= in WWW-Authenticate)
  std::string description;
};

class Authenticator {
 public:
  // Validates and loads the settings. Throws Error(invalid_config) with a message that
  // names the flag to fix (a short secret, an unreadable key, an unknown mode...).
  explicit Authenticator(const AuthSettings& settings);

  bool enabled() const { return enabled_; }
  const std::string& algorithm() const { return algorithm_; }

  // Checks an Authorization header value ("Bearer <token or API key>") and, when not
  // empty, an X-API-Key header value; `now_s` = Unix seconds.
  // Returns the identity, or fills `failure` and returns nullopt.
  std::optional<Identity> authenticate(std::string_view authorization, std::int64_t now_s,
                                       AuthFailure& failure, std::string_view api_key = {}) const;

  // /metrics' own key (--metrics-key-file): true when `authorization` is "Bearer <it>".
  bool has_metrics_key() const { return !metrics_key_sha256_.empty(); }
  bool metrics_key_matches(std::string_view authorization) const;
  std::size_t api_key_count() const { return api_keys_.size(); }

  // "/output/name" -> "?expires=...&sig=..." valid for the configured TTL from now_s.
  std::string sign_path(std::string_view path, std::int64_t now_s) const;
  // True when `sig` is the signature of path + expires and expires >= now_s.
  bool verify_signed_path(std::string_view path, std::string_view expires, std::string_view sig,
                          std::int64_t now_s) const;

 private:
  bool is_admin(const std::string& claims_json) const;
  std::optional<Identity> check_api_key(std::string_view key, AuthFailure& failure) const;
  void load_api_keys(const std::string& path);

  bool enabled_ = false;
  std::string algorithm_;  // HS256 | RS256 | ES256
  std::string key_;        // HS secret or PEM public key, as libjwt wants it
  std::string issuer_, audience_;
  std::string admin_claim_, admin_value_;
  std::string url_key_;  // 32 bytes
  int url_ttl_s_ = 3600;
  int skew_s_ = 60;
  bool jwt_ = false;                                     // JWTs accepted
  std::unordered_map<std::string, Identity> api_keys_;  // SHA-256 (raw bytes) -> who
  std::string metrics_key_sha256_;                       // raw bytes; empty = none
};

// True for 127.0.0.0/8, ::1 and "localhost": the only addresses `--auth none` may bind.
bool is_loopback_host(const std::string& host);

// An HS256 token for `sonic-server token`. Throws Error(invalid_config) for a short secret.
std::string mint_hs256_token(const std::string& secret, const std::string& subject,
                             std::int64_t ttl_s, bool admin, const std::string& issuer = {},
                             const std::string& audience = {});

// A new random API key ("sk_sonic_" + 64 hex digits) and its keys-file line for `subject`.
struct NewApiKey {
  std::string key;   // show once; never stored
  std::string line;  // "<subject> sha256:<hex> [admin]"
};
NewApiKey make_api_key(const std::string& subject, bool admin);

// SHA-256 of `text` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view text);

// `bytes` bytes from OpenSSL's random generator as lower-case hex (keys, secrets).
// Throws Error(internal) when no randomness is available.
std::string random_hex(std::size_t bytes);

// Reads a secret or key file; strips one trailing newline (CR/LF). Throws Error(invalid_config).
std::string read_secret_file(const std::string& path, const std::string& flag);

// "90", "90s", "30m", "1h", "2d" -> seconds; nullopt when malformed.
std::optional<std::int64_t> parse_duration_s(std::string_view text);

}  // namespace sonic::http
