// Free space and the job database file, checked before work is accepted (see storage_health.h).
#include "jobs/storage_health.h"

#include <sys/statvfs.h>

#include <fmt/format.h>

#include "util/error.h"
#include "util/log.h"

namespace sonic::jobs {
namespace fs = std::filesystem;

std::optional<std::uint64_t> free_bytes(const fs::path& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

StorageHealth::StorageHealth(SqliteJobStore& store, fs::path data_dir, std::uint64_t min_free_bytes)
    : store_(store), data_dir_(std::move(data_dir)), min_free_bytes_(min_free_bytes) {}

std::optional<std::string> StorageHealth::database_problem() {
  const auto state = store_.file_state();
  if (state == SqliteJobStore::FileState::same && lost_.empty()) return std::nullopt;
  if (state == SqliteJobStore::FileState::deleted && lost_.empty()) {
    log::error("the job database was deleted while the server was running; writing it back from the open connection",
               {{"path", store_.path().string()}});
    try {
      // The folders may have gone with it (rm -rf of the data dir).
      for (const char* folder : {"uploads", "outputs", "tmp"}) fs::create_directories(data_dir_ / folder);
      store_.restore_file();
      log::error("the job database was restored; no job was lost", {{"path", store_.path().string()},
                                                                     {"jobs", store_.count("")}});
      return std::nullopt;
    } catch (const std::exception& e) {
      lost_ = "the job database " + store_.path().string() + " was deleted and could not be restored (" + e.what() +
              "); restart the server";
    }
  } else if (state == SqliteJobStore::FileState::replaced && lost_.empty()) {
    fs::path aside = store_.path();
    aside += ".replaced-" + std::to_string(now_ms());
    std::string saved;
    try {
      store_.move_aside(aside);
      saved = "; this server's jobs are kept in " + aside.string() + " (jobs already accepted finish there)";
    } catch (const std::exception& e) {
      saved = std::string("; moving this server's jobs aside failed: ") + e.what();
    }
    lost_ = "the job database " + store_.path().string() + " was replaced by another file while the server ran" +
            saved + "; restart the server to use the new file";
  }
  if (lost_.empty()) return std::nullopt;
  // Loud, but once a minute: readiness probes and refused requests ask many times a minute.
  const auto now = std::chrono::steady_clock::now();
  if (last_logged_ == std::chrono::steady_clock::time_point{} || now - last_logged_ >= std::chrono::minutes(1)) {
    last_logged_ = now;
    log::error("job database unusable: new jobs are refused", {{"reason", lost_}});
  }
  return lost_;
}

std::optional<std::string> StorageHealth::space_problem(std::uint64_t incoming_bytes) const {
  if (min_free_bytes_ == 0) return std::nullopt;
  const auto free = free_bytes(data_dir_);
  if (!free) return std::nullopt;  // cannot tell: the write itself will say
  if (*free >= min_free_bytes_ && *free - min_free_bytes_ >= incoming_bytes) return std::nullopt;
  return fmt::format("the data disk has {} MB free; at least {} MB must stay free (--min-free-mb)",
                     *free / (1024 * 1024), (min_free_bytes_ + (1024 * 1024 - 1)) / (1024 * 1024));
}

std::string StorageHealth::check() {
  {
    std::lock_guard lock(mutex_);
    if (auto problem = database_problem()) return *problem;
  }
  return space_problem(0).value_or("");
}

void StorageHealth::require(std::uint64_t incoming_bytes) {
  std::optional<std::string> problem;
  {
    std::lock_guard lock(mutex_);
    problem = database_problem();
  }
  if (problem)
    throw Error(ErrorCode::insufficient_storage,
                "The server cannot store new jobs: " + *problem + ". Try again later.");
  if (auto space = space_problem(incoming_bytes))
    throw Error(ErrorCode::insufficient_storage, "The server is out of storage: " + *space + ". Try again later.");
}

}  // namespace sonic::jobs
