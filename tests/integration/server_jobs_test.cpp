// Integration: real jobs through the real server — the seed-compatible sync answer, the
// result cache, downloads with Range/ETag/HEAD, SSE in order with Last-Event-ID resume,
// cancel (queued and running), in-flight dedup, delete, the bounded queue, and parallel
// uploads with SSE readers. Clips are 0.5–1 s at 256 px so the suite stays lean under ASan.
#include <atomic>
#include <future>

#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

std::string path_of(const std::string& url) {
  auto pos = url.find("/", url.find("//") + 2);
  return url.substr(pos);
}

json post_async(httplib::Client& c, const httplib::MultipartFormDataItems& items, int expect_status = 202) {
  auto r = c.Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, items);
  EXPECT_TRUE(r);
  if (!r) return json();
  EXPECT_EQ(r->status, expect_status) << r->body;
  return json::parse(r->body, nullptr, false);
}

void wait_until_running(httplib::Client& c, const std::string& id) {
  auto deadline = std::chrono::steady_clock::now() + 600s;
  while (std::chrono::steady_clock::now() < deadline) {
    json job = body_json(c.Get("/api/jobs/" + id));
    if (job["status"] != "queued") return;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "job never started";
}

class ServerJobs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--sse-keepalive-s", "1", "--workers", "1"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};
ServerProcess* ServerJobs::server_ = nullptr;

TEST_F(ServerJobs, SyncGenerateCacheHitAndDownload) {
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate", quick_job(0));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json first = json::parse(r->body);
  // The seed's fields.
  EXPECT_EQ(first["success"], true);
  ASSERT_TRUE(first["video_url"].is_string());
  ASSERT_TRUE(first["output_path"].is_string());
  EXPECT_FALSE(first["cached"].get<bool>());
  EXPECT_EQ(first["width"], 256);
  EXPECT_EQ(first["frames"], 25);
  EXPECT_EQ(first["params"]["duration"], 1.0);
  fs::path output = first["output_path"].get<std::string>();
  ASSERT_TRUE(fs::exists(output));
  EXPECT_EQ(output.parent_path(), fs::absolute(server_->data_dir() / "outputs"));
  EXPECT_EQ(first["video_url"].get<std::string>().rfind(server_->base_url(), 0), 0u) << first["video_url"];

  // Download, whole and in ranges.
  std::string url = path_of(first["video_url"]);
  std::string bytes = read_file(output);
  auto whole = c->Get(url);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->get_header_value("Content-Type"), "video/mp4");
  EXPECT_EQ(whole->body, bytes);
  std::string etag = whole->get_header_value("ETag");
  EXPECT_FALSE(etag.empty());

  auto part = c->Get(url, {{"Range", "bytes=10-109"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, bytes.substr(10, 100));
  EXPECT_EQ(part->get_header_value("Content-Range"), "bytes 10-109/" + std::to_string(bytes.size()));
  auto tail = c->Get(url, {{"Range", "bytes=-16"}});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->body, bytes.substr(bytes.size() - 16));
  auto open_end = c->Get(url, {{"Range", "bytes=" + std::to_string(bytes.size() - 5) + "-"}});
  ASSERT_TRUE(open_end);
  EXPECT_EQ(open_end->body, bytes.substr(bytes.size() - 5));
  auto beyond = c->Get(url, {{"Range", "bytes=" + std::to_string(bytes.size() + 10) + "-"}});
  ASSERT_TRUE(beyond);
  EXPECT_EQ(beyond->status, 416);
  auto not_modified = c->Get(url, {{"If-None-Match", etag}});
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_TRUE(not_modified->body.empty());
  auto head = c->Head(url);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(bytes.size()));
  EXPECT_TRUE(head->body.empty());

  // The same request again: answered from the cache, a new job sharing the video.
  auto again = c->Post("/api/sonic/generate", quick_job(0));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  json second = json::parse(again->body);
  EXPECT_TRUE(second["cached"].get<bool>());
  EXPECT_NE(second["job_id"], first["job_id"]);
  EXPECT_EQ(second["output_path"], first["output_path"]);
  json cached_job = body_json(c->Get("/api/jobs/" + second["job_id"].get<std::string>()));
  EXPECT_EQ(cached_job["status"], "succeeded");
  EXPECT_TRUE(cached_job["cached"].get<bool>());
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("sonic_cache_hits_total 0\n"), std::string::npos);

  // Own jobs are listed, newest first.
  json list = body_json(c->Get("/api/jobs?limit=100"));
  std::vector<std::string> ids;
  for (const auto& j : list["jobs"]) ids.push_back(j["job_id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), first["job_id"]), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), second["job_id"]), ids.end());

  // Deleting the cache hit keeps the shared video; deleting the original removes it.
  auto del = c->Delete("/api/jobs/" + second["job_id"].get<std::string>());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_TRUE(fs::exists(output));
  del = c->Delete("/api/jobs/" + first["job_id"].get<std::string>());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_FALSE(fs::exists(output));
  EXPECT_EQ(c->Get("/api/jobs/" + first["job_id"].get<std::string>())->status, 404);
  EXPECT_EQ(c->Get(url)->status, 404);
}

TEST_F(ServerJobs, SseEventsInOrderAndResume) {
  auto c = server_->client();
  json accepted = post_async(*c, quick_job(1));
  ASSERT_EQ(accepted["status"], "queued");
  ASSERT_TRUE(accepted["status_url"].is_string());
  std::string events_url = path_of(accepted["events_url"]);
  auto events = read_events(*c, events_url);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().type, "status");
  EXPECT_EQ(events.back().type, "done") << events.back().data.dump();
  double last_fraction = -1;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, events[0].id + i);  // consecutive
    if (events[i].type == "progress") {
      double f = events[i].data["fraction"];
      EXPECT_GE(f, last_fraction);
      last_fraction = f;
      EXPECT_TRUE(events[i].data["stage"].is_string());
    }
  }
  auto resumed = read_events(*c, events_url, events[1].id);
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.front().id, events[2].id);
  EXPECT_EQ(resumed.back().type, "done");
  EXPECT_EQ(resumed.size(), events.size() - 2);
  json job = body_json(c->Get("/api/jobs/" + accepted["job_id"].get<std::string>()));
  EXPECT_EQ(job["status"], "succeeded");
  EXPECT_EQ(job["progress"], 1.0);
  EXPECT_TRUE(job["video_url"].is_string());
}

