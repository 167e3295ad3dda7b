// Unit: JobStore against a real SQLite file in a temporary folder — round trips, WAL
// mode, persistence across reopening, listing, the cache and dedup lookups.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "jobs/job_record_cache.h"
#include "jobs/sqlite_job_store.h"
#include "jobs/sha256.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::jobs {
namespace {

JobRecord make_job(const std::string& client, std::int64_t created, const std::string& key = "k") {
  JobRecord j;
  j.id = new_uuid();
  j.client = client;
  j.request_id = "req";
  j.engine = "classic";
  j.params = {{"fps", 25}, {"seed", 1}};
  j.image_file = j.id + "-image.png";
  j.audio_file = j.id + "-audio.wav";
  j.cache_key = key;
  j.created_ms = created;
  return j;
}

// Runs `sql` on the database file directly, as another program (or an older release) would.
void run_sql(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(JobStoreSchema, NewDatabaseHasEveryStep) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  EXPECT_GE(store.schema_version(), 1);
}

TEST(JobStoreSchema, DatabaseOfTheFirstReleaseIsMigratedWithItsRows) {
  test::TempDir dir;
  // The first release made the table without ever setting user_version.
  run_sql(dir / "jobs.db",
          "CREATE TABLE jobs (id TEXT PRIMARY KEY, client TEXT NOT NULL, request_id TEXT NOT NULL,"
          " state TEXT NOT NULL, stage TEXT NOT NULL, progress REAL NOT NULL, engine TEXT NOT NULL,"
          " params TEXT NOT NULL, image_file TEXT NOT NULL, audio_file TEXT NOT NULL,"
          " output_file TEXT NOT NULL, cache_key TEXT NOT NULL, cached INTEGER NOT NULL,"
          " output_expired INTEGER NOT NULL, attempts INTEGER NOT NULL, result TEXT NOT NULL,"
          " error_code TEXT NOT NULL, error_message TEXT NOT NULL, error_field TEXT NOT NULL,"
          " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);"
          "INSERT INTO jobs VALUES ('old-job','a','r','succeeded','',1,'classic','{}','i','a','o.mp4','k',0,0,1,"
          "'','','','',1000,1100,1200);");
  SqliteJobStore store(dir / "jobs.db");
  EXPECT_GE(store.schema_version(), 1);
  auto old = store.get("old-job");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->state, JobState::succeeded);
  EXPECT_EQ(old->output_file, "o.mp4");
}

TEST(JobStoreSchema, RefusesADatabaseFromANewerBinary) {
  test::TempDir dir;
  { SqliteJobStore store(dir / "jobs.db"); }
  run_sql(dir / "jobs.db", "PRAGMA user_version=999");
  try {
    SqliteJobStore store(dir / "jobs.db");
    FAIL() << "opened a database of schema version 999";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("newer than this binary"), std::string::npos) << e.message();
  }
}

TEST(JobStore, RoundTripAndUpdate) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  JobRecord j = make_job("a", 1000);
  store.insert(j);
  auto got = store.get(j.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->client, "a");
  EXPECT_EQ(got->state, JobState::queued);
  EXPECT_EQ(got->params, j.params);
  EXPECT_TRUE(got->result.is_null());

  j.state = JobState::succeeded;
  j.output_file = j.id + ".mp4";
  j.result = {{"frames", 25}};
  j.attempts = 1;
  j.finished_ms = 2000;
  EXPECT_TRUE(store.update(j));
  got = store.get(j.id);
  EXPECT_EQ(got->state, JobState::succeeded);
  EXPECT_EQ(got->result["frames"], 25);
  EXPECT_EQ(got->attempts, 1);
  EXPECT_EQ(got->to_json()["status"], "succeeded");

  EXPECT_TRUE(store.remove(j.id));
  EXPECT_FALSE(store.get(j.id));
  EXPECT_FALSE(store.update(j));
}

