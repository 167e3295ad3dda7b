// IdempotencyStore: Idempotency-Key records of POST /api/sonic/generate (issue 15; the
// IETF httpapi draft "The Idempotency-Key HTTP Header Field"), per user, kept 24 h, in the
// job database so they survive a restart.
//
// A request with a key first claim()s it, before its body is read: a key nobody holds
// becomes `in_progress` (the request goes on); a key `in_progress` means another request
// with it is still being received (409 idempotency_in_progress); a key `done` carries the
// fingerprint of the request that made it and the job it made, so the route compares the
// new request's fingerprint (same → the same job, replayed; different → 422
// idempotency_conflict). A request that fails before a job exists release()s its claim, so
// a retry after a transient failure is not stuck. Claims of a previous process (it
// stopped mid-request) are dropped at start.
//
// Threads: any thread (SqliteDb's mutex; claim is one transaction).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "jobs/sqlite_db.h"

namespace sonic::jobs {

struct IdempotencyRecord {
  bool done = false;        // false: a request with this key is still being received
  std::string fingerprint;  // of the request that made the job (done only)
  std::string job_id;       // done only
  std::int64_t created_ms = 0;
};

class IdempotencyStore {
 public:
  IdempotencyStore(const std::filesystem::path& db_path, std::chrono::seconds keep);

  // nullopt: the key is now this request's (in_progress). Otherwise the live record.
  std::optional<IdempotencyRecord> claim(const std::string& client, const std::string& key);
  // The claimed request made (or joined, or was answered with) `job_id`.
  void complete(const std::string& client, const std::string& key, const std::string& fingerprint,
                const std::string& job_id);
  // The claimed request failed before a job existed: the key is free again.
  void release(const std::string& client, const std::string& key);
  // A done record whose job was deleted: the key is this request's again (in_progress).
  void reclaim(const std::string& client, const std::string& key);
  // At start: claims held by requests of a process that is gone.
  int drop_in_progress();
  // Records older than `keep`.
  int prune();

 private:
  std::int64_t expiry_ms() const;
  SqliteDb db_;
  std::chrono::seconds keep_;
};

}  // namespace sonic::jobs
