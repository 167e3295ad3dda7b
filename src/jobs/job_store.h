// JobStore: where every job's durable state lives (DESIGN §7), as the job system sees it.
//
// An interface so that the store can be replaced: today one server keeps its jobs in SQLite
// (SqliteJobStore, sqlite_job_store.h); several API servers at once would share a store such
// as PostgreSQL behind this same interface (docs/scaling.md). Everything above it — the job
// service, the dispatchers (local and Redis), job updates — reaches jobs only through these
// methods. What is SQLite's own (its file on disk watched by StorageHealth, the schema
// version, query plans) stays on SqliteJobStore.
//
// Semantics every implementation keeps: each call is atomic; a write is durable when it
// returns; reads see every write that returned before them; `remove_finished_before` deletes
// its batch in one transaction.
//
// Threads: any thread may call any method; the object must outlive all callers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobs/job.h"

namespace sonic::jobs {

class JobStore {
 public:
  virtual ~JobStore() = default;
  JobStore() = default;
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  virtual void insert(const JobRecord& job) = 0;
  // Writes every mutable column of `job` (matched by id). False when the job is gone.
  virtual bool update(const JobRecord& job) = 0;
  // Cheap progress update while running (no full row rewrite).
  virtual void update_progress(const std::string& id, const std::string& stage, double progress) = 0;
  virtual std::optional<JobRecord> get(const std::string& id) const = 0;
  virtual bool remove(const std::string& id) = 0;

  // Newest first. Empty client = all clients.
  virtual std::vector<JobRecord> list(const std::string& client, int offset, int limit) const = 0;
  // The same rows as shared, immutable records (not copies where the store caches them): the
  // job list route serialises each record once (http/job_json_cache.h).
  virtual std::vector<std::shared_ptr<const JobRecord>> list_records(const std::string& client, int offset,
                                                                     int limit) const = 0;
  virtual int count(const std::string& client) const = 0;
  // Jobs of `client` that are queued or running.
  virtual int count_active(const std::string& client) const = 0;
  virtual std::vector<JobRecord> list_in_state(JobState state) const = 0;  // oldest first
  virtual std::map<JobState, int> count_by_state() const = 0;

  // A succeeded job with this cache key whose output still exists (newest), if any.
  virtual std::optional<JobRecord> find_succeeded(const std::string& cache_key) const = 0;
  // A queued or running job with this cache key, if any (in-flight dedup); of `client`
  // only, when it is not empty.
  virtual std::optional<JobRecord> find_in_flight(const std::string& cache_key, const std::string& client) const = 0;
  std::optional<JobRecord> find_in_flight(const std::string& cache_key) const { return find_in_flight(cache_key, {}); }
  // Whether a job of `client` has this output file (and it has not expired).
  virtual bool output_owned_by(const std::string& output_file, const std::string& client) const = 0;
  // How many jobs reference this output file (cache hits share the file).
  virtual int count_output_refs(const std::string& output_file) const = 0;
  // Whether any unfinished job still needs this upload.
  virtual bool upload_in_use(const std::string& upload_file) const = 0;
  // Finished jobs whose output is older than `before_ms` and not yet expired.
  virtual std::vector<JobRecord> outputs_finished_before(std::int64_t before_ms) const = 0;
  // Deletes up to `limit` finished jobs that finished before `before_ms`, oldest first, in
  // one transaction; returns them (their files are the caller's to delete).
  virtual std::vector<JobRecord> remove_finished_before(std::int64_t before_ms, int limit) = 0;

  // The current remote attempt of a job dispatched over Redis.
  virtual void put_remote_attempt(const RemoteAttempt& attempt) = 0;
  virtual std::optional<RemoteAttempt> remote_attempt(const std::string& job_id) const = 0;
};

}  // namespace sonic::jobs
