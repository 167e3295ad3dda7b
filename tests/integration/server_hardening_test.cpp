// Integration: issue 10's bounds on what one job may cost and what the server does when its
// storage fails, against the real binary: the per-job budget (422 job_too_large naming the
// knob), the wall-clock limit (job_timeout), pictures of an extreme shape, the free-space
// threshold (/readyz 503, generate 507 before anything is stored), the job database
// deleted or replaced under the running server, rows pruned with their files after the
// retention, the exact length of a too-long recording, a long recording used up to
// `duration`, a cancel's final event naming the real stage, and strings for numbers.
#include <sqlite3.h>
#include <sys/statvfs.h>

#include <opencv2/imgcodecs.hpp>

#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

httplib::MultipartFormDataItems job_with(const fs::path& image, const fs::path& audio, const json& config) {
  return {file_part("image", image), file_part("audio", audio), text_part("config", config.dump())};
}

json post(httplib::Client& c, const httplib::MultipartFormDataItems& items, int expect_status,
          const httplib::Headers& headers = {}) {
  auto r = c.Post("/api/sonic/generate", headers, items);
  EXPECT_TRUE(r) << (r ? "" : httplib::to_string(r.error()));
  if (!r) return json();
  EXPECT_EQ(r->status, expect_status) << r->body;
  return json::parse(r->body, nullptr, false);
}

// Nothing of a refused request is left: no job, no upload.
void expect_nothing_stored(httplib::Client& c, const ServerProcess& server) {
  EXPECT_EQ(body_json(c.Get("/api/jobs"))["total"], 0);
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "uploads"));
}

// A job that takes several seconds at any build speed: 1024 px, 60 fps, 20 s (the audio is
// padded with silence), ~1,260 megapixel-frames, well inside the default budget.
json slow_config() { return {{"min_resolution", 1024}, {"fps", 60}, {"duration", 20}}; }

std::uint64_t free_mb(const fs::path& path) {
  struct statvfs vfs {};
  EXPECT_EQ(::statvfs(path.c_str(), &vfs), 0);
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize / (1024 * 1024);
}

// Polls until `done` holds; the janitor and the engine give no event a client could await.
template <typename Done>
bool eventually(Done done, std::chrono::seconds patience = 120s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

std::vector<std::string> job_ids_in(const fs::path& db) {
  std::vector<std::string> ids;
  sqlite3* handle = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(handle, "SELECT id FROM jobs", -1, &st, nullptr);
  while (st && sqlite3_step(st) == SQLITE_ROW) ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(handle);
  return ids;
}

// ---------------------------------------------------------------------------------------
// Bounded work per job

TEST(ServerBudget, JobOverTheBudgetIs422NamingTheKnob) {
  ServerProcess server({"--max-job-megapixel-frames", "50"});
  auto c = server.client();
  // 1024² × 300 frames = 315 megapixel-frames.
  json body = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"),
                                {{"min_resolution", 1024}, {"fps", 60}, {"duration", 5}}),
                   422);
  EXPECT_EQ(body["code"], "job_too_large");
  EXPECT_EQ(body["field"], "min_resolution");
  EXPECT_NE(body["error"].get<std::string>().find("the limit per job is 50"), std::string::npos) << body;
  expect_nothing_stored(*c, server);
  // Within the budget the same server makes the video (256² × 25 = 1.6).
  body = post(*c, quick_job(), 200);
  EXPECT_EQ(body["status"], "succeeded");
}

TEST(ServerBudget, HugePictureWithFullFrameIsRefusedBeforeAnyWork) {
  TempDir dir;
  // The attack: a 6000×6000 picture, full_frame, 60 fps (here for 300 s).
  cv::imwrite((dir / "huge.png").string(), cv::Mat(6000, 6000, CV_8UC1, cv::Scalar(128)));
  ServerProcess server;
  auto c = server.client();
  json body = post(*c, job_with(dir / "huge.png", fixture("speech_en_5s.wav"),
                                {{"full_frame", true}, {"fps", 60}, {"duration", 300}}),
                   422);
  EXPECT_EQ(body["code"], "job_too_large");
  EXPECT_EQ(body["field"], "full_frame");
  EXPECT_NE(body["error"].get<std::string>().find("2048×2048"), std::string::npos) << body;
  expect_nothing_stored(*c, server);
}

TEST(ServerBudget, JobPastItsTimeLimitFailsWithJobTimeout) {
  ServerProcess server({"--job-timeout-s", "1"});
  auto c = server.client();
  json accepted = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"), slow_config()), 202,
                       {{"Prefer", "respond-async"}});
  std::string id = accepted["job_id"];
  json job = wait_job(*c, id);
  EXPECT_EQ(job["status"], "failed") << job;
  EXPECT_EQ(job["error"]["code"], "job_timeout") << job;
  EXPECT_NE(job["error"]["message"].get<std::string>().find("1 s"), std::string::npos) << job;
  EXPECT_FALSE(job.contains("video_url"));
  auto events = read_events(*c, "/api/jobs/" + id + "/events");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "failed");
  EXPECT_EQ(events.back().data["error"]["code"], "job_timeout");
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "tmp"));      // no partial video
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "outputs"));
  // The sync answer of a timed-out job carries its code.
  auto r = c->Post("/api/sonic/generate",
                   job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"),
                            {{"min_resolution", 1024}, {"fps", 60}, {"duration", 21}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500) << r->body;
  EXPECT_EQ(body_json(r)["code"], "job_timeout");
}

