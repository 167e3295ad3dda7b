// SqliteJobStore on SQLite (see sqlite_job_store.h for the design). Every statement is an RAII
// object; every SQLite error becomes Error(internal) with SQLite's own message.
#include "jobs/sqlite_job_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <iterator>
#include <random>
#include <variant>

#include "jobs/sqlite_db.h"
#include "util/error.h"

namespace sonic::jobs {
namespace {

using Value = SqliteJobStore::Value;

constexpr const char* kColumns =
    "id, client, request_id, state, stage, progress, engine, params, image_file, audio_file, "
    "output_file, cache_key, cached, output_expired, attempts, result, error_code, "
    "error_message, error_field, created_ms, started_ms, finished_ms";

// The schema as numbered steps; PRAGMA user_version holds how many have been applied.
// Databases made before the steps existed have version 0 and the step-1 table already
// (every statement of step 1 is IF NOT EXISTS). Add a step at the end, never edit one that
// has been released; the columns a release adds to `jobs` go in one step.
constexpr const char* kMigrations[] = {
    // 1: the jobs table as first released.
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id TEXT PRIMARY KEY, client TEXT NOT NULL, request_id TEXT NOT NULL, state TEXT NOT NULL,"
    " stage TEXT NOT NULL, progress REAL NOT NULL, engine TEXT NOT NULL, params TEXT NOT NULL,"
    " image_file TEXT NOT NULL, audio_file TEXT NOT NULL, output_file TEXT NOT NULL,"
    " cache_key TEXT NOT NULL, cached INTEGER NOT NULL, output_expired INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, result TEXT NOT NULL, error_code TEXT NOT NULL,"
    " error_message TEXT NOT NULL, error_field TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_ms);"
    "CREATE INDEX IF NOT EXISTS jobs_cache_key ON jobs(cache_key);"
    "CREATE INDEX IF NOT EXISTS jobs_client ON jobs(client, created_ms);",
    // 2: indexes for the queries that run per request (issue 10), each one's plan checked in
    // jobs_store_test: the job lists, newest first, walk an index in order (no sort, no
    // scan); the counts per client are kept by triggers, so the list's `total` costs one
    // row read; the result cache and the in-flight lookup read one entry of a partial index
    // however many identical requests came before (each cache hit adds a row with the same
    // key); output references and the retention sweep are found by index.
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_ms DESC, id);"
    "CREATE INDEX IF NOT EXISTS jobs_client_created ON jobs(client, created_ms DESC, id);"
    "DROP INDEX IF EXISTS jobs_client;"
    "CREATE INDEX IF NOT EXISTS jobs_cache_hit ON jobs(cache_key, finished_ms)"
    " WHERE state='succeeded' AND output_expired=0 AND output_file<>'';"
    "CREATE INDEX IF NOT EXISTS jobs_in_flight ON jobs(cache_key, created_ms) WHERE state IN ('queued','running');"
    "DROP INDEX IF EXISTS jobs_cache_key;"
    "CREATE INDEX IF NOT EXISTS jobs_output ON jobs(output_file);"
    "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_ms) WHERE finished_ms>0;"
    "CREATE TABLE IF NOT EXISTS job_counts (client TEXT PRIMARY KEY, jobs INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT OR REPLACE INTO job_counts SELECT client, COUNT(*) FROM jobs GROUP BY client;"
    "CREATE TRIGGER IF NOT EXISTS job_counts_insert AFTER INSERT ON jobs BEGIN"
    " INSERT INTO job_counts VALUES (NEW.client, 1) ON CONFLICT(client) DO UPDATE SET jobs=jobs+1; END;"
    "CREATE TRIGGER IF NOT EXISTS job_counts_delete AFTER DELETE ON jobs BEGIN"
    " UPDATE job_counts SET jobs=jobs-1 WHERE client=OLD.client; END;"
    "CREATE TRIGGER IF NOT EXISTS job_counts_client AFTER UPDATE OF client ON jobs BEGIN"
    " UPDATE job_counts SET jobs=jobs-1 WHERE client=OLD.client;"
    " INSERT INTO job_counts VALUES (NEW.client, 1) ON CONFLICT(client) DO UPDATE SET jobs=jobs+1; END;"
    // Also in 2: the current remote attempt of jobs dispatched over Redis (issue 12, docs/scaling.md):
    // the attempt number signed into its file URLs (never reused), the stream entry it
    // waits or runs as, the run that last reported on it (consumer, delivery) and whether
    // its video arrived. Deleted with its job.
    "CREATE TABLE IF NOT EXISTS remote_attempts ("
    " job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, engine TEXT NOT NULL, entry_id TEXT NOT NULL,"
    " worker TEXT NOT NULL, delivery INTEGER NOT NULL, dispatched_ms INTEGER NOT NULL,"
    " result_received INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS remote_attempts_job_deleted AFTER DELETE ON jobs BEGIN"
    " DELETE FROM remote_attempts WHERE job_id=OLD.id; END;"
    // (issue 15) webhook subscriptions, deliveries and their attempts
    // (jobs/webhook_store.cpp), and idempotency keys (jobs/idempotency_store.cpp).
    "CREATE TABLE IF NOT EXISTS webhook_subscriptions ("
    " id TEXT PRIMARY KEY, job_id TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,"
    " base_url TEXT NOT NULL, started_sent INTEGER NOT NULL, completed_sent INTEGER NOT NULL,"
    " last_progress_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS webhook_subscriptions_job ON webhook_subscriptions(job_id);"
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " id TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, job_id TEXT NOT NULL, url TEXT NOT NULL,"
    " event TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_attempt_ms INTEGER NOT NULL, give_up_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL, last_status INTEGER NOT NULL, last_error TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(next_attempt_ms) WHERE state='pending';"
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_job ON webhook_deliveries(job_id, created_ms);"
    "CREATE TABLE IF NOT EXISTS webhook_attempts ("
    " delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    " status INTEGER NOT NULL, error TEXT NOT NULL, next_attempt_ms INTEGER NOT NULL,"
    " PRIMARY KEY (delivery_id, attempt)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " client TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " job_id TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (client, key)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys(created_ms);",
};

// The statements that run per request or per sweep, in one place, so query_plans() explains
// exactly what the methods run. The WHERE parts follow "SELECT <kColumns> FROM jobs".
// The lists read ids only (from the index alone); the rows come from the record cache.
constexpr const char* kListAll = "SELECT id FROM jobs ORDER BY created_ms DESC, id LIMIT ?1 OFFSET ?2";
constexpr const char* kListClient =
    "SELECT id FROM jobs WHERE client=?3 ORDER BY created_ms DESC, id LIMIT ?1 OFFSET ?2";
constexpr const char* kCacheHit =
    "WHERE cache_key=? AND state='succeeded' AND output_expired=0 AND output_file<>'' ORDER BY finished_ms DESC LIMIT 1";
constexpr const char* kInFlight = "WHERE cache_key=? AND state IN ('queued','running') ORDER BY created_ms LIMIT 1";
constexpr const char* kInFlightClient =
    "WHERE cache_key=?1 AND state IN ('queued','running') AND client=?2 ORDER BY created_ms LIMIT 1";
constexpr const char* kOutputsFinishedBefore =
    "WHERE output_file<>'' AND output_expired=0 AND finished_ms>0 AND finished_ms<?";
// "+state": not by the state index, which would leave every finished job to sort.
constexpr const char* kFinishedBefore =
    "WHERE finished_ms>0 AND finished_ms<?1 AND +state IN ('succeeded','failed','canceled') ORDER BY finished_ms"
    " LIMIT ?2";
// Whole statements.
constexpr const char* kCountClient = "SELECT jobs FROM job_counts WHERE client=?";
constexpr const char* kCountAll = "SELECT COALESCE(SUM(jobs), 0) FROM job_counts";
constexpr const char* kCountActive = "SELECT COUNT(*) FROM jobs WHERE client=? AND state IN ('queued','running')";
constexpr const char* kOutputRefs = "SELECT COUNT(*) FROM jobs WHERE output_file=? AND output_expired=0";
constexpr const char* kOutputOwned =
    "SELECT COUNT(*) FROM jobs WHERE output_file=? AND client=? AND output_expired=0";
constexpr const char* kUploadInUse =
    "SELECT COUNT(*) FROM jobs WHERE state IN ('queued','running') AND (image_file=?1 OR audio_file=?1)";

}  // namespace

