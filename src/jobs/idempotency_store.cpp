// IdempotencyStore on the job database (see idempotency_store.h).
#include "jobs/idempotency_store.h"

#include "jobs/job.h"
#include "util/error.h"

namespace sonic::jobs {

IdempotencyStore::IdempotencyStore(const std::filesystem::path& db_path, std::chrono::seconds keep)
    : db_(db_path), keep_(keep) {}

std::int64_t IdempotencyStore::expiry_ms() const {
  return now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(keep_).count();
}

std::optional<IdempotencyRecord> IdempotencyStore::claim(const std::string& client, const std::string& key) {
  return db_.transaction([&] {
    std::optional<IdempotencyRecord> existing;
    SqlStatement expired(db_, "DELETE FROM idempotency_keys WHERE client=? AND key=? AND created_ms<?",
                         {client, key, expiry_ms()});
    expired.step();
    SqlStatement insert(db_,
                        "INSERT OR IGNORE INTO idempotency_keys (client, key, state, fingerprint, job_id, created_ms)"
                        " VALUES (?,?,'in_progress','','',?)",
                        {client, key, now_ms()});
    insert.step();
    if (db_.changes() == 0) {
      SqlStatement read(db_, "SELECT state, fingerprint, job_id, created_ms FROM idempotency_keys WHERE client=? AND key=?",
                        {client, key});
      if (read.step()) existing = IdempotencyRecord{read.text(0) == "done", read.text(1), read.text(2), read.integer(3)};
    }
    return existing;
  });
}

void IdempotencyStore::complete(const std::string& client, const std::string& key, const std::string& fingerprint,
                                const std::string& job_id) {
  auto held = db_.lock();
  SqlStatement st(db_, "UPDATE idempotency_keys SET state='done', fingerprint=?, job_id=? WHERE client=? AND key=?",
                  {fingerprint, job_id, client, key});
  st.step();
}

void IdempotencyStore::release(const std::string& client, const std::string& key) {
  auto held = db_.lock();
  SqlStatement st(db_, "DELETE FROM idempotency_keys WHERE client=? AND key=? AND state='in_progress'", {client, key});
  st.step();
}

void IdempotencyStore::reclaim(const std::string& client, const std::string& key) {
  auto held = db_.lock();
  SqlStatement st(db_,
                  "UPDATE idempotency_keys SET state='in_progress', fingerprint='', job_id='', created_ms=?"
                  " WHERE client=? AND key=?",
                  {now_ms(), client, key});
  st.step();
}

int IdempotencyStore::drop_in_progress() {
  auto held = db_.lock();
  SqlStatement st(db_, "DELETE FROM idempotency_keys WHERE state='in_progress'");
  st.step();
  return db_.changes();
}

int IdempotencyStore::prune() {
  auto held = db_.lock();
  SqlStatement st(db_, "DELETE FROM idempotency_keys WHERE created_ms<?", {expiry_ms()});
  st.step();
  return db_.changes();
}

}  // namespace sonic::jobs