TEST(ServerBudget, ExtremeAspectRatioIs422BeforeAnyEngineWork) {
  TempDir dir;
  cv::imwrite((dir / "strip.png").string(), cv::Mat(40000, 1, CV_8UC3, cv::Scalar(90, 120, 200)));
  cv::imwrite((dir / "banner.png").string(), cv::Mat(100, 900, CV_8UC3, cv::Scalar(90, 120, 200)));
  ServerProcess server;
  auto c = server.client();
  for (const char* name : {"strip.png", "banner.png"}) {
    json body = post(*c, job_with(dir / name, fixture("speech_en_5s.wav"), {{"duration", 1}}), 422);
    EXPECT_EQ(body["code"], "unreadable_media") << name;
    EXPECT_EQ(body["field"], "image") << name;
    const std::string message = body["error"];
    EXPECT_NE(message.find("8 times"), std::string::npos) << message;
    EXPECT_EQ(message.find("OpenCV"), std::string::npos) << message;
    EXPECT_EQ(message.find("Assertion"), std::string::npos) << message;
  }
  expect_nothing_stored(*c, server);
  EXPECT_EQ(server.log_text().find("job queued"), std::string::npos);  // the engine never saw them
}

// ---------------------------------------------------------------------------------------
// Storage

TEST(ServerStorage, BelowTheFreeSpaceThresholdReadyzFailsAndGenerateIs507) {
  TempDir probe;
  const std::uint64_t threshold = free_mb(probe.path()) + 100000;  // more than the disk has free
  ServerProcess server({"--min-free-mb", std::to_string(threshold)});
  auto c = server.client();
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_NE(body_json(ready)["error"].get<std::string>().find("--min-free-mb"), std::string::npos) << ready->body;
  json body = post(*c, quick_job(), 507);
  EXPECT_EQ(body["code"], "insufficient_storage");
  expect_nothing_stored(*c, server);
  EXPECT_EQ(c->Get("/healthz")->status, 200);  // alive, just not ready
}

TEST(ServerStorage, ADeletedDatabaseIsWrittenBackWithEveryJob) {
  ServerProcess server;
  auto c = server.client();
  std::string id = post(*c, quick_job(1), 200)["job_id"];
  const fs::path db = server.data_dir() / "sonic.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
  ASSERT_FALSE(fs::exists(db));
  // The next readiness check notices, says so loudly and restores the file.
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_TRUE(fs::exists(db));
  EXPECT_NE(server.log_text().find("the job database was deleted while the server was running"), std::string::npos);
  EXPECT_EQ(body_json(c->Get("/api/jobs/" + id))["status"], "succeeded");
  std::string after = post(*c, quick_job(2), 200)["job_id"];
  // A restart reads the restored file: no job was orphaned.
  ASSERT_EQ(server.stop(), 0);
  auto ids = job_ids_in(db);
  EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), after), ids.end());
}

TEST(ServerStorage, ADatabaseThatCannotBeRestoredMakesTheServerNotReady) {
  TempDir dir;
  const fs::path data = dir / "data";
  ServerProcess server({}, data);
  auto c = server.client();
  post(*c, quick_job(3), 200);
  fs::remove_all(data);
  write_file(data, "not a folder");  // the data dir cannot come back
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_NE(body_json(ready)["error"].get<std::string>().find("could not be restored"), std::string::npos)
      << ready->body;
  json body = post(*c, quick_job(4), 507);
  EXPECT_EQ(body["code"], "insufficient_storage");
  EXPECT_NE(server.log_text().find("job database unusable"), std::string::npos);
  EXPECT_EQ(server.stop(), 0);
  fs::remove(data);
}

TEST(ServerStorage, AReplacedDatabaseIsLeftAloneAndTheServerStopsTakingJobs) {
  ServerProcess server;
  auto c = server.client();
  std::string id = post(*c, quick_job(5), 200)["job_id"];
  const fs::path db = server.data_dir() / "sonic.db";
  // An operator puts another database in place (here: an empty one made by a fresh server).
  TempDir other;
  { ServerProcess fresh({}, other / "data"); }
  fs::rename(other / "data" / "sonic.db", db);
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_NE(body_json(ready)["error"].get<std::string>().find("replaced"), std::string::npos) << ready->body;
  json body = post(*c, quick_job(6), 507);
  EXPECT_EQ(body["code"], "insufficient_storage");
  EXPECT_NE(server.log_text().find("was replaced by another file"), std::string::npos);
  // The accepted job is still served, from the database moved aside, which holds it.
  EXPECT_EQ(body_json(c->Get("/api/jobs/" + id))["status"], "succeeded");
  ASSERT_EQ(server.stop(), 0);
  EXPECT_TRUE(job_ids_in(db).empty());  // the new file was not touched
  std::vector<fs::path> aside;
  for (const auto& entry : fs::directory_iterator(server.data_dir()))
    if (entry.path().filename().string().rfind("sonic.db.replaced-", 0) == 0 &&
        entry.path().string().find("-wal") == std::string::npos && entry.path().string().find("-shm") == std::string::npos)
      aside.push_back(entry.path());
  ASSERT_EQ(aside.size(), 1u);
  auto ids = job_ids_in(aside.front());
  EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
}

