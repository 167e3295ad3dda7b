// Integration: what happens around the jobs when the process dies or is told to stop —
// kill -9 at a running job (the job is retried after the restart, never lost, never a half
// video under a real name), a job interrupted twice (failed `interrupted`), graceful
// SIGTERM (exit 0, SSE streams closed with a final event, the queue survives), and a
// 60 MB upload refused with 413 while the server's memory stays flat.
#include <future>
#include <set>

#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

json post_async(httplib::Client& c, const httplib::MultipartFormDataItems& items) {
  auto r = c.Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, items);
  EXPECT_TRUE(r);
  if (!r) return json();
  EXPECT_EQ(r->status, 202) << r->body;
  return json::parse(r->body, nullptr, false);
}

void wait_until_running(httplib::Client& c, const std::string& id) {
  auto deadline = std::chrono::steady_clock::now() + 600s;
  while (std::chrono::steady_clock::now() < deadline) {
    json job = body_json(c.Get("/api/jobs/" + id));
    if (job["status"] == "running") return;
    ASSERT_EQ(job["status"], "queued") << job.dump();
    std::this_thread::sleep_for(20ms);
  }
  FAIL() << "job never started";
}

// Outputs on disk must be exactly the videos of succeeded jobs; tmp/ holds nothing real.
void expect_no_stray_files(const fs::path& data, const std::vector<json>& jobs) {
  std::set<std::string> expected;
  for (const auto& j : jobs)
    if (j["status"] == "succeeded") expected.insert(j["job_id"].get<std::string>() + ".mp4");
  std::set<std::string> found;
  for (auto& e : fs::directory_iterator(data / "outputs")) found.insert(e.path().filename().string());
  EXPECT_EQ(found, expected);
  EXPECT_TRUE(fs::is_empty(data / "tmp"));
}

TEST(ServerRecovery, KillNineThenRestartLosesNothing) {
  TempDir data;
  std::vector<std::string> ids;
  {
    ServerProcess server({"--workers", "1"}, data / "d");
    auto c = server.client();
    for (int seed = 0; seed < 3; ++seed) ids.push_back(post_async(*c, quick_job(300 + seed))["job_id"]);
    wait_until_running(*c, ids[0]);
    server.kill9();
  }
  ServerProcess server({"--workers", "1"}, data / "d");
  auto c = server.client();
  std::vector<json> jobs;
  for (const auto& id : ids) {
    json job = wait_job(*c, id);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    jobs.push_back(job);
  }
  EXPECT_EQ(jobs[0]["attempts"], 2);  // the interrupted run, then the retry
  expect_no_stray_files(data / "d", jobs);
}

TEST(ServerRecovery, JobInterruptedTwiceFailsInterrupted) {
  TempDir data;
  std::string id;
  for (int round = 0; round < 2; ++round) {
    ServerProcess server({"--workers", "1"}, data / "d");
    auto c = server.client();
    if (round == 0) id = post_async(*c, quick_job(400, 2.0))["job_id"];
    wait_until_running(*c, id);
    server.kill9();
  }
  ServerProcess server({"--workers", "1"}, data / "d");
  auto c = server.client();
  json job = wait_job(*c, id);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["error"]["code"], "interrupted");
  expect_no_stray_files(data / "d", {job});
  EXPECT_TRUE(fs::is_empty(data / "d" / "uploads"));
}

