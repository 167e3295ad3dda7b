// StorageHealth: can the data dir take another job? (issue 10) Two things can make the
// answer no while the process runs fine:
//
// - Free space. Below `min_free_bytes` on the data dir's file system (statvfs, the space an
//   unprivileged writer may use) /readyz fails and a new job is refused with 507
//   insufficient_storage *before its upload is stored*, rather than started and failed
//   half-way through writing its video.
// - The job database file. SQLite keeps working on the file it opened even after its path
//   is unlinked or now names another file, so without a check the server would go on
//   writing jobs nobody can read back after a restart, orphaning every video. What happens
//   (docs/jobs.md):
//     deleted (the path has no file)  → an error is logged and the database is written
//       back to its path from the open connection (SqliteJobStore::restore_file), every job in
//       it; the service goes on. If that fails: not ready, new jobs refused (507), the
//       error logged on every check.
//     replaced (the path names another file, e.g. a backup moved into place) → the other
//       file is not touched; the server's own database moves aside to
//       sonic.db.replaced-<unix ms> (SqliteJobStore::move_aside: its WAL must not stay paired with
//       the new file by name), where the jobs already accepted go on and finish; /readyz
//       fails, new jobs are refused (507), and the error says to restart.
//
// Threads: check()/require() from HTTP threads, the janitor and readiness probes; one mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "jobs/sqlite_job_store.h"

namespace sonic::jobs {

class StorageHealth {
 public:
  StorageHealth(SqliteJobStore& store, std::filesystem::path data_dir, std::uint64_t min_free_bytes);

  // Empty when healthy, else why not (for /readyz). Repairs a deleted database (above).
  std::string check();
  // Throws Error(insufficient_storage) when check() fails, or when storing
  // `incoming_bytes` more would leave less than the threshold free.
  void require(std::uint64_t incoming_bytes);

  std::uint64_t min_free_bytes() const { return min_free_bytes_; }

 private:
  std::optional<std::string> database_problem();  // with mutex_ held
  std::optional<std::string> space_problem(std::uint64_t incoming_bytes) const;

  SqliteJobStore& store_;
  const std::filesystem::path data_dir_;
  const std::uint64_t min_free_bytes_;
  std::mutex mutex_;
  std::string lost_;                  // guarded by mutex_: why the database cannot be used, once seen
  std::chrono::steady_clock::time_point last_logged_;  // guarded by mutex_
};

// Bytes the file system of `path` has free for an unprivileged writer; nullopt when unknown.
std::optional<std::uint64_t> free_bytes(const std::filesystem::path& path);

}  // namespace sonic::jobs