TEST(JobStore, IsWalAndSurvivesReopening) {
  test::TempDir dir;
  std::string id;
  {
    SqliteJobStore store(dir / "jobs.db");
    JobRecord j = make_job("a", 1);
    id = j.id;
    store.insert(j);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "jobs.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  SqliteJobStore again(dir / "jobs.db");
  EXPECT_TRUE(again.get(id));
}

TEST(JobStore, ListsCountsAndLookups) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  for (int i = 0; i < 5; ++i) store.insert(make_job("a", 100 + i, "ka" + std::to_string(i)));
  JobRecord b = make_job("b", 50, "kb");
  store.insert(b);
  EXPECT_EQ(store.count("a"), 5);
  EXPECT_EQ(store.count(""), 6);
  auto page = store.list("a", 1, 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].created_ms, 103);  // newest first, offset 1
  EXPECT_EQ(page[1].created_ms, 102);
  auto queued = store.list_in_state(JobState::queued);
  ASSERT_EQ(queued.size(), 6u);
  EXPECT_EQ(queued[0].id, b.id);  // oldest first
  EXPECT_EQ(store.count_by_state()[JobState::queued], 6);

  EXPECT_TRUE(store.find_in_flight("kb"));
  EXPECT_FALSE(store.find_succeeded("kb"));
  EXPECT_TRUE(store.upload_in_use(b.image_file));
  b.state = JobState::succeeded;
  b.output_file = b.id + ".mp4";
  b.finished_ms = 60;
  store.update(b);
  EXPECT_FALSE(store.find_in_flight("kb"));
  ASSERT_TRUE(store.find_succeeded("kb"));
  EXPECT_FALSE(store.upload_in_use(b.image_file));
  EXPECT_EQ(store.count_output_refs(b.output_file), 1);
  EXPECT_EQ(store.outputs_finished_before(61).size(), 1u);
  EXPECT_EQ(store.outputs_finished_before(60).size(), 0u);
}

// Issue 10: the job list managed ~200 req/s and cache hits slowed down as identical
// requests piled up (each lookup sorted every row with the key). Every statement that runs
// per request must walk an index: no full scan of jobs, no sort in a temporary B-tree.
TEST(JobStoreIndexes, EveryHotQueryUsesAnIndexAndNoSort) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  for (int i = 0; i < 50; ++i) store.insert(make_job(i % 2 ? "a" : "b", 1000 + i, "same-key"));
  auto plans = store.query_plans();
  for (const char* name : {"list", "list_client", "count", "count_client", "count_active", "cache_hit", "in_flight",
                           "in_flight_client", "output_refs", "output_owned", "upload_in_use",
                           "outputs_finished_before", "finished_before"}) {
    ASSERT_TRUE(plans.count(name)) << name;
    const std::string& plan = plans[name];
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << name << ": " << plan;
    for (std::size_t at = plan.find("SCAN jobs"); at != std::string::npos; at = plan.find("SCAN jobs", at + 1))
      EXPECT_EQ(plan.compare(at, 15, "SCAN jobs USING"), 0) << name << " scans the table: " << plan;
  }
  // The lookups read one entry of their own index, not every row with the key.
  EXPECT_NE(plans["cache_hit"].find("jobs_cache_hit"), std::string::npos) << plans["cache_hit"];
  EXPECT_NE(plans["in_flight"].find("jobs_in_flight"), std::string::npos) << plans["in_flight"];
  EXPECT_NE(plans["count_client"].find("job_counts"), std::string::npos) << plans["count_client"];
}

TEST(JobStoreIndexes, CountsKeptByTriggersMatchTheRows) {
  test::TempDir dir;
  std::vector<JobRecord> jobs;
  {
    SqliteJobStore store(dir / "jobs.db");
    for (int i = 0; i < 30; ++i) {
      jobs.push_back(make_job(i % 3 ? "a" : "b", 100 + i));
      store.insert(jobs.back());
    }
    EXPECT_EQ(store.count("a"), 20);
    EXPECT_EQ(store.count("b"), 10);
    EXPECT_EQ(store.count("nobody"), 0);
    EXPECT_EQ(store.count(""), 30);
    for (int i = 0; i < 6; ++i) store.remove(jobs[static_cast<std::size_t>(i)].id);  // 4 of a, 2 of b
    EXPECT_EQ(store.count("a"), 16);
    EXPECT_EQ(store.count("b"), 8);
    EXPECT_EQ(store.count(""), 24);
    EXPECT_EQ(store.list("a", 0, 100).size(), 16u);
  }
  // The counts live in the file: reopening agrees with the rows.
  SqliteJobStore again(dir / "jobs.db");
  EXPECT_EQ(again.count("a"), 16);
  EXPECT_EQ(again.count(""), 24);
}

