// FileUrls: the signed, expiring, per-attempt URLs a job message carries, so a worker on
// another machine can fetch a job's inputs and hand back its video without any other
// credential and without sharing the server's disk (docs/scaling.md "Files").
//
//   GET /api/worker/jobs/<id>/inputs/image?attempt=<n>&expires=<unix s>&sig=<hex>
//   GET /api/worker/jobs/<id>/inputs/audio?…
//   PUT /api/worker/jobs/<id>/result?…
//
// `sig` is HMAC-SHA256 over the exact text before "&sig=" (path, attempt, expiry), keyed
// with a key only the API server has (<data-dir>/worker-url.key, made once, mode 0600): the
// server both signs and checks, so no other process needs it. The signature proves the URL
// came from the server for that job, file and attempt; the route then checks that the
// attempt is still the job's current one and, for the result, that the uploading run
// still holds the lease — so a tampered, expired, replayed or stale URL is 403.
//
// Threads: immutable after construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sonic::jobs::remote {

enum class FileGrant { image, audio, result };
std::string_view grant_name(FileGrant grant);  // "image" | "audio" | "result"

class FileUrls {
 public:
  // `key`: at least 32 bytes.
  explicit FileUrls(std::string key);
  // The key in `path`, made (32 random bytes as hex, mode 0600) when the file does not exist.
  // Error(internal) when it cannot be read or written.
  static FileUrls from_key_file(const std::filesystem::path& path);

  // Path and query (no scheme or host: the worker knows the server's address).
  std::string sign(const std::string& job_id, FileGrant grant, int attempt, std::int64_t expires_s) const;

  enum class Verdict { valid, bad_signature, expired };
  // `attempt`, `expires` and `sig` as they came in the query (unparsed).
  Verdict verify(const std::string& job_id, FileGrant grant, std::string_view attempt, std::string_view expires,
                 std::string_view sig, std::int64_t now_s) const;

  // "/api/worker/jobs/<id>/inputs/image" and so on.
  static std::string path(const std::string& job_id, FileGrant grant);

 private:
  std::string mac_hex(std::string_view text) const;
  std::string key_;
};

}  // namespace sonic::jobs::remote
