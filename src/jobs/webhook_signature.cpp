// Standard Webhooks signing and the deployment's secret (see webhook_signature.h).
#include "jobs/webhook_signature.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "util/error.h"

namespace sonic::jobs {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kPrefix = "whsec_";
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool pad = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad)) return false;
  }
  std::string buffer(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buffer.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  std::size_t padding = text.size() - text.find_last_not_of('=') - 1;
  buffer.resize(static_cast<std::size_t>(n) - padding);  // EVP_DecodeBlock counts the padding as zero bytes
  out = std::move(buffer);
  return true;
}

WebhookSigner::WebhookSigner(const std::string& secret) {
  std::string_view text = secret;
  if (text.substr(0, kPrefix.size()) != kPrefix || !base64_decode(text.substr(kPrefix.size()), key_) ||
      key_.size() < 24 || key_.size() > 64)
    throw Error(ErrorCode::invalid_config,
                "The webhook secret must be whsec_ followed by the base64 of 24 to 64 bytes (Standard Webhooks).",
                "webhook-secret-file");
}

std::string WebhookSigner::sign(std::string_view id, std::int64_t timestamp, std::string_view body) const {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(content.data()),
            content.size(), mac, &length))
    throw Error(ErrorCode::internal, "HMAC-SHA256 failed");
  return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
}

std::string new_webhook_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error(ErrorCode::internal, "no random bytes for the webhook secret");
  return std::string(kPrefix) + base64_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

std::string load_webhook_secret(const fs::path& data_dir, const std::string& configured_file) {
  auto read_trimmed = [](const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
    return in ? s : std::string();
  };
  fs::path path = configured_file.empty() ? data_dir / "webhook-secret" : fs::path(configured_file);
  std::error_code ec;
  if (configured_file.empty() && !fs::exists(path, ec)) {
    const std::string secret = new_webhook_secret() + "\n";
    fs::path tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (ok) fs::rename(tmp, path, ec);
    if (!ok || ec) throw Error(ErrorCode::internal, "Cannot write the webhook secret " + path.string() + ".");
  }
  std::string secret = read_trimmed(path);
  if (secret.empty())
    throw Error(ErrorCode::invalid_config, "Cannot read the webhook secret from " + path.string() + ".",
                "webhook-secret-file");
  WebhookSigner check(secret);  // throws invalid_config for a malformed secret
  return secret;
}

}  // namespace sonic::jobs