namespace {

nlohmann::json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return nlohmann::json::parse(text, nullptr, false);
}

std::vector<Value> row_values(const JobRecord& j) {
  return {j.id,
          j.client,
          j.request_id,
          std::string(state_name(j.state)),
          j.stage,
          j.progress,
          j.engine,
          j.params.dump(),
          j.image_file,
          j.audio_file,
          j.output_file,
          j.cache_key,
          std::int64_t{j.cached ? 1 : 0},
          std::int64_t{j.output_expired ? 1 : 0},
          std::int64_t{j.attempts},
          j.result.is_null() ? std::string() : j.result.dump(),
          j.error_code,
          j.error_message,
          j.error_field,
          j.created_ms,
          j.started_ms,
          j.finished_ms};
}

}  // namespace

SqliteJobStore::SqliteJobStore(const std::filesystem::path& db_path) : path_(db_path) {
  try {
    open_file(path_);
    migrate();  // throws for a database from a newer binary
  } catch (...) {
    // No destructor runs for a constructor that throws: close the connection here.
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

void SqliteJobStore::open_file(const std::filesystem::path& file) {
  db_ = open_job_database(file, /*create=*/true);
  exec("PRAGMA journal_mode=WAL");
  // Which file this is, so file_state() notices when the path later names another one.
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) {
    device_ = st.st_dev;
    inode_ = st.st_ino;
  }
}

SqliteJobStore::~SqliteJobStore() { sqlite3_close(db_); }

int SqliteJobStore::schema_version() const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, "PRAGMA user_version");
  return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

