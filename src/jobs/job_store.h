// JobStore: every job's durable state in one SQLite database in WAL mode (DESIGN §7).
//
// Design: one connection guarded by one mutex. SQLite serialises writers anyway, and
// with prepared statements a status read costs microseconds, so a connection pool would
// add complexity for no measurable gain at this scale. WAL + synchronous=NORMAL survives
// a process crash (kill -9) without losing a committed transaction; every state change
// is one transaction, so a job is always in exactly one well-defined state on disk.
//
// Threads: any thread may call any method; the object must outlive all callers.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "jobs/job.h"

struct sqlite3;

namespace sonic::jobs {

class JobStore {
 public:
  // Opens (creating if needed) the database file. Throws Error(internal) on failure.
  explicit JobStore(const std::filesystem::path& db_path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Schema steps applied (PRAGMA user_version); see kMigrations in job_store.cpp.
  int schema_version() const;

  void insert(const JobRecord& job);
  // Writes every mutable column of `job` (matched by id). False when the job is gone.
  bool update(const JobRecord& job);
  // Cheap progress update while running (no full row rewrite).
  void update_progress(const std::string& id, const std::string& stage, double progress);
  std::optional<JobRecord> get(const std::string& id) const;
  bool remove(const std::string& id);

  // Newest first. Empty client = all clients.
  std::vector<JobRecord> list(const std::string& client, int offset, int limit) const;
  int count(const std::string& client) const;
  // Jobs of `client` that are queued or running.
  int count_active(const std::string& client) const;
  std::vector<JobRecord> list_in_state(JobState state) const;  // oldest first
  std::map<JobState, int> count_by_state() const;

  // A succeeded job with this cache key whose output still exists (newest), if any.
  std::optional<JobRecord> find_succeeded(const std::string& cache_key) const;
  // A queued or running job with this cache key, if any (in-flight dedup); of `client`
  // only, when it is not empty.
  std::optional<JobRecord> find_in_flight(const std::string& cache_key, const std::string& client = {}) const;
  // Whether a job of `client` has this output file (and it has not expired).
  bool output_owned_by(const std::string& output_file, const std::string& client) const;
  // How many jobs reference this output file (cache hits share the file).
  int count_output_refs(const std::string& output_file) const;
  // Whether any unfinished job still needs this upload.
  bool upload_in_use(const std::string& upload_file) const;
  // Finished jobs whose output is older than `before_ms` and not yet expired.
  std::vector<JobRecord> outputs_finished_before(std::int64_t before_ms) const;

  // The current remote attempt of a job dispatched over Redis (schema step 2).
  void put_remote_attempt(const RemoteAttempt& attempt);
  std::optional<RemoteAttempt> remote_attempt(const std::string& job_id) const;

 private:
  struct Statement;
  void migrate();  // applies the schema steps this database lacks (constructor)
  std::vector<JobRecord> query(const std::string& sql, const std::vector<std::string>& args) const;
  void exec(const std::string& sql) const;

  mutable std::mutex mutex_;
  sqlite3* db_ = nullptr;  // owned; closed in the destructor
};

}  // namespace sonic::jobs
