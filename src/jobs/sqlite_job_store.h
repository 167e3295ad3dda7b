// SqliteJobStore: the JobStore (job_store.h) of one server: every job's durable state in one
// SQLite database in WAL mode (DESIGN §7).
//
// Design: one connection guarded by one mutex. SQLite serialises writers anyway, and
// with prepared statements a status read costs microseconds, so a connection pool would
// add complexity for no measurable gain at this scale. WAL + synchronous=NORMAL survives
// a process crash (kill -9) without losing a committed transaction; every state change
// is one transaction, so a job is always in exactly one well-defined state on disk.
// Parsed rows are kept in a small cache (job_record_cache.h) that every write keeps exact,
// so a page of the job list or a status poll does not parse each row's JSON again; the
// statements that run per request are all index walks (schema step 2, query_plans()).
//
// Threads: any thread may call any method; the object must outlive all callers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "jobs/job.h"
#include "jobs/job_record_cache.h"
#include "jobs/job_store.h"

struct sqlite3;

namespace sonic::jobs {

class SqliteJobStore : public JobStore {
 public:
  // A value bound to a statement's parameter.
  using Value = std::variant<std::string, std::int64_t, double>;

  // Opens (creating if needed) the database file. Throws Error(internal) on failure.
  explicit SqliteJobStore(const std::filesystem::path& db_path);
  ~SqliteJobStore() override;

  // Schema steps applied (PRAGMA user_version); see kMigrations in job_store.cpp.
  int schema_version() const;

  void insert(const JobRecord& job) override;
  // Writes every mutable column of `job` (matched by id). False when the job is gone.
  bool update(const JobRecord& job) override;
  // Cheap progress update while running (no full row rewrite).
  void update_progress(const std::string& id, const std::string& stage, double progress) override;
  std::optional<JobRecord> get(const std::string& id) const override;
  bool remove(const std::string& id) override;

  // Newest first. Empty client = all clients.
  std::vector<JobRecord> list(const std::string& client, int offset, int limit) const override;
  // The same rows as shared, immutable records (the record cache's own, not copies): the
  // job list route serialises each record once (http/job_json_cache.h).
  std::vector<std::shared_ptr<const JobRecord>> list_records(const std::string& client, int offset, int limit) const override;
  int count(const std::string& client) const override;
  // Jobs of `client` that are queued or running.
  int count_active(const std::string& client) const override;
  std::vector<JobRecord> list_in_state(JobState state) const override;  // oldest first
  std::map<JobState, int> count_by_state() const override;

  // A succeeded job with this cache key whose output still exists (newest), if any.
  std::optional<JobRecord> find_succeeded(const std::string& cache_key) const override;
  // A queued or running job with this cache key, if any (in-flight dedup); of `client`
  // only, when it is not empty.
  std::optional<JobRecord> find_in_flight(const std::string& cache_key, const std::string& client) const override;
  using JobStore::find_in_flight;
  // Whether a job of `client` has this output file (and it has not expired).
  bool output_owned_by(const std::string& output_file, const std::string& client) const override;
  // How many jobs reference this output file (cache hits share the file).
  int count_output_refs(const std::string& output_file) const override;
  // Whether any unfinished job still needs this upload.
  bool upload_in_use(const std::string& upload_file) const override;
  // Finished jobs whose output is older than `before_ms` and not yet expired.
  std::vector<JobRecord> outputs_finished_before(std::int64_t before_ms) const override;
  // Deletes up to `limit` finished jobs that finished before `before_ms`, oldest first, in
  // one transaction; returns them (their files are the caller's to delete).
  std::vector<JobRecord> remove_finished_before(std::int64_t before_ms, int limit) override;

  // The database file under its path, compared with the one this store opened: still the
  // same file, gone (deleted or moved away), or another file put in its place.
  enum class FileState { same, deleted, replaced };
  FileState file_state() const;
  // The path has no file any more: writes what this connection holds (every committed job,
  // its WAL included) back to the path and reopens it there. Does nothing when a file is
  // there again. Throws Error(internal) when it cannot.
  void restore_file();
  // Another file is under the path: writes this database as it is now to `target` (a
  // temporary file renamed) and goes on working there, leaving the path and its new file
  // alone. Throws Error(internal).
  void move_aside(const std::filesystem::path& target);
  const std::filesystem::path& path() const { return path_; }

  // EXPLAIN QUERY PLAN of every statement that runs per request or per sweep, by name
  // ("list", "cache_hit", …), for jobs_store_test and for diagnosis.
  std::map<std::string, std::string> query_plans() const;

  // The current remote attempt of a job dispatched over Redis (schema step 2).
  void put_remote_attempt(const RemoteAttempt& attempt) override;
  std::optional<RemoteAttempt> remote_attempt(const std::string& job_id) const override;

 private:
  void migrate();  // applies the schema steps this database lacks (constructor)
  std::vector<JobRecord> query(const std::string& where, const std::vector<Value>& args) const;  // locks
  std::vector<JobRecord> read_rows(const std::string& where, const std::vector<Value>& args) const;  // mutex_ held
  void exec(const std::string& sql) const;
  void open_file(const std::filesystem::path& file);    // with mutex_ held, or in the constructor
  void copy_to(const std::filesystem::path& target) const;  // with mutex_ held
  void close_emptying_wal();                                // with mutex_ held

  std::filesystem::path path_;
  mutable std::mutex mutex_;
  sqlite3* db_ = nullptr;  // owned; closed in the destructor; replaced by restore_file()
  std::uint64_t device_ = 0, inode_ = 0;  // of the file opened, guarded by mutex_
  mutable JobRecordCache cache_;          // guarded by mutex_; exact (every write updates it)
};

}  // namespace sonic::jobs
