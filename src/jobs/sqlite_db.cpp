// SqliteDb and SqlStatement (see sqlite_db.h).
#include "jobs/sqlite_db.h"

#include <sqlite3.h>

#include "util/error.h"

namespace sonic::jobs {

namespace {
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw Error(ErrorCode::internal, "job database: " + what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}
}  // namespace

sqlite3* open_job_database(const std::filesystem::path& path, bool create) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Error(ErrorCode::internal, "cannot open the job database " + path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  try {
    exec_sql(db, "PRAGMA synchronous=NORMAL");
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
  return db;
}

void exec_sql(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown";
    sqlite3_free(err);
    throw Error(ErrorCode::internal, "job database: " + sql + ": " + message);
  }
}

SqliteDb::SqliteDb(const std::filesystem::path& path) : db_(open_job_database(path, /*create=*/false)) {}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::exec(const std::string& sql) const {
  auto held = lock();
  exec_sql(db_, sql);
}

void SqliteDb::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

int SqliteDb::changes() const { return sqlite3_changes(db_); }

SqlStatement::SqlStatement(sqlite3* db, const std::string& sql, const std::vector<SqlValue>& values) : db_(db) {
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    fail(db_, "prepare '" + sql + "'");
  if (!values.empty()) bind(values);
}

void SqlStatement::bind(const std::vector<SqlValue>& values) {
  int i = 1;
  for (const SqlValue& v : values) {
    int rc = SQLITE_OK;
    if (auto* s = std::get_if<std::string>(&v))
      rc = sqlite3_bind_text(stmt_, i, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    else if (auto* n = std::get_if<std::int64_t>(&v))
      rc = sqlite3_bind_int64(stmt_, i, *n);
    else
      rc = sqlite3_bind_double(stmt_, i, std::get<double>(v));
    if (rc != SQLITE_OK) fail(db_, "bind");
    ++i;
  }
}

void SqlStatement::reset() { sqlite3_reset(stmt_); }

SqlStatement::~SqlStatement() { sqlite3_finalize(stmt_); }

bool SqlStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, "step");
}

std::string SqlStatement::text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::int64_t SqlStatement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }
double SqlStatement::real(int column) const { return sqlite3_column_double(stmt_, column); }

}  // namespace sonic::jobs