void SqliteJobStore::migrate() {
  const int have = schema_version();
  const int want = static_cast<int>(std::size(kMigrations));
  if (have > want)
    throw Error(ErrorCode::internal, "job store: the database has schema version " + std::to_string(have) +
                                         ", newer than this binary's " + std::to_string(want) +
                                         "; run the newer sonic-server or move the data dir aside.");
  for (int step = have; step < want; ++step) {
    // One transaction per step: a crash or a failing statement leaves the database at the
    // previous version.
    try {
      exec(std::string("BEGIN IMMEDIATE;") + kMigrations[step] + "PRAGMA user_version=" + std::to_string(step + 1) +
           ";COMMIT;");
    } catch (const Error&) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void SqliteJobStore::exec(const std::string& sql) const { exec_sql(db_, sql); }

void SqliteJobStore::insert(const JobRecord& job) {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, std::string("INSERT INTO jobs (") + kColumns +
                        ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(row_values(job));
  st.step();
  cache_.put(job);
}

bool SqliteJobStore::update(const JobRecord& job) {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_,
               "UPDATE jobs SET client=?2, request_id=?3, state=?4, stage=?5, progress=?6, engine=?7,"
               " params=?8, image_file=?9, audio_file=?10, output_file=?11, cache_key=?12, cached=?13,"
               " output_expired=?14, attempts=?15, result=?16, error_code=?17, error_message=?18,"
               " error_field=?19, created_ms=?20, started_ms=?21, finished_ms=?22 WHERE id=?1");
  st.bind(row_values(job));
  st.step();
  if (sqlite3_changes(db_) == 0) return false;
  cache_.put(job);
  return true;
}

void SqliteJobStore::update_progress(const std::string& id, const std::string& stage, double progress) {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, "UPDATE jobs SET stage=?, progress=? WHERE id=? AND state='running'");
  st.bind({stage, progress, id});
  st.step();
  cache_.set_progress(id, stage, progress);
}

std::vector<JobRecord> SqliteJobStore::query(const std::string& where, const std::vector<Value>& args) const {
  std::lock_guard lock(mutex_);
  return read_rows(where, args);
}