TEST(JobStoreIndexes, StepTwoCountsTheRowsOfAnOlderDatabase) {
  test::TempDir dir;
  { SqliteJobStore store(dir / "jobs.db"); }
  // An older release's file: schema step 1 only, rows inserted without the triggers.
  run_sql(dir / "jobs.db",
          "DROP TABLE job_counts; DROP TRIGGER job_counts_insert; DROP TRIGGER job_counts_delete;"
          "DROP TRIGGER job_counts_client; PRAGMA user_version=1;"
          "INSERT INTO jobs VALUES ('j1','a','r','succeeded','',1,'classic','{}','i','a','o.mp4','k',0,0,1,"
          "'','','','',1000,1100,1200);"
          "INSERT INTO jobs VALUES ('j2','a','r','queued','',0,'classic','{}','i','a','','k',0,0,0,"
          "'','','','',1001,0,0);");
  SqliteJobStore store(dir / "jobs.db");
  EXPECT_GE(store.schema_version(), 2);
  EXPECT_EQ(store.count("a"), 2);
  EXPECT_EQ(store.count(""), 2);
  ASSERT_TRUE(store.find_succeeded("k"));
  EXPECT_EQ(store.find_in_flight("k")->id, "j2");
}

TEST(JobStoreIndexes, CacheLookupFindsTheNewestAmongThousandsOfIdenticalKeys) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  for (int i = 0; i < 3000; ++i) {
    JobRecord j = make_job(i % 7 ? "a" : "b", 10 + i, "hot");
    j.state = JobState::succeeded;
    j.output_file = "shared.mp4";
    j.finished_ms = 20 + i;
    store.insert(j);
  }
  JobRecord running = make_job("b", 5000, "hot");
  store.insert(running);
  EXPECT_EQ(store.find_succeeded("hot")->finished_ms, 20 + 2999);
  EXPECT_EQ(store.find_in_flight("hot")->id, running.id);
  EXPECT_EQ(store.find_in_flight("hot", "b")->id, running.id);
  EXPECT_FALSE(store.find_in_flight("hot", "a"));
  EXPECT_EQ(store.count_output_refs("shared.mp4"), 3000);
}

// The parsed-row cache behind get() and list() must never show a row other than the
// database's: every write path is read back through a second store on the same file.
TEST(JobStoreCache, ReadsAlwaysMatchTheDatabase) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  JobRecord j = make_job("a", 1);
  store.insert(j);
  ASSERT_TRUE(store.get(j.id));  // cached now
  j.state = JobState::running;
  j.stage = "load";
  store.update(j);
  store.update_progress(j.id, "render", 0.5);
  EXPECT_EQ(store.get(j.id)->stage, "render");
  EXPECT_DOUBLE_EQ(store.list("a", 0, 10).front().progress, 0.5);
  j.state = JobState::succeeded;
  j.stage = "done";
  j.progress = 1;
  j.result = {{"frames", 25}};
  store.update(j);
  store.update_progress(j.id, "render", 0.7);  // not running any more: no effect, in the file or the cache
  SqliteJobStore other(dir / "jobs.db");
  for (const SqliteJobStore* s : {&store, &other}) {
    auto got = s->get(j.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->state, JobState::succeeded);
    EXPECT_EQ(got->stage, "done");
    EXPECT_DOUBLE_EQ(got->progress, 1);
    EXPECT_EQ(got->result["frames"], 25);
    EXPECT_EQ(s->list("a", 0, 10).front().to_json(), got->to_json());
  }
  store.remove(j.id);
  EXPECT_FALSE(store.get(j.id));
  EXPECT_TRUE(store.list("a", 0, 10).empty());
}

TEST(JobStoreCache, BoundedOldestFirst) {
  JobRecordCache cache(3);
  for (int i = 0; i < 5; ++i) {
    JobRecord j = make_job("a", i);
    j.id = "job" + std::to_string(i);
    cache.put(j);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("job0"));
  EXPECT_FALSE(cache.find("job1"));
  ASSERT_TRUE(cache.find("job4"));
  JobRecord again = *cache.find("job2");
  again.stage = "x";
  cache.put(again);  // replacing keeps its place and the bound
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find("job2")->stage, "x");
  cache.erase("job3");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("job3"));
}

