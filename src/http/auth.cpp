// Authenticator: JWT verification (libjwt), the admin rule and signed download URLs
// (OpenSSL HMAC). See auth.h for the rules and why each is explicit.
#include "http/auth.h"

#include <arpa/inet.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http/header_text.h"
#include "http/jwt_parts.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::http {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMinSecretBytes = 32;  // RFC 7518 §3.2: at least the hash size
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::size_t kMaxSubjectBytes = 256;

Error config_error(const std::string& message, const std::string& flag) {
  return Error(ErrorCode::invalid_config, message, flag);
}

std::string hex(const unsigned char* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len))
    throw Error(ErrorCode::internal, "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string sha256_raw(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorCode::internal, "SHA-256 failed");
  return std::string(reinterpret_cast<const char*>(digest), len);
}

// The credential of an "Authorization: Bearer <credential>" value (scheme case-insensitive,
// whitespace trimmed); nullopt for another scheme or no credential.
std::optional<std::string_view> bearer_credential(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
    return std::nullopt;
  std::string_view credential = trim(authorization.substr(kScheme.size()));
  if (credential.empty()) return std::nullopt;
  return credential;
}

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// The algorithm a PEM public key implies; throws for anything else.
std::string algorithm_for_public_key(const std::string& pem, const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key)
    throw config_error(
        "The file " + path + " is not a PEM public key (-----BEGIN PUBLIC KEY-----).",
        "jwt-public-key");
  int type = EVP_PKEY_base_id(key.get());
  if (type == EVP_PKEY_RSA) {
    if (EVP_PKEY_bits(key.get()) < 2048)
      throw config_error("The RSA key in " + path + " is shorter than 2048 bits.",
                         "jwt-public-key");
    return "RS256";
  }
  if (type == EVP_PKEY_EC) {
    char group[64] = {0};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &len) != 1 ||
        (std::string(group) != "prime256v1" && std::string(group) != "P-256"))
      throw config_error("The EC key in " + path + " is not on P-256 (ES256 needs P-256).",
                         "jwt-public-key");
    return "ES256";
  }
  throw config_error("The key in " + path + " is neither RSA (RS256) nor EC P-256 (ES256).",
                     "jwt-public-key");
}

bool is_number(const json& v) {
  return v.is_number() && std::isfinite(v.get<double>());
}

bool contains_word(const json& claim, const std::string& word) {
  if (claim.is_string()) {
    std::istringstream words(claim.get<std::string>());
    std::string w;
    while (words >> w)
      if (w == word) return true;
    return false;
  }
  if (claim.is_array())
    for (const auto& item : claim)
      if (item.is_string() && item.get<std::string>() == word) return true;
  return false;
}

}  // namespace

std::string sha256_hex(std::string_view text) {
  std::string raw = sha256_raw(text);
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw Error(ErrorCode::internal, "No randomness available.");
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

NewApiKey make_api_key(const std::string& subject, bool admin) {
  if (subject.empty() || subject.size() > kMaxSubjectBytes ||
      std::any_of(subject.begin(), subject.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == '#'; }))
    throw config_error("--sub must be 1-256 characters without spaces or '#'.", "sub");
  NewApiKey out;
  out.key = "sk_sonic_" + random_hex(32);
  out.line = subject + " sha256:" + sha256_hex(out.key) + (admin ? " admin" : "");
  return out;
}

std::string read_secret_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("Cannot read " + path + " (given to --" + flag + ").", flag);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