std::vector<JobRecord> SqliteJobStore::read_rows(const std::string& where, const std::vector<Value>& args) const {
  SqlStatement st(db_, std::string("SELECT ") + kColumns + " FROM jobs " + where);
  st.bind(args);
  std::vector<JobRecord> out;
  while (st.step()) {
    JobRecord j;
    j.id = st.text(0);
    j.client = st.text(1);
    j.request_id = st.text(2);
    j.state = parse_state(st.text(3)).value_or(JobState::failed);
    j.stage = st.text(4);
    j.progress = st.real(5);
    j.engine = st.text(6);
    j.params = parse_or_null(st.text(7));
    j.image_file = st.text(8);
    j.audio_file = st.text(9);
    j.output_file = st.text(10);
    j.cache_key = st.text(11);
    j.cached = st.integer(12) != 0;
    j.output_expired = st.integer(13) != 0;
    j.attempts = static_cast<int>(st.integer(14));
    j.result = parse_or_null(st.text(15));
    j.error_code = st.text(16);
    j.error_message = st.text(17);
    j.error_field = st.text(18);
    j.created_ms = st.integer(19);
    j.started_ms = st.integer(20);
    j.finished_ms = st.integer(21);
    out.push_back(std::move(j));
  }
  return out;
}

std::optional<JobRecord> SqliteJobStore::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  if (auto cached = cache_.find(id)) return *cached;
  auto rows = read_rows("WHERE id=?", {Value(id)});
  if (rows.empty()) return std::nullopt;
  cache_.put(rows.front());
  return std::move(rows.front());
}

bool SqliteJobStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, "DELETE FROM jobs WHERE id=?");
  st.bind({id});
  st.step();
  cache_.erase(id);
  return sqlite3_changes(db_) > 0;
}

std::vector<JobRecord> SqliteJobStore::list(const std::string& client, int offset, int limit) const {
  std::vector<JobRecord> out;
  for (const auto& record : list_records(client, offset, limit)) out.push_back(*record);
  return out;
}

std::vector<std::shared_ptr<const JobRecord>> SqliteJobStore::list_records(const std::string& client, int offset,
                                                                     int limit) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  {
    SqlStatement st(db_, client.empty() ? kListAll : kListClient);
    if (client.empty()) st.bind({std::int64_t{limit}, std::int64_t{offset}});
    else st.bind({std::int64_t{limit}, std::int64_t{offset}, client});
    while (st.step()) ids.push_back(st.text(0));
  }
  // Rows not cached yet are read in one statement and cached.
  std::string missing;
  std::vector<Value> args;
  for (const auto& id : ids) {
    if (cache_.find(id)) continue;
    missing += missing.empty() ? "?" : ",?";
    args.emplace_back(id);
  }
  if (!args.empty())
    for (const JobRecord& row : read_rows("WHERE id IN (" + missing + ")", args)) cache_.put(row);
  std::vector<std::shared_ptr<const JobRecord>> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    if (auto record = cache_.find(id)) out.push_back(std::move(record));
    else if (auto rows = read_rows("WHERE id=?", {Value(id)}); !rows.empty())
      out.push_back(std::make_shared<const JobRecord>(std::move(rows.front())));
  }
  return out;
}

int SqliteJobStore::count(const std::string& client) const {
  // job_counts is kept by triggers (schema step 2): one row, not one index entry per job.
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, client.empty() ? kCountAll : kCountClient);
  if (!client.empty()) st.bind({client});
  return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

int SqliteJobStore::count_active(const std::string& client) const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, kCountActive);
  st.bind({client});
  return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

std::vector<JobRecord> SqliteJobStore::list_in_state(JobState state) const {
  return query("WHERE state=? ORDER BY created_ms, id", {std::string(state_name(state))});
}

std::map<JobState, int> SqliteJobStore::count_by_state() const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  std::map<JobState, int> out;
  for (JobState s : {JobState::queued, JobState::running, JobState::succeeded, JobState::failed,
                     JobState::canceled})
    out[s] = 0;
  while (st.step()) {
    if (auto s = parse_state(st.text(0))) out[*s] = static_cast<int>(st.integer(1));
  }
  return out;
}

