// UploadSink: where the parts of a multipart upload go while they stream in.
//
// File parts (`image`, `audio`) are written straight to uploads/<uuid>.part and hashed on
// the way (SHA-256 for the result cache), so a request never holds more than one network
// buffer in memory. Text parts (`config`, `preset`) are kept in memory up to 64 KiB. The
// byte budget covers the whole request: the part that crosses it makes write() return
// false, the read stops, and nothing beyond the limit is stored. Files not claimed by
// release() are deleted when the sink dies, so a refused upload leaves nothing behind.
//
// Threads: one sink belongs to the one HTTP thread handling its request.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "jobs/sha256.h"

namespace sonic::http {

struct StoredUpload {
  std::filesystem::path path;  // in uploads/
  std::string sha256;
  std::uint64_t bytes = 0;
  std::string client_filename;  // for logs only; never used to decide anything
};

class UploadSink {
 public:
  UploadSink(std::filesystem::path uploads_dir, std::uint64_t max_bytes);
  ~UploadSink();
  UploadSink(const UploadSink&) = delete;
  UploadSink& operator=(const UploadSink&) = delete;

  // A new part begins. False (stop reading) for a repeated file field.
  bool begin_part(const std::string& name, const std::string& filename);
  // Bytes of the current part. False when the budget is exceeded or the disk write fails.
  bool write(const char* data, std::size_t size);
  // Closes the current part (also done by begin_part and the accessors).
  void end_part();

  bool too_large() const { return too_large_; }
  bool write_failed() const { return write_failed_; }
  std::uint64_t total_bytes() const { return total_; }
  std::optional<StoredUpload> file(const std::string& name);
  std::optional<std::string> text(const std::string& name);
  // Renames a stored file (to its final name) and stops owning it.
  std::filesystem::path release(const std::string& name, const std::string& final_name);

 private:
  struct OpenFile {
    StoredUpload stored;
    std::FILE* handle = nullptr;
    std::unique_ptr<jobs::Sha256> hash;
  };

  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  std::uint64_t total_ = 0;
  bool too_large_ = false;
  bool write_failed_ = false;
  std::string current_;       // name of the part being read
  bool current_is_file_ = false;
  std::map<std::string, OpenFile> files_;
  std::map<std::string, std::string> texts_;
};

}  // namespace sonic::http