Authenticator::Authenticator(const AuthSettings& s)
    : url_ttl_s_(s.signed_url_ttl_s), skew_s_(s.clock_skew_s) {
  if (!s.metrics_key.empty()) {
    if (s.metrics_key.size() < kMinSecretBytes)
      throw config_error("The /metrics key must be at least 32 bytes (e.g. `openssl rand -hex 32`).",
                         "metrics-key-file");
    metrics_key_sha256_ = sha256_raw(s.metrics_key);
  }
  if (s.mode == "none") {
    if (!s.api_keys_file.empty())
      throw config_error("--api-keys-file needs --auth apikey (or jwt): with --auth none nobody is asked for a key.",
                         "api-keys-file");
    return;
  }
  if (s.mode != "jwt" && s.mode != "apikey")
    throw config_error("--auth must be 'none', 'jwt' or 'apikey', not '" + s.mode + "'.", "auth");
  enabled_ = true;
  if (url_ttl_s_ < 1)
    throw config_error("--signed-url-ttl-s must be at least 1.", "signed-url-ttl-s");
  if (!s.api_keys_file.empty()) load_api_keys(s.api_keys_file);
  if (s.mode == "apikey" && s.api_keys_file.empty())
    throw config_error("--auth apikey needs --api-keys-file (make keys with `sonic-server apikey --sub NAME`).",
                       "api-keys-file");
  bool have_secret = !s.jwt_secret.empty() || !s.jwt_secret_file.empty();
  bool have_key = !s.jwt_public_key_file.empty();
  jwt_ = s.mode == "jwt";
  if (jwt_ && have_secret == have_key)
    throw config_error(
        have_key ? "Give either a JWT secret (--jwt-secret-file / SONIC_JWT_SECRET) or "
                   "--jwt-public-key, not both."
                 : "--auth jwt needs --jwt-secret-file (or SONIC_JWT_SECRET) for HS256, or "
                   "--jwt-public-key for RS256/ES256.",
        have_key ? "jwt-public-key" : "jwt-secret-file");
  if (!jwt_) {
    algorithm_ = "apikey";
  } else if (have_secret) {
    algorithm_ = "HS256";
    key_ = !s.jwt_secret_file.empty() ? read_secret_file(s.jwt_secret_file, "jwt-secret-file")
                                      : s.jwt_secret;
    if (key_.size() < kMinSecretBytes)
      throw config_error("The JWT secret must be at least 32 bytes (e.g. `openssl rand -hex 32`).",
                         "jwt-secret-file");
  } else {
    key_ = read_secret_file(s.jwt_public_key_file, "jwt-public-key");
    algorithm_ = algorithm_for_public_key(key_, s.jwt_public_key_file);
  }
  issuer_ = s.issuer;
  audience_ = s.audience;
  if (!s.admin_claim.empty()) {
    auto eq = s.admin_claim.find('=');
    admin_claim_ = s.admin_claim.substr(0, eq);
    if (eq != std::string::npos) admin_value_ = s.admin_claim.substr(eq + 1);
    if (admin_claim_.empty())
      throw config_error("--jwt-admin-claim must be CLAIM or CLAIM=VALUE.", "jwt-admin-claim");
  }

  // The URL key is derived (domain separation): a signed URL never exposes an HMAC made
  // with the JWT secret itself.
  static constexpr std::string_view kLabel = "sonic-server signed download URLs v1";
  if (!s.url_signing_key_file.empty()) {
    std::string file_key = read_secret_file(s.url_signing_key_file, "url-signing-key-file");
    if (file_key.size() < kMinSecretBytes)
      throw config_error("The URL signing key must be at least 32 bytes.", "url-signing-key-file");
    url_key_ = hmac_sha256(file_key, kLabel);
  } else if (algorithm_ == "HS256") {
    url_key_ = hmac_sha256(key_, kLabel);
  } else {
    unsigned char random[32];
    if (RAND_bytes(random, sizeof random) != 1)
      throw Error(ErrorCode::internal, "No randomness for the URL key.");
    url_key_.assign(reinterpret_cast<const char*>(random), sizeof random);
    log::warn("signed URLs use a random key: they stop working when the server restarts",
              {{"fix", "--url-signing-key-file"}});
  }
}

