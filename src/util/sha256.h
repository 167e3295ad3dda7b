// SHA-256: the result cache key (DESIGN §7: same engine, params, image bytes, audio bytes →
// same video) and the face detection cache key (face/face_cache.h). Incremental, so uploads
// are hashed while they stream to disk and never read twice. OpenSSL EVP underneath; the
// OpenSSL type stays out of this header. In util/ because jobs/ and engine/ both hash.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace sonic {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // Lowercase hex of the digest; the object cannot be updated afterwards.
  std::string hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view bytes);
std::string sha256_file_hex(const std::filesystem::path& path);  // Error(internal) if unreadable

}  // namespace sonic
