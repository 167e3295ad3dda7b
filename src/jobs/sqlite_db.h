// SqliteDb: one SQLite connection to the job database, with RAII statements, for the
// stores that live beside JobStore in the same file (webhook deliveries, idempotency keys).
//
// Why a second connection instead of more methods on JobStore: each store stays one file
// of its own concern, and SQLite in WAL mode lets connections read at once while it
// serialises writers (busy timeout 5 s), which is all these small tables need. The schema
// of every table is still JobStore's kMigrations (one numbered list), so a SqliteDb is
// opened only after JobStore has migrated the file.
//
// Threads: any thread; one mutex guards the connection (lock() around a statement's life).
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sonic::jobs {

using SqlValue = std::variant<std::string, std::int64_t, double>;

// Opens the job database file as one connection in serialised mode, with a 5 s busy timeout
// and synchronous=NORMAL; `create`: the file may be made. The caller owns the handle
// (sqlite3_close). Throws Error(internal).
sqlite3* open_job_database(const std::filesystem::path& path, bool create);
// Runs statements without results on `db`. Throws Error(internal) naming the SQL.
void exec_sql(sqlite3* db, const std::string& sql);

class SqliteDb {
 public:
  // Opens the existing database file. Throws Error(internal) on failure.
  explicit SqliteDb(const std::filesystem::path& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Hold while preparing, stepping and reading a Statement, and across a transaction.
  std::unique_lock<std::recursive_mutex> lock() const { return std::unique_lock(mutex_); }
  // Runs statements without results (with the lock held by the caller or not).
  void exec(const std::string& sql) const;
  // Runs `body` in one BEGIN IMMEDIATE … COMMIT, rolled back when it throws; returns its result.
  template <typename Body>
  auto transaction(Body body) {
    auto held = lock();
    exec("BEGIN IMMEDIATE");
    try {
      auto result = body();
      exec("COMMIT");
      return result;
    } catch (...) {
      rollback();
      throw;
    }
  }
  void rollback() noexcept;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int changes() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;  // owned
  mutable std::recursive_mutex mutex_;
};

// One prepared statement, finalized when it goes out of scope. Errors → Error(internal).
// Used by JobStore on its own connection too (the raw-handle constructor).
class SqlStatement {
 public:
  SqlStatement(const SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& values = {})
      : SqlStatement(db.handle(), sql, values) {}
  SqlStatement(sqlite3* db, const std::string& sql, const std::vector<SqlValue>& values = {});
  ~SqlStatement();
  SqlStatement(const SqlStatement&) = delete;
  SqlStatement& operator=(const SqlStatement&) = delete;

  // Binds `values` to parameters 1, 2, … (after reset(), for the next run).
  void bind(const std::vector<SqlValue>& values);
  // Ready to run again, the bound values kept until bind() replaces them.
  void reset();
  // True while there is a row to read.
  bool step();
  std::string text(int column) const;
  std::int64_t integer(int column) const;
  double real(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace sonic::jobs