std::optional<Identity> Authenticator::authenticate(std::string_view authorization,
                                                    std::int64_t now_s,
                                                    AuthFailure& failure,
                                                    std::string_view api_key) const {
  failure = AuthFailure{};
  auto refuse = [&](std::string why) {
    failure.description = std::move(why);
    return std::nullopt;
  };
  api_key = trim(api_key);
  if (!api_key.empty()) return check_api_key(api_key, failure);
  if (trim(authorization).empty())
    return refuse(jwt_ ? "Send Authorization: Bearer <token>." : "Send Authorization: Bearer <API key>.");
  failure.token_present = true;
  auto credential = bearer_credential(authorization);
  if (!credential) return refuse("The Authorization header must be 'Bearer <token>'.");
  std::string token(*credential);
  if (token.size() > kMaxTokenBytes) return refuse("The token is too long.");
  // A JWT always has dots; an API key never does.
  if (!jwt_ || token.find('.') == std::string::npos) return check_api_key(token, failure);

  std::string why;
  auto parts = parse_jwt(token, algorithm_, why);
  if (!parts) return refuse(why);
  const json& claims = parts->claims;

  if (algorithm_ == "HS256") {
    // Checked here too, in constant time, so the comparison does not depend on how the
    // library compares MACs.
    std::string expected = hmac_sha256(key_, parts->signing_input);
    if (parts->signature.size() != expected.size() ||
        CRYPTO_memcmp(parts->signature.data(), expected.data(), expected.size()) != 0)
      return refuse("The token's signature does not verify.");
  }
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                      static_cast<int>(key_.size()));
  JwtPtr verified(raw);
  if (rc != 0 || !verified) return refuse("The token's signature does not verify.");
  if (jwt_get_alg(verified.get()) != jwt_str_alg(algorithm_.c_str()))
    return refuse("The token must be signed with " + algorithm_ + ".");

  if (!claims.contains("exp") || !is_number(claims["exp"]))
    return refuse("The token has no expiry (exp).");
  if (static_cast<double>(now_s) > claims["exp"].get<double>() + skew_s_)
    return refuse("The token has expired.");
  if (claims.contains("nbf")) {
    if (!is_number(claims["nbf"])) return refuse("The token's nbf is not a number.");
    if (static_cast<double>(now_s + skew_s_) < claims["nbf"].get<double>())
      return refuse("The token is not valid yet.");
  }
  if (!issuer_.empty() && !(claims.contains("iss") && claims["iss"] == issuer_))
    return refuse("The token's issuer (iss) is not accepted here.");
  if (!audience_.empty()) {
    const json aud = claims.value("aud", json());
    bool ok = (aud.is_string() && aud.get<std::string>() == audience_) ||
              (aud.is_array() &&
               std::any_of(aud.begin(), aud.end(), [&](const json& a) { return a == audience_; }));
    if (!ok) return refuse("The token's audience (aud) does not include this service.");
  }
  if (!claims.contains("sub") || !claims["sub"].is_string())
    return refuse("The token has no subject (sub).");
  std::string subject = claims["sub"];
  if (subject.empty() || subject.size() > kMaxSubjectBytes ||
      std::any_of(subject.begin(), subject.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return refuse("The token's subject (sub) must be 1-256 printable characters.");

  Identity id;
  id.subject = std::move(subject);
  id.admin = is_admin(claims.dump());
  return id;
}

std::optional<Identity> Authenticator::check_api_key(std::string_view key,
                                                     AuthFailure& failure) const {
  failure.token_present = true;
  // The lookup is by the hash of what was sent: timing reveals nothing about stored keys.
  auto it = key.size() <= kMaxTokenBytes ? api_keys_.find(sha256_raw(key)) : api_keys_.end();
  if (it == api_keys_.end()) {
    failure.description = api_keys_.empty() ? "The token is malformed (a signed JWT has three parts)."
                                            : "The API key is not valid.";
    return std::nullopt;
  }
  return it->second;
}

void Authenticator::load_api_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw config_error("Cannot read " + path + " (given to --api-keys-file).", "api-keys-file");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string subject, digest, flag, extra;
    if (!(words >> subject)) continue;
    auto bad = [&](const std::string& why) {
      return config_error(path + " line " + std::to_string(number) + ": " + why +
                              " (expected `<subject> sha256:<64 hex digits> [admin]`).",
                          "api-keys-file");
    };
    if (!(words >> digest) || digest.rfind("sha256:", 0) != 0 || digest.size() != 7 + 64)
      throw bad("no sha256:<hex> hash");
    std::string raw;
    for (std::size_t i = 7; i < digest.size(); i += 2) {
      auto nibble = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = nibble(digest[i]), lo = nibble(digest[i + 1]);
      if (hi < 0 || lo < 0) throw bad("the hash is not hexadecimal");
      raw.push_back(static_cast<char>(hi * 16 + lo));
    }
    Identity id;
    id.subject = subject;
    if (words >> flag) {
      if (flag != "admin") throw bad("unknown flag '" + flag + "'");
      id.admin = true;
    }
    if (words >> extra) throw bad("unexpected '" + extra + "'");
    if (subject.size() > kMaxSubjectBytes) throw bad("the subject is longer than 256 characters");
    if (!api_keys_.emplace(raw, id).second) throw bad("the same key is listed twice");
  }
  if (api_keys_.empty())
    throw config_error(path + " lists no API keys (make one with `sonic-server apikey --sub NAME`).",
                       "api-keys-file");
}

