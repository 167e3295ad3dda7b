// Integration: signed webhooks through the real binary and real receivers on loopback
// (tests/support/test_http_server.py, which verifies every Standard Webhooks signature with
// Python's hmac, independently of the C++ signer). Negative cases first: a receiver with
// the wrong secret rejects every delivery; 410 and 400 are never retried; a delivery gives
// up after its retry period. Then retries with growing back-off (503, 429 with Retry-After,
// a timeout, a dropped connection), a delivery that outlives a server killed with SIGKILL,
// the progress rate limit, a cache hit's webhook, and the delivery log route.
#include <ctime>

#include "integration/python_server.h"
#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // the spec's test vector secret
const std::string kOtherSecret = "whsec_" + std::string("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=");

httplib::MultipartFormDataItems webhook_job(const std::string& url, const std::string& events, int seed,
                                            double duration = 0.5) {
  auto items = quick_job(seed, duration);
  items.push_back(text_part("webhook_url", url));
  if (!events.empty()) items.push_back(text_part("webhook_events", events));
  return items;
}

std::string submit(httplib::Client& c, const httplib::MultipartFormDataItems& items) {
  auto r = c.Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, items);
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_TRUE(r->status == 202 || r->status == 200) << r->body;
  return body_json(r).value("job_id", "");
}

json payload_of(const json& request) { return json::parse(request.value("body", ""), nullptr, false); }

std::vector<json> of_type(const std::vector<json>& requests, const std::string& type) {
  std::vector<json> out;
  for (const auto& q : requests)
    if (payload_of(q).value("type", "") == type) out.push_back(q);
  return out;
}

