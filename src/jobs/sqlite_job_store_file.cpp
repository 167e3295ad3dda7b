// SqliteJobStore's database file under its path (see sqlite_job_store.h): noticing it deleted or
// replaced while the server runs, writing it back, moving aside. Kept apart from the
// queries because it is about files and SQLite's WAL pairing, not about jobs.
#include <sqlite3.h>
#include <sys/stat.h>

#include "jobs/sqlite_job_store.h"
#include "util/error.h"

namespace sonic::jobs {

SqliteJobStore::FileState SqliteJobStore::file_state() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return FileState::deleted;
  std::lock_guard lock(mutex_);
  return st.st_dev == device_ && st.st_ino == inode_ ? FileState::same : FileState::replaced;
}

void SqliteJobStore::move_aside(const std::filesystem::path& target) {
  std::lock_guard lock(mutex_);
  copy_to(target);
  // SQLite pairs a database with its WAL by name: this connection's "<path>-wal" would be
  // read by anyone opening the file now under the path. From now on this store works on
  // the copy, whose WAL has the copy's name.
  close_emptying_wal();
  open_file(target);
}

void SqliteJobStore::copy_to(const std::filesystem::path& target) const {
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  std::filesystem::path tmp = target;
  tmp += ".tmp";
  std::filesystem::remove(tmp, ec);
  sqlite3* out = nullptr;
  if (sqlite3_open_v2(tmp.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = out ? sqlite3_errmsg(out) : "out of memory";
    sqlite3_close(out);
    throw Error(ErrorCode::internal, "job store: cannot write " + tmp.string() + ": " + msg);
  }
  // The online backup reads through this connection, so it copies what this process sees
  // (committed rows, the WAL included) even when the file it opened has been unlinked.
  sqlite3_backup* backup = sqlite3_backup_init(out, "main", db_, "main");
  int rc = backup ? sqlite3_backup_step(backup, -1) : SQLITE_ERROR;
  if (backup) sqlite3_backup_finish(backup);
  std::string msg = sqlite3_errmsg(out);
  sqlite3_close(out);
  if (rc != SQLITE_DONE) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::internal, "job store: cannot copy the database to " + tmp.string() + ": " + msg);
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) throw Error(ErrorCode::internal, "job store: cannot rename " + tmp.string() + ": " + ec.message());
}

void SqliteJobStore::close_emptying_wal() {
  // SQLite neither checkpoints nor deletes the WAL when it closes a database whose file
  // was moved or unlinked (it cannot know whose WAL the name now means), so a TRUNCATE
  // checkpoint first writes the frames into this connection's own file and leaves an empty
  // WAL, which pairs harmlessly with whatever file is under the path.
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_close(db_);
  db_ = nullptr;
}

void SqliteJobStore::restore_file() {
  std::lock_guard lock(mutex_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) return;  // there again (or replaced): not ours to overwrite
  std::filesystem::path restored = path_;
  restored += ".restored";
  copy_to(restored);
  // The copy must not meet a stale WAL of the old file under its name.
  close_emptying_wal();
  std::error_code ec;
  std::filesystem::rename(restored, path_, ec);
  if (ec) {
    open_file(restored);  // keep working from the copy; the next check tries again
    throw Error(ErrorCode::internal, "job store: cannot move the restored database into place: " + ec.message());
  }
  open_file(path_);
}

}  // namespace sonic::jobs