TEST(ServerStorage, JobRowsArePrunedWithTheirFilesAfterTheRetention) {
  // 0.0005 h = 1.8 s for outputs and rows alike, swept every second.
  ServerProcess server({"--retention-h", "0.0005", "--job-retention-h", "0.0005", "--janitor-interval-s", "1"});
  auto c = server.client();
  json done = post(*c, quick_job(7, 0.5), 200);
  std::string id = done["job_id"];
  fs::path output = done["output_path"].get<std::string>();
  ASSERT_TRUE(fs::exists(output));
  EXPECT_TRUE(eventually([&] { return c->Get("/api/jobs/" + id)->status == 404; })) << "the row was never pruned";
  EXPECT_FALSE(fs::exists(output));
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 0);
  EXPECT_TRUE(job_ids_in(server.data_dir() / "sonic.db").empty());
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "uploads"));
  EXPECT_NE(server.log_text().find("\"jobs_pruned\":1"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Smaller defects

TEST(ServerAudio, TooLongRecordingIsRefusedWithItsTrueLength) {
  TempDir dir;
  // An MP3 without Xing header states no length: it is measured (the case that said "300").
  run_ok("ffmpeg -nostdin -hide_banner -loglevel error -y -i " + shell_quote(fixture("speech_en_5s.wav").string()) +
         " -c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0 " + shell_quote((dir / "bare.mp3").string()));
  ServerProcess server({"--max-audio-s", "3"});
  auto c = server.client();
  for (const fs::path& audio : {fixture("speech_en_5s.wav"), dir / "bare.mp3"}) {
    json body = post(*c, job_with(fixture("portrait.png"), audio, {{"min_resolution", 256}}), 422);
    EXPECT_EQ(body["code"], "audio_too_long") << audio;
    EXPECT_EQ(body["field"], "audio");
    const std::string message = body["error"];
    EXPECT_TRUE(message.rfind("The recording is 5.3 s long; the limit is 3 s.", 0) == 0 ||
                message.rfind("The recording is 5.4 s long; the limit is 3 s.", 0) == 0)  // MP3 padding
        << message;
  }
  expect_nothing_stored(*c, server);
}

TEST(ServerAudio, LongRecordingIsAcceptedWhenDurationFits) {
  ServerProcess server({"--max-audio-s", "3"});
  auto c = server.client();
  json body = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"),
                                {{"min_resolution", 256}, {"duration", 2}}),
                   200);
  EXPECT_EQ(body["status"], "succeeded");
  EXPECT_EQ(body["duration"], 2.0);
  EXPECT_EQ(body["frames"], 50);
  // Without a duration the whole recording would be used: refused.
  body = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"), {{"min_resolution", 256}}), 422);
  EXPECT_EQ(body["code"], "audio_too_long");
  // A duration over the limit is still a parameter error.
  body = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"), {{"duration", 4}}), 400);
  EXPECT_EQ(body["field"], "duration");
}

TEST(ServerJobEvents, CanceledJobsFinalEventSaysWhereItStopped) {
  ServerProcess server;
  auto c = server.client();
  std::string id = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"), slow_config()), 202,
                        {{"Prefer", "respond-async"}})["job_id"];
  ASSERT_TRUE(eventually([&] { return body_json(c->Get("/api/jobs/" + id))["stage"] == "render"; }));
  auto r = c->Post("/api/jobs/" + id + "/cancel");
  ASSERT_TRUE(r);
  json job = wait_job(*c, id);
  ASSERT_EQ(job["status"], "canceled") << job;
  EXPECT_EQ(job["stage"], "render");
  EXPECT_GT(job["progress"].get<double>(), 0.12);
  auto events = read_events(*c, "/api/jobs/" + id + "/events");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "failed");
  EXPECT_EQ(events.back().data["status"], "canceled");
  EXPECT_EQ(events.back().data["stage"], "render") << events.back().data;
  EXPECT_GT(events.back().data["progress"].get<double>(), 0.12) << events.back().data;
}

TEST(ServerParams, StringsWhereNumbersBelongAre400) {
  ServerProcess server;
  auto c = server.client();
  for (const json& config : {json{{"fps", "25"}}, json{{"min_resolution", "256"}}, json{{"full_frame", "false"}}}) {
    json body = post(*c, job_with(fixture("portrait.png"), fixture("speech_en_5s.wav"), config), 400);
    EXPECT_EQ(body["code"], "invalid_param") << config;
    EXPECT_EQ(body["field"], config.begin().key()) << config;
  }
  expect_nothing_stored(*c, server);
}

}  // namespace
}  // namespace sonic::test