bool Authenticator::metrics_key_matches(std::string_view authorization) const {
  if (metrics_key_sha256_.empty()) return false;
  auto credential = bearer_credential(authorization);
  if (!credential) return false;
  std::string presented = sha256_raw(*credential);
  return CRYPTO_memcmp(presented.data(), metrics_key_sha256_.data(), presented.size()) == 0;
}

bool Authenticator::is_admin(const std::string& claims_json) const {
  json claims = json::parse(claims_json, nullptr, false);
  if (!claims.is_object()) return false;
  if (admin_claim_.empty())
    return claims.value("admin", json()) == true ||
           contains_word(claims.value("scope", json()), "admin");
  if (!claims.contains(admin_claim_)) return false;
  const json& claim = claims[admin_claim_];
  if (admin_value_.empty()) return claim == true;
  return contains_word(claim, admin_value_);
}

std::string Authenticator::sign_path(std::string_view path, std::int64_t now_s) const {
  std::string expires = std::to_string(now_s + url_ttl_s_);
  std::string mac = hmac_sha256(url_key_, std::string(path) + "?expires=" + expires);
  return "?expires=" + expires +
         "&sig=" + hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

bool Authenticator::verify_signed_path(std::string_view path, std::string_view expires,
                                       std::string_view sig, std::int64_t now_s) const {
  if (expires.empty() || expires.size() > 18 || sig.size() != 64) return false;
  if (!std::all_of(expires.begin(), expires.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  std::string mac = hmac_sha256(url_key_, std::string(path) + "?expires=" + std::string(expires));
  std::string expected = hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  if (CRYPTO_memcmp(expected.data(), sig.data(), expected.size()) != 0) return false;
  return std::stoll(std::string(expires)) >= now_s;
}

bool is_loopback_host(const std::string& raw) {
  std::string host = raw;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string mint_hs256_token(const std::string& secret, const std::string& subject,
                             std::int64_t ttl_s, bool admin, const std::string& issuer,
                             const std::string& audience) {
  if (secret.size() < kMinSecretBytes)
    throw config_error("The JWT secret must be at least 32 bytes (e.g. `openssl rand -hex 32`).",
                       "secret-file");
  if (subject.empty()) throw config_error("--sub must not be empty.", "sub");
  if (ttl_s < 1) throw config_error("--ttl must be at least 1 s.", "ttl");
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw Error(ErrorCode::internal, "jwt_new failed");
  JwtPtr token(raw);
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  bool ok =
      jwt_add_grant(token.get(), "sub", subject.c_str()) == 0 &&
      jwt_add_grant_int(token.get(), "iat", static_cast<long>(now)) == 0 &&
      jwt_add_grant_int(token.get(), "exp", static_cast<long>(now + ttl_s)) == 0 &&
      (!admin || jwt_add_grant_bool(token.get(), "admin", 1) == 0) &&
      (issuer.empty() || jwt_add_grant(token.get(), "iss", issuer.c_str()) == 0) &&
      (audience.empty() || jwt_add_grant(token.get(), "aud", audience.c_str()) == 0) &&
      jwt_set_alg(token.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                  static_cast<int>(secret.size())) == 0;
  if (!ok) throw Error(ErrorCode::internal, "Could not build the token.");
  char* encoded = jwt_encode_str(token.get());
  if (!encoded) throw Error(ErrorCode::internal, "Could not sign the token.");
  std::string out(encoded);
  std::free(encoded);
  return out;
}

std::optional<std::int64_t> parse_duration_s(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(std::string(text)) * unit;
}

}  // namespace sonic::http
