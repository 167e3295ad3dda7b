// Signed per-attempt file URLs (see file_urls.h).
#include "jobs/remote/file_urls.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "util/error.h"
#include "util/hex.h"
#include "util/key_file.h"

namespace sonic::jobs::remote {
namespace {

bool all_digits(std::string_view text, std::size_t max) {
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string_view grant_name(FileGrant grant) {
  switch (grant) {
    case FileGrant::image: return "image";
    case FileGrant::audio: return "audio";
    case FileGrant::result: return "result";
  }
  return "result";
}

FileUrls::FileUrls(std::string key) : key_(std::move(key)) {
  if (key_.size() < 32) throw Error(ErrorCode::internal, "The worker URL key must be at least 32 bytes.");
}

FileUrls FileUrls::from_key_file(const std::filesystem::path& path) {
  util::create_key_file_if_missing(path);
  return FileUrls(util::read_key_file(path));
}

std::string FileUrls::path(const std::string& job_id, FileGrant grant) {
  std::string base = "/api/worker/jobs/" + job_id;
  return grant == FileGrant::result ? base + "/result" : base + "/inputs/" + std::string(grant_name(grant));
}

std::string FileUrls::mac_hex(std::string_view text) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(text.data()),
            text.size(), mac, &len))
    throw Error(ErrorCode::internal, "HMAC-SHA256 failed");
  return util::to_hex(mac, len);
}

std::string FileUrls::sign(const std::string& job_id, FileGrant grant, int attempt, std::int64_t expires_s) const {
  std::string text = path(job_id, grant) + "?attempt=" + std::to_string(attempt) + "&expires=" + std::to_string(expires_s);
  return text + "&sig=" + mac_hex(text);
}

FileUrls::Verdict FileUrls::verify(const std::string& job_id, FileGrant grant, std::string_view attempt,
                                   std::string_view expires, std::string_view sig, std::int64_t now_s) const {
  if (!all_digits(attempt, 9) || !all_digits(expires, 18) || sig.size() != 64) return Verdict::bad_signature;
  std::string text = path(job_id, grant) + "?attempt=" + std::string(attempt) + "&expires=" + std::string(expires);
  std::string expected = mac_hex(text);
  if (CRYPTO_memcmp(expected.data(), sig.data(), expected.size()) != 0) return Verdict::bad_signature;
  return std::stoll(std::string(expires)) >= now_s ? Verdict::valid : Verdict::expired;
}

}  // namespace sonic::jobs::remote