TEST(JobStorePruning, RemovesFinishedJobsOlderThanTheCutOldestFirstInBatches) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  for (int i = 0; i < 10; ++i) {
    JobRecord j = make_job("a", i);
    j.state = i % 2 ? JobState::succeeded : JobState::failed;
    j.finished_ms = 100 + i;
    store.insert(j);
  }
  JobRecord queued = make_job("a", 0);  // never finished: never pruned, however old
  store.insert(queued);
  auto first = store.remove_finished_before(105, 3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].finished_ms, 100);
  EXPECT_EQ(first[2].finished_ms, 102);
  EXPECT_FALSE(store.get(first[0].id));
  auto rest = store.remove_finished_before(105, 100);
  EXPECT_EQ(rest.size(), 2u);
  EXPECT_EQ(store.remove_finished_before(105, 100).size(), 0u);
  EXPECT_EQ(store.count("a"), 6);
  EXPECT_TRUE(store.get(queued.id));
}

TEST(JobStoreFile, NoticesADeletedOrReplacedFile) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  EXPECT_EQ(store.file_state(), SqliteJobStore::FileState::same);
  std::filesystem::rename(dir / "jobs.db", dir / "moved.db");
  EXPECT_EQ(store.file_state(), SqliteJobStore::FileState::deleted);
  { SqliteJobStore other(dir / "jobs.db"); }  // another database now under the path
  EXPECT_EQ(store.file_state(), SqliteJobStore::FileState::replaced);
}

TEST(JobStoreFile, RestoresADeletedFileWithEveryJobAndKeepsWorking) {
  // `rm sonic.db*`, and `rm sonic.db` alone, which leaves the WAL (with jobs not yet
  // checkpointed) beside the path the restored file is put under.
  for (bool wal_too : {true, false}) {
    test::TempDir dir;
    SqliteJobStore store(dir / "jobs.db");
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      JobRecord j = make_job("a", i);
      ids.push_back(j.id);
      store.insert(j);
    }
    std::filesystem::remove(dir / "jobs.db");
    if (wal_too) {
      std::filesystem::remove(dir / "jobs.db-wal");
      std::filesystem::remove(dir / "jobs.db-shm");
    }
    ASSERT_EQ(store.file_state(), SqliteJobStore::FileState::deleted);
    // Written to after the delete, before the restore: that job must come back too.
    JobRecord late = make_job("a", 99);
    store.insert(late);
    ids.push_back(late.id);
    store.restore_file();
    EXPECT_EQ(store.file_state(), SqliteJobStore::FileState::same);
    JobRecord after = make_job("a", 100);
    store.insert(after);
    ids.push_back(after.id);
    // Another connection (a restart) sees every job in the file under the path.
    SqliteJobStore reopened(dir / "jobs.db");
    EXPECT_EQ(reopened.count("a"), 22) << "wal deleted too: " << wal_too;
    for (const auto& id : ids) EXPECT_TRUE(reopened.get(id)) << id << ", wal deleted too: " << wal_too;
  }
}

TEST(JobStoreFile, MovesAsideFromAReplacementWithoutTouchingIt) {
  test::TempDir dir;
  SqliteJobStore store(dir / "jobs.db");
  JobRecord mine = make_job("a", 1);
  store.insert(mine);
  // An operator moves another database into place.
  JobRecord theirs = make_job("b", 2);
  {
    SqliteJobStore other(dir / "other.db");
    other.insert(theirs);
  }
  std::filesystem::rename(dir / "other.db", dir / "jobs.db");
  ASSERT_EQ(store.file_state(), SqliteJobStore::FileState::replaced);
  store.restore_file();  // a file is there: not ours to overwrite
  store.move_aside(dir / "jobs.db.aside");
  JobRecord later = make_job("a", 3);  // accepted work goes on, into the file aside
  store.insert(later);
  SqliteJobStore replacement(dir / "jobs.db");
  EXPECT_TRUE(replacement.get(theirs.id));
  EXPECT_FALSE(replacement.get(mine.id));
  EXPECT_FALSE(replacement.get(later.id));
  SqliteJobStore aside(dir / "jobs.db.aside");
  EXPECT_TRUE(aside.get(mine.id));
  EXPECT_TRUE(aside.get(later.id));
  EXPECT_FALSE(aside.get(theirs.id));
}

TEST(JobIds, UuidShape) {
  std::string id = new_uuid();
  EXPECT_TRUE(is_uuid(id)) << id;
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(new_uuid(), id);
  EXPECT_FALSE(is_uuid("../../etc/passwd"));
  EXPECT_FALSE(is_uuid(id.substr(1) + "/"));
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex(), sha256_hex("abc"));
}

}  // namespace
}  // namespace sonic::jobs
