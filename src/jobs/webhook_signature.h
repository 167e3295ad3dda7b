// Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0): the secret
// format, how a delivery is signed, and the secret this deployment signs with.
//
// A secret is `whsec_` + base64 of 24–64 random bytes; the HMAC key is the decoded bytes.
// A delivery carries `webhook-id` (stable across retries), `webhook-timestamp` (Unix
// seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>">`, so every attempt is signed afresh with its own timestamp and
// a receiver can refuse old ones (replay) and duplicates (by id).
//
// Plain C++ on OpenSSL. Threads: WebhookSigner is immutable after construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sonic::jobs {

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; false when `text` is not that.
bool base64_decode(std::string_view text, std::string& out);

class WebhookSigner {
 public:
  // `secret` as `whsec_<base64>`. Throws Error(invalid_config) for anything else.
  explicit WebhookSigner(const std::string& secret);
  // "v1,<base64>" for one delivery attempt.
  std::string sign(std::string_view id, std::int64_t timestamp, std::string_view body) const;

 private:
  std::string key_;  // decoded bytes
};

// A new random secret, `whsec_` + base64 of 32 bytes.
std::string new_webhook_secret();
// The deployment's secret: the text of `configured_file` when given (trimmed), else
// <data_dir>/webhook-secret, made once (mode 0600) and kept. Throws Error(invalid_config)
// when the secret is not in the whsec_ format, Error(internal) when the file cannot be made.
std::string load_webhook_secret(const std::filesystem::path& data_dir, const std::string& configured_file);

}  // namespace sonic::jobs
