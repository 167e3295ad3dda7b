// UploadSink: streams multipart parts to disk under a byte budget (see upload_sink.h).
#include "http/upload_sink.h"

#include "jobs/job.h"

namespace sonic::http {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kMaxTextPart = 64 * 1024;
bool is_file_field(const std::string& name) { return name == "image" || name == "audio"; }
}  // namespace

UploadSink::UploadSink(fs::path uploads_dir, std::uint64_t max_bytes)
    : dir_(std::move(uploads_dir)), max_bytes_(max_bytes) {}

UploadSink::~UploadSink() {
  end_part();
  for (auto& [name, f] : files_) {
    if (f.handle) std::fclose(f.handle);
    std::error_code ec;
    if (!f.stored.path.empty()) fs::remove(f.stored.path, ec);
  }
}

bool UploadSink::begin_part(const std::string& name, const std::string& filename) {
  end_part();
  current_ = name;
  current_is_file_ = is_file_field(name);
  if (!current_is_file_) return true;
  if (files_.count(name)) return false;  // two `image` parts: ambiguous, refuse
  OpenFile f;
  f.stored.path = dir_ / (jobs::new_uuid() + ".part");
  f.stored.client_filename = filename;
  f.handle = std::fopen(f.stored.path.c_str(), "wb");
  if (!f.handle) {
    write_failed_ = true;
    return false;
  }
  f.hash = std::make_unique<jobs::Sha256>();
  files_.emplace(name, std::move(f));
  return true;
}

bool UploadSink::write(const char* data, std::size_t size) {
  total_ += size;
  if (total_ > max_bytes_) {
    too_large_ = true;
    return false;
  }
  if (!current_is_file_) {
    std::string& text = texts_[current_];
    if (text.size() + size > kMaxTextPart) {
      too_large_ = true;
      return false;
    }
    text.append(data, size);
    return true;
  }
  OpenFile& f = files_.at(current_);
  if (std::fwrite(data, 1, size, f.handle) != size) {
    write_failed_ = true;
    return false;
  }
  f.hash->update(data, size);
  f.stored.bytes += size;
  return true;
}

void UploadSink::end_part() {
  if (current_is_file_) {
    auto it = files_.find(current_);
    if (it != files_.end() && it->second.handle) {
      if (std::fclose(it->second.handle) != 0) write_failed_ = true;
      it->second.handle = nullptr;
      it->second.stored.sha256 = it->second.hash->hex();
    }
  }
  current_.clear();
  current_is_file_ = false;
}

std::optional<StoredUpload> UploadSink::file(const std::string& name) {
  end_part();
  auto it = files_.find(name);
  if (it == files_.end() || it->second.stored.bytes == 0) return std::nullopt;
  return it->second.stored;
}

std::optional<std::string> UploadSink::text(const std::string& name) {
  end_part();
  auto it = texts_.find(name);
  if (it == texts_.end()) return std::nullopt;
  return it->second;
}

fs::path UploadSink::release(const std::string& name, const std::string& final_name) {
  end_part();
  auto it = files_.find(name);
  fs::path target = dir_ / final_name;
  fs::rename(it->second.stored.path, target);
  files_.erase(it);
  return target;
}

}  // namespace sonic::http