TEST(ServerShutdown, SigtermEndsStreamsRequeuesAndExitsZero) {
  TempDir data;
  std::string running_id, queued_id;
  std::uint64_t last_id = 0;
  {
    ServerProcess server({"--workers", "1", "--shutdown-grace-s", "0"}, data / "d");
    auto c = server.client();
    running_id = post_async(*c, quick_job(500, 3.0))["job_id"];
    queued_id = post_async(*c, quick_job(501))["job_id"];
    wait_until_running(*c, running_id);
    auto stream = std::async(std::launch::async, [&] {
      auto sc = server.client();
      return read_events(*sc, "/api/jobs/" + queued_id + "/events");
    });
    std::this_thread::sleep_for(300ms);  // let the stream open
    EXPECT_EQ(server.stop(), 0) << server.log_text();
    auto events = stream.get();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "shutdown");
    for (const auto& e : events) last_id = std::max(last_id, e.id);  // the shutdown event has no id
  }
  // After the restart both run: the stopped one was put back in the queue.
  ServerProcess server({"--workers", "1"}, data / "d");
  auto c = server.client();
  // A client resuming with an id from before the restart follows the job to its end.
  auto resumed = read_events(*c, "/api/jobs/" + queued_id + "/events", last_id);
  ASSERT_FALSE(resumed.empty());
  EXPECT_GT(resumed.front().id, last_id);
  EXPECT_EQ(resumed.back().type, "done") << resumed.back().data.dump();
  json first = wait_job(*c, running_id);
  json second = wait_job(*c, queued_id);
  EXPECT_EQ(first["status"], "succeeded") << first.dump();
  EXPECT_EQ(second["status"], "succeeded") << second.dump();
  EXPECT_EQ(first["attempts"], 1);  // a shutdown does not count as an attempt
  expect_no_stray_files(data / "d", {first, second});
}

TEST(ServerLimits, SixtyMegabyteUploadIs413WithFlatMemory) {
  ServerProcess server;  // default limit: 50 MB
  auto c = server.client();
  ASSERT_TRUE(c->Get("/healthz"));
  long before = server.rss_kb();
  std::string big(60 * 1024 * 1024, 'z');
  auto r = c->Post("/api/sonic/generate",
                   httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                   {"audio", big, "big.wav", "audio/wav"}});
  long after = server.rss_kb();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(body_json(r)["code"], "payload_too_large");
  EXPECT_LT(after - before, 16 * 1024) << "server memory grew by " << (after - before) << " KiB";
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "uploads"));
}

TEST(ServerJanitor, OutputsExpireAfterRetention) {
  // 0.0005 h = 1.8 s retention, swept every second.
  ServerProcess server({"--retention-h", "0.0005", "--janitor-interval-s", "1"});
  auto c = server.client();
  auto r = c->Post("/api/sonic/generate", quick_job(600, 0.5));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json done = body_json(r);
  fs::path output = done["output_path"].get<std::string>();
  EXPECT_TRUE(fs::exists(output));
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (fs::exists(output) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(fs::exists(output));
  json job = body_json(c->Get("/api/jobs/" + done["job_id"].get<std::string>()));
  EXPECT_EQ(job["status"], "succeeded");
  EXPECT_TRUE(job["output_expired"].get<bool>());
  EXPECT_FALSE(job.contains("video_url"));
  // An expired output is no longer a cache answer: the same request runs again.
  auto again = c->Post("/api/sonic/generate", quick_job(600, 0.5));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_FALSE(body_json(again)["cached"].get<bool>());
}

TEST(ServerSettings, FlagBeatsEnvBeatsConfigFile) {
  TempDir dir;
  write_file(dir / "serve.json", R"({"max_upload_mb": 1, "queue_size": 7, "sync_wait_s": 1})");
  ::setenv("SONIC_QUEUE_SIZE", "9", 1);
  ::setenv("SONIC_CONFIG", (dir / "serve.json").c_str(), 1);
  ServerProcess server({"--max-upload-mb", "3"});
  ::unsetenv("SONIC_QUEUE_SIZE");
  ::unsetenv("SONIC_CONFIG");
  auto c = server.client();
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("sonic_queue_capacity 9\n"), std::string::npos);  // env over file
  std::string two_mb(2 * 1024 * 1024, 'a');
  auto r = c->Post("/api/sonic/generate", httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                                          {"audio", two_mb, "a.wav", "audio/wav"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;  // flag (3 MB) over file (1 MB): read fully, then refused by type
}

}  // namespace
}  // namespace sonic::test