TEST_F(ServerJobs, CancelRunningAndQueuedJobsAndDedup) {
  auto c = server_->client();
  json running = post_async(*c, quick_job(2, 3.0));
  json queued = post_async(*c, quick_job(3));
  // An identical request while the first is in flight joins it.
  json joined = post_async(*c, quick_job(3));
  EXPECT_EQ(joined["job_id"], queued["job_id"]);
  EXPECT_TRUE(joined["joined"].get<bool>());

  std::string running_id = running["job_id"], queued_id = queued["job_id"];
  wait_until_running(*c, running_id);
  auto r = c->Post("/api/jobs/" + queued_id + "/cancel");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_json(r)["status"], "canceled");

  r = c->Post("/api/jobs/" + running_id + "/cancel");
  ASSERT_TRUE(r);
  json canceled = wait_job(*c, running_id);
  // It may have finished just before the cancel arrived; it must never be left running.
  EXPECT_TRUE(canceled["status"] == "canceled" || canceled["status"] == "succeeded") << canceled.dump();
  if (canceled["status"] == "canceled") {
    EXPECT_FALSE(fs::exists(server_->data_dir() / "outputs" / (running_id + ".mp4")));
    auto events = read_events(*c, "/api/jobs/" + running_id + "/events");
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "failed");
    EXPECT_EQ(events.back().data["status"], "canceled");
  }
  // No partial files anywhere.
  EXPECT_TRUE(fs::is_empty(server_->data_dir() / "tmp"));
  auto sync_wait = c->Post("/api/jobs/" + queued_id + "/cancel");
  EXPECT_EQ(body_json(sync_wait)["status"], "canceled");  // idempotent
}

TEST_F(ServerJobs, ParallelUploadsWithSseReaders) {
#if defined(__SANITIZE_ADDRESS__)
  const int n = 4;
#else
  const int n = 20;
#endif
  std::vector<std::future<std::vector<SseEvent>>> readers;
  std::atomic<int> accepted{0};
  std::atomic<int> keepalives{0};
  for (int i = 0; i < n; ++i) {
    readers.push_back(std::async(std::launch::async, [&, i] {
      auto c = server_->client();
      json a = post_async(*c, quick_job(100 + i, 0.5));
      if (!a.contains("job_id")) return std::vector<SseEvent>{};
      ++accepted;
      int comments = 0;
      auto events = read_events(*c, "/api/jobs/" + a["job_id"].get<std::string>() + "/events", 0, &comments);
      keepalives += comments;
      return events;
    }));
  }
  for (auto& f : readers) {
    auto events = f.get();
    ASSERT_FALSE(events.empty());
    for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].id, events[0].id + i);
    EXPECT_EQ(events.back().type, "done") << events.back().data.dump();
  }
  EXPECT_EQ(accepted.load(), n);
  // Jobs waited in the queue for longer than the 1 s keep-alive interval.
  EXPECT_GT(keepalives.load(), 0);
}

TEST(ServerQueue, FullQueueIs429WithRetryAfter) {
  ServerProcess server({"--queue-size", "1", "--workers", "1"});
  auto c = server.client();
  int full = 0;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto r = c->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, quick_job(200 + i, 3.0));
    ASSERT_TRUE(r);
    if (r->status == 429) {
      ++full;
      EXPECT_EQ(body_json(r)["code"], "queue_full");
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
    } else {
      EXPECT_EQ(r->status, 202) << r->body;
      ids.push_back(body_json(r)["job_id"]);
    }
  }
  EXPECT_GE(full, 1);
  EXPECT_TRUE(fs::is_empty(server.data_dir() / "uploads") || !ids.empty());
  for (const auto& id : ids) c->Post("/api/jobs/" + id + "/cancel");
}

}  // namespace
}  // namespace sonic::test