// The delivery log until `done(log)` (bounded).
json wait_log(httplib::Client& c, const std::string& job_id, const std::function<bool(const json&)>& done,
              std::chrono::seconds patience = 120s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  json log;
  while (std::chrono::steady_clock::now() < deadline) {
    log = body_json(c.Get("/api/jobs/" + job_id + "/webhooks"));
    if (log.is_object() && done(log)) return log;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "delivery log never got there: " << log.dump();
  return log;
}

bool all_final(const json& log) {
  if (!log.contains("deliveries") || log["deliveries"].empty()) return false;
  for (const auto& d : log["deliveries"])
    if (d["state"] == "pending") return false;
  return true;
}

// The milliseconds of a payload's ISO 8601 timestamp (…T20:48:10.816Z).
std::int64_t payload_ms(const json& payload) {
  std::string t = payload.value("timestamp", "");
  std::tm tm{};
  if (!strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + std::stoi(t.substr(20, 3));
}

class ServerWebhooks : public ::testing::Test {
 protected:
  void SetUp() override { write_file(temp_ / "secret", kSecret + "\n"); }
  std::vector<std::string> args(std::vector<std::string> more = {}) {
    std::vector<std::string> a = {"--url-allow", "127.0.0.1", "--url-allow-http", "--webhook-secret-file",
                                  (temp_ / "secret").string(), "--webhook-first-retry-s", "0.3"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  static std::string hook(const PythonServer& r) { return "http://127.0.0.1:" + std::to_string(r.port()) + "/hook"; }
  TempDir temp_;
};

TEST_F(ServerWebhooks, ReceiverWithAnotherSecretRejectsEveryDelivery) {
  PythonServer wrong({"webhook", "--secret", kOtherSecret});
  ServerProcess server(args());
  auto c = server.client();
  std::string id = submit(*c, webhook_job(hook(wrong), "started,completed", 1));
  auto seen = wrong.wait_for([](auto& q) { return q.size() >= 2; });
  ASSERT_GE(seen.size(), 2u);
  for (const auto& q : seen) {
    EXPECT_FALSE(q["verified"].get<bool>()) << q.dump();
    EXPECT_EQ(q["why"], "no matching v1 signature");
  }
}

TEST_F(ServerWebhooks, SignedCompletionWithTheDataDirSecretAndAWorkingVideoUrl) {
  // No --webhook-secret-file: the server makes one in its data dir and keeps it.
  TempDir data;
  std::string secret;
  {
    ServerProcess first({"--url-allow", "127.0.0.1", "--url-allow-http"}, data / "d");
    secret = read_file(data / "d" / "webhook-secret");
  }
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u) << secret;
  secret.pop_back();  // newline
  PythonServer receiver({"webhook", "--secret", secret});
  ServerProcess server({"--url-allow", "127.0.0.1", "--url-allow-http"}, data / "d");
  EXPECT_EQ(read_file(data / "d" / "webhook-secret"), secret + "\n") << "the secret changed across a restart";
  EXPECT_EQ((fs::status(data / "d" / "webhook-secret").permissions() & fs::perms::others_read), fs::perms::none);
  auto c = server.client();
  std::string id = submit(*c, webhook_job(hook(receiver), "", 2));
  auto seen = receiver.wait_for([](auto& q) { return !q.empty(); });
  ASSERT_EQ(seen.size(), 1u);  // the default is completed only
  const json& q = seen[0];
  EXPECT_TRUE(q["verified"].get<bool>()) << q.dump();
  EXPECT_EQ(q["headers"]["content-type"], "application/json");
  EXPECT_EQ(q["headers"]["webhook-id"].get<std::string>().rfind("msg_", 0), 0u);
  json p = payload_of(q);
  EXPECT_EQ(p["type"], "job.completed");
  EXPECT_EQ(p["data"]["job_id"], id);
  EXPECT_EQ(p["data"]["status"], "succeeded");
  EXPECT_FALSE(p["data"]["result"].contains("output_path"));
  ASSERT_TRUE(p["data"]["video_url"].is_string()) << p.dump();
  std::string video = p["data"]["video_url"];
  auto download = c->Get(video.substr(video.find("/output/")));
  ASSERT_TRUE(download);
  EXPECT_EQ(download->status, 200);
  EXPECT_EQ(download->get_header_value("Content-Type"), "video/mp4");
}

TEST_F(ServerWebhooks, GoneAndBadRequestAreNeverRetried) {
  for (const std::string status : {"410", "400"}) {
    PythonServer receiver({"webhook", "--secret", kSecret, "--responses", status});
    ServerProcess server(args());
    auto c = server.client();
    std::string id = submit(*c, webhook_job(hook(receiver), "completed", 3));
    json log = wait_log(*c, id, all_final);
    ASSERT_EQ(log["deliveries"].size(), 1u) << log.dump();
    const json& d = log["deliveries"][0];
    EXPECT_EQ(d["state"], "failed") << d.dump();
    EXPECT_EQ(d["attempts"], 1);
    EXPECT_EQ(d["last_status"], std::stoi(status));
    EXPECT_NE(d.value("last_error", "").find("not retried"), std::string::npos) << d.dump();
    EXPECT_EQ(receiver.requests().size(), 1u) << "status " << status << " was retried";
  }
}

TEST_F(ServerWebhooks, GivesUpAfterTheRetryPeriod) {
  PythonServer receiver({"webhook", "--secret", kSecret, "--responses", "503"});
  ServerProcess server(args({"--webhook-retry-period-s", "2"}));
  auto c = server.client();
  std::string id = submit(*c, webhook_job(hook(receiver), "completed", 4));
  json log = wait_log(*c, id, all_final);
  const json& d = log["deliveries"][0];
  EXPECT_EQ(d["state"], "failed") << d.dump();
  EXPECT_GE(d["attempts"].get<int>(), 2);
  EXPECT_NE(d.value("last_error", "").find("gave up"), std::string::npos) << d.dump();
  // Every attempt was scheduled inside the period: the last one started before it ended.
  std::int64_t created = d["created_at_ms"];
  for (const auto& a : d["attempt_log"]) EXPECT_LE(a["at_ms"].get<std::int64_t>(), created + 2000 + 500);
  EXPECT_EQ(static_cast<int>(receiver.requests().size()), d["attempts"].get<int>());
}

TEST_F(ServerWebhooks, RetriesWithGrowingBackOffUntilTheReceiverAnswers) {
  // 503, 429 (Retry-After: 1), a timeout, a dropped connection, then 200.
  PythonServer receiver({"webhook", "--secret", kSecret, "--responses", "503,429+retry-after:1,sleep:3,close,200"});
  ServerProcess server(args({"--webhook-timeout-s", "1"}));
  auto c = server.client();
  std::string id = submit(*c, webhook_job(hook(receiver), "completed", 5));
  json log = wait_log(*c, id, all_final);
  const json& d = log["deliveries"][0];
  EXPECT_EQ(d["state"], "delivered") << d.dump();
  EXPECT_EQ(d["attempts"], 5);
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 5u);
  std::vector<int> statuses;
  for (const auto& a : d["attempt_log"]) statuses.push_back(a["status"]);
  EXPECT_EQ(statuses, (std::vector<int>{503, 429, 0, 0, 200}));
  EXPECT_NE(d["attempt_log"][2].value("error", "").find("no answer within 1 s"), std::string::npos) << d.dump();
  // The same message each time, signed afresh and verified by the receiver.
  for (const auto& q : seen) {
    EXPECT_TRUE(q["verified"].get<bool>()) << q.dump();
    EXPECT_EQ(q["headers"]["webhook-id"], d["webhook_id"]);
    EXPECT_EQ(q["body"], seen[0]["body"]);
  }
  // Back-off: 0.3 s, then at least the Retry-After of 1 s, then 1.2 s after the timed-out
  // attempt ended, then 2.4 s: each gap at least its scheduled delay.
  // As the server scheduled them (from each attempt's start to the next) and as the
  // receiver saw them arrive.
  const std::vector<std::int64_t> delay_ms = {300, 1000, 1200, 2400};
  auto gap = [&](int i) { return seen[i]["at"].get<double>() - seen[i - 1]["at"].get<double>(); };
  for (int i = 1; i < 5; ++i) {
    const json& a = d["attempt_log"][i - 1];
    std::int64_t next = a["next_attempt_at_ms"];
    EXPECT_GE(next - a["at_ms"].get<std::int64_t>(), delay_ms[i - 1]) << a.dump();
    EXPECT_GE(d["attempt_log"][i]["at_ms"].get<std::int64_t>(), next);
    EXPECT_GE(gap(i), delay_ms[i - 1] / 1000.0) << i;
  }
}

TEST_F(ServerWebhooks, DeliverySurvivesAServerKilledWithSigkill) {
  PythonServer receiver({"webhook", "--secret", kSecret, "--responses", "503"});
  TempDir data;
  std::string id, webhook_id;
  {
    ServerProcess server(args(), data / "d");
    auto c = server.client();
    id = submit(*c, webhook_job(hook(receiver), "completed", 6));
    json log = wait_log(*c, id, [](const json& l) {
      return !l["deliveries"].empty() && l["deliveries"][0]["attempts"].get<int>() >= 1;
    });
    webhook_id = log["deliveries"][0]["webhook_id"];
    server.kill9();
  }
  receiver.restart({"webhook", "--secret", kSecret, "--responses", "200"});
  const std::size_t before = receiver.requests().size();
  ServerProcess server(args(), data / "d");
  auto c = server.client();
  json log = wait_log(*c, id, all_final);
  EXPECT_EQ(log["deliveries"][0]["state"], "delivered") << log.dump();
  auto seen = receiver.requests();
  ASSERT_GT(seen.size(), before);
  EXPECT_EQ(seen.back()["headers"]["webhook-id"], webhook_id);
  EXPECT_EQ(seen.back()["body"], seen.front()["body"]);
  EXPECT_TRUE(seen.back()["verified"].get<bool>());
}

TEST_F(ServerWebhooks, StartedProgressAtMostEvery500msAndCompletedLast) {
  PythonServer receiver({"webhook", "--secret", kSecret});
  ServerProcess server(args());
  auto c = server.client();
  std::string id = submit(*c, webhook_job(hook(receiver), "started,progress,completed", 7, 3.0));
  auto seen = receiver.wait_for([](auto& q) { return !of_type(q, "job.completed").empty(); });
  auto started = of_type(seen, "job.started");
  auto progress = of_type(seen, "job.progress");
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(of_type(seen, "job.completed").size(), 1u);
  ASSERT_GE(progress.size(), 1u);
  EXPECT_EQ(payload_of(started[0])["data"]["status"], "running");
  // The engine reports progress every frame; the webhook carries at most one per 500 ms.
  json log = wait_log(*c, id, all_final);
  std::vector<std::int64_t> times;
  int superseded = 0;
  for (const auto& d : log["deliveries"]) {
    if (d["event"] != "job.progress") continue;
    times.push_back(payload_ms(d["payload"]));
    if (d["state"] == "superseded") ++superseded;
  }
  std::sort(times.begin(), times.end());
  for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 500) << i;
  for (const auto& q : progress) {
    json p = payload_of(q)["data"];
    EXPECT_GE(p["progress"].get<double>(), 0.0);
    EXPECT_LE(p["progress"].get<double>(), 1.0);
    EXPECT_TRUE(q["verified"].get<bool>());
  }
  EXPECT_EQ(progress.size() + static_cast<std::size_t>(superseded), times.size());
}

TEST_F(ServerWebhooks, AFailedJobsCompletionCarriesItsError) {
  PythonServer receiver({"webhook", "--secret", kSecret});
  ServerProcess server(args());
  auto c = server.client();
  // A plain grey picture: no face, so the job fails with no_face.
  write_file(temp_ / "blank.ppm", "P6\n64 64\n255\n" + std::string(64 * 64 * 3, '\x80'));
  run_ok("ffmpeg -loglevel error -y -i " + shell_quote((temp_ / "blank.ppm").string()) + " " +
         shell_quote((temp_ / "blank.png").string()));
  httplib::MultipartFormDataItems items = {file_part("image", temp_ / "blank.png"),
                                           file_part("audio", fixture("speech_en_5s.wav")),
                                           text_part("config", json{{"duration", 0.5}}.dump()),
                                           text_part("webhook_url", hook(receiver))};
  auto r = c->Post("/api/sonic/generate", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["code"], "no_face") << r->body;
  auto seen = receiver.wait_for([](auto& q) { return !q.empty(); });
  ASSERT_EQ(seen.size(), 1u);
  json p = payload_of(seen[0]);
  EXPECT_TRUE(seen[0]["verified"].get<bool>());
  EXPECT_EQ(p["type"], "job.completed");
  EXPECT_EQ(p["data"]["status"], "failed");
  EXPECT_EQ(p["data"]["error"]["code"], "no_face");
  EXPECT_FALSE(p["data"].contains("video_url"));
}

TEST_F(ServerWebhooks, CacheHitAndBadEventsAndTheLogRoute) {
  PythonServer receiver({"webhook", "--secret", kSecret});
  ServerProcess server(args());
  auto c = server.client();
  auto r = c->Post("/api/sonic/generate", webhook_job(hook(receiver), "started,bogus", 8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["field"], "webhook_events");
  auto plain = quick_job(8);
  plain.push_back(text_part("webhook_events", "completed"));
  r = c->Post("/api/sonic/generate", plain);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;  // events without a URL
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 0);
  // The first job runs; an identical request is a cache hit that is final at once, and its
  // own webhook still arrives.
  r = c->Post("/api/sonic/generate", quick_job(8, 0.5));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = c->Post("/api/sonic/generate", webhook_job(hook(receiver), "started,completed", 8));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(body_json(r)["cached"].get<bool>());
  std::string id = body_json(r)["job_id"];
  auto seen = receiver.wait_for([](auto& q) { return !q.empty(); });
  ASSERT_EQ(seen.size(), 1u);
  json p = payload_of(seen[0]);
  EXPECT_EQ(p["type"], "job.completed");
  EXPECT_TRUE(p["data"]["cached"].get<bool>());
  json log = wait_log(*c, id, all_final);
  EXPECT_EQ(log["success"], true);
  ASSERT_EQ(log["subscriptions"].size(), 1u);
  EXPECT_EQ(log["subscriptions"][0]["url"], hook(receiver));
  EXPECT_EQ(log["subscriptions"][0]["events"], json({"started", "completed"}));
  EXPECT_EQ(log["deliveries"][0]["state"], "delivered");
  EXPECT_EQ(log["deliveries"][0]["attempt_log"][0]["status"], 200);
  auto missing = c->Get("/api/jobs/00000000-0000-4000-8000-000000000000/webhooks");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // Deleting the job deletes its log.
  ASSERT_TRUE(c->Delete("/api/jobs/" + id));
  EXPECT_EQ(c->Get("/api/jobs/" + id + "/webhooks")->status, 404);
}

}  // namespace
}  // namespace sonic::test