std::optional<JobRecord> SqliteJobStore::find_succeeded(const std::string& cache_key) const {
  auto rows = query(kCacheHit, {cache_key});
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::optional<JobRecord> SqliteJobStore::find_in_flight(const std::string& cache_key, const std::string& client) const {
  auto rows = client.empty() ? query(kInFlight, {cache_key}) : query(kInFlightClient, {cache_key, client});
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

int SqliteJobStore::count_output_refs(const std::string& output_file) const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, kOutputRefs);
  st.bind({output_file});
  return st.step() ? static_cast<int>(st.integer(0)) : 0;
}

bool SqliteJobStore::output_owned_by(const std::string& output_file, const std::string& client) const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, kOutputOwned);
  st.bind({output_file, client});
  return st.step() && st.integer(0) > 0;
}

bool SqliteJobStore::upload_in_use(const std::string& upload_file) const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_, kUploadInUse);
  st.bind({upload_file});
  return st.step() && st.integer(0) > 0;
}

std::vector<JobRecord> SqliteJobStore::outputs_finished_before(std::int64_t before_ms) const {
  return query(kOutputsFinishedBefore, {before_ms});
}

std::vector<JobRecord> SqliteJobStore::remove_finished_before(std::int64_t before_ms, int limit) {
  // Oldest first, a batch at a time: a long backlog never holds the store's lock for long.
  auto rows = query(kFinishedBefore, {before_ms, std::int64_t{std::max(1, limit)}});
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    SqlStatement st(db_, "DELETE FROM jobs WHERE id=?");
    for (const JobRecord& job : rows) {
      st.bind({job.id});
      st.step();
      st.reset();
      cache_.erase(job.id);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return rows;
}

std::map<std::string, std::string> SqliteJobStore::query_plans() const {
  const std::string select = std::string("SELECT ") + kColumns + " FROM jobs ";
  const std::pair<const char*, std::string> statements[] = {
      {"list", kListAll},
      {"list_client", kListClient},
      {"count", kCountAll},
      {"count_client", kCountClient},
      {"count_active", kCountActive},
      {"cache_hit", select + kCacheHit},
      {"in_flight", select + kInFlight},
      {"in_flight_client", select + kInFlightClient},
      {"output_refs", kOutputRefs},
      {"output_owned", kOutputOwned},
      {"upload_in_use", kUploadInUse},
      {"outputs_finished_before", select + kOutputsFinishedBefore},
      {"finished_before", select + kFinishedBefore},
  };
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> plans;
  for (const auto& [name, sql] : statements) {
    SqlStatement st(db_, "EXPLAIN QUERY PLAN " + sql);
    std::string plan;
    while (st.step()) plan += (plan.empty() ? "" : "; ") + st.text(3);
    plans[name] = plan;
  }
  return plans;
}

void SqliteJobStore::put_remote_attempt(const RemoteAttempt& a) {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_,
               "INSERT OR REPLACE INTO remote_attempts (job_id, attempt, engine, entry_id, worker, delivery,"
               " dispatched_ms, result_received) VALUES (?,?,?,?,?,?,?,?)");
  st.bind({a.job_id, std::int64_t{a.attempt}, a.engine, a.entry_id, a.worker, std::int64_t{a.delivery},
           a.dispatched_ms, std::int64_t{a.result_received ? 1 : 0}});
  st.step();
}

std::optional<RemoteAttempt> SqliteJobStore::remote_attempt(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  SqlStatement st(db_,
               "SELECT job_id, attempt, engine, entry_id, worker, delivery, dispatched_ms, result_received"
               " FROM remote_attempts WHERE job_id=?");
  st.bind({job_id});
  if (!st.step()) return std::nullopt;
  RemoteAttempt a;
  a.job_id = st.text(0);
  a.attempt = static_cast<int>(st.integer(1));
  a.engine = st.text(2);
  a.entry_id = st.text(3);
  a.worker = st.text(4);
  a.delivery = static_cast<int>(st.integer(5));
  a.dispatched_ms = st.integer(6);
  a.result_received = st.integer(7) != 0;
  return a;
}

}  // namespace sonic::jobs
