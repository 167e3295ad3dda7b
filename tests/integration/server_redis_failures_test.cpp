// Redis and file links that break, and fairness over Redis (issue 12 point 6): Redis
// SHUTDOWN and kill -9 + restart mid-run leave nothing stuck (AOF in the test's folder);
// expired, tampered, replayed and stale-attempt file URLs are refused with 403; the
// per-user fair queue still decides the order when jobs run on remote workers. Real
// redis-server, server and worker processes.
#include "integration/server_redis_support.h"
#include "jobs/sha256.h"

namespace sonic::test {
namespace {

bool redis_up_says(httplib::Client& c, bool up) {
  json info = body_json(c.Get("/api/workers"));
  return info.is_object() && info.contains("redis") && info["redis"].value("up", !up) == up;
}

// The job messages now in the engine's stream (what a worker would read), by job id.
std::map<std::string, json> stream_messages(RedisProcess& redis) {
  std::map<std::string, json> out;
  auto entries = redis.command({"XRANGE", "sonic:jobs:classic", "-", "+"});
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& fields = entries[i][1];
    for (std::size_t f = 0; f + 1 < fields.size(); f += 2)
      if (fields[f].text() == "payload") {
        json m = json::parse(fields[f + 1].text(), nullptr, false);
        m["entry"] = entries[i][0].text();
        out[m.value("job_id", "")] = m;
      }
  }
  return out;
}

// A worker that says it has a free slot but never reads (its heartbeat, as a worker writes
// it), so jobs go out on the stream and stay there for the test to look at.
void announce_silent_worker(RedisProcess& redis, int slots) {
  redis.command({"SET", "sonic:worker:silent",
                 json{{"id", "silent"}, {"engines", {"classic"}}, {"slots", slots}, {"jobs", json::array()},
                      {"accepting", true}}
                     .dump(),
                 "PX", "120000"});
  redis.command({"ZADD", "sonic:workers", "1", "silent"});
}
void withdraw_silent_worker(RedisProcess& redis) {
  redis.command({"DEL", "sonic:worker:silent"});
  redis.command({"ZREM", "sonic:workers", "silent"});
}

std::string tampered(std::string url) {
  char& last = url.back();
  last = last == '0' ? '1' : '0';
  return url;
}

TEST(ServerRedisFailures, RedisShutdownAndKillMidRunLeaveNothingStuck) {
  RedisProcess redis;
  ASSERT_TRUE(redis.running());
  ServerProcess server(redis_server_args(redis));
  WorkerProcess a(redis, server), b(redis, server);
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 2; }, 20s));

  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit_async(*c, quick_job(300 + i, 2.0)));
  auto some_running = [&] {
    for (const auto& id : ids)
      if (get_job(*c, id).value("status", "") == "running") return true;
    return false;
  };

  // A clean SHUTDOWN while jobs run: Redis writes its AOF and exits; everyone reconnects.
  ASSERT_TRUE(eventually(some_running, 30s));
  redis.shutdown();
  ASSERT_TRUE(eventually([&] { return redis_up_says(*c, false); }, 10s)) << "the server noticed Redis is gone";
  ASSERT_TRUE(redis.restart());
  ASSERT_TRUE(eventually([&] { return redis_up_says(*c, true); }, 15s));

  // kill -9 while jobs run: up to a second of writes may be lost; lost ones are redone.
  ASSERT_TRUE(eventually(some_running, 30s));
  redis.kill9();
  ASSERT_TRUE(eventually([&] { return redis_up_says(*c, false); }, 10s));
  ASSERT_TRUE(redis.restart());

  for (const auto& id : ids) {
    json job = wait_job(*c, id, 240s);
    EXPECT_EQ(job["status"], "succeeded") << job.dump() << "\nworker a:\n" << a.log_tail() << "\nworker b:\n" << b.log_tail();
    // Exactly one final event reached the job's event log, whoever ran it how many times.
    int finals = 0;
    for (const auto& ev : read_events(*c, "/api/jobs/" + id + "/events")) finals += ev.type == "done" ? 1 : 0;
    EXPECT_EQ(finals, 1) << id;
  }
  EXPECT_EQ(mp4_count(server.data_dir() / "outputs"), ids.size()) << "one video per job, none twice";
  EXPECT_TRUE(eventually([&] { return redis.integer({"XLEN", "sonic:jobs:classic"}) == 0; }, 10s));
  EXPECT_EQ(pending_count(redis, "sonic:jobs:classic", "workers"), 0);
  EXPECT_TRUE(eventually([&] { return pending_count(redis, "sonic:events", "server") == 0; }, 10s));
  EXPECT_EQ(metric_value(*c, "sonic_remote_jobs"), 0);
  // Heartbeats list running jobs; the next one after a job's end leaves it out.
  EXPECT_TRUE(eventually([&] { return workers_running(*c, ids.front()).empty(); }, 5s));
}

// The refusal's message; the test fails unless it is a 403 forbidden.
std::string refusal(const httplib::Result& r) {
  if (!r) return "no answer";
  json body = json::parse(r->body, nullptr, false);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_EQ(body.is_object() ? body.value("code", "") : "", "forbidden") << r->body;
  return body.is_object() ? body.value("error", "") : r->body;
}

TEST(ServerRedisFailures, TamperedReplayedAndStaleAttemptFileUrlsAre403) {
  RedisProcess redis;
  ServerProcess server(redis_server_args(redis));
  auto c = server.client();

  announce_silent_worker(redis, 2);
  std::string id = submit_async(*c, quick_job(401));
  json first;
  ASSERT_TRUE(eventually([&] { return !(first = stream_messages(redis)[id]).is_null(); }, 10s));
  ASSERT_EQ(first["attempt"], 1);
  const std::string image_url = first["inputs"]["image"]["url"];

  // The fresh link works and gives the upload's very bytes.
  auto got = c->Get(image_url);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(got->body.size(), first["inputs"]["image"].value("bytes", 0u));
  EXPECT_EQ(jobs::sha256_hex(got->body), first["inputs"]["image"].value("sha256", ""));

  // Tampered: one character of the signature, or another job's id under this signature.
  EXPECT_NE(refusal(c->Get(tampered(image_url))).find("signature"), std::string::npos);
  std::string other_job = image_url;
  other_job.replace(other_job.find(id), id.size(), std::string(id.size(), 'a'));
  EXPECT_NE(refusal(c->Get(other_job)).find("signature"), std::string::npos);
  std::string audio_for_image = image_url;
  audio_for_image.replace(audio_for_image.find("/inputs/image"), 13, "/inputs/audio");
  EXPECT_NE(refusal(c->Get(audio_for_image)).find("signature"), std::string::npos) << "a link names one file";

  // Stale attempt: Redis loses the entry (as a kill -9 before the AOF write would); after a
  // lease with no news the server sends the job out again as attempt 2, and attempt 1's
  // links stop working while attempt 2's work.
  redis.command({"XDEL", "sonic:jobs:classic", first["entry"]});
  json second;
  ASSERT_TRUE(eventually(
      [&] {
        second = stream_messages(redis)[id];
        return !second.is_null() && second.value("attempt", 0) == 2;
      },
      15s));
  EXPECT_NE(refusal(c->Get(image_url)).find("attempt 1"), std::string::npos);
  const std::string second_url = second["inputs"]["audio"]["url"];
  got = c->Get(second_url);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(jobs::sha256_hex(got->body), second["inputs"]["audio"].value("sha256", ""));

  EXPECT_EQ(body_json(c->Post("/api/jobs/" + id + "/cancel", "", "text/plain"))["status"], "canceled");

  // Replayed: a real worker runs a job and uploads its video; the same links used again
  // (the input, and the result upload) are refused, and the job keeps its one video.
  std::string done = submit_async(*c, quick_job(402));
  json message;
  ASSERT_TRUE(eventually([&] { return !(message = stream_messages(redis)[done]).is_null(); }, 10s));
  withdraw_silent_worker(redis);
  WorkerProcess worker(redis, server);
  json job = wait_job(*c, done, 120s);
  ASSERT_EQ(job["status"], "succeeded") << job.dump() << worker.log_tail();
  std::string worker_id = job["result"].value("worker", "");
  EXPECT_NE(refusal(c->Get(message["inputs"]["image"]["url"].get<std::string>())).find("not waiting"), std::string::npos);
  httplib::Headers headers = {{"X-Sonic-Worker", worker_id}, {"X-Sonic-Delivery", "1"}, {"X-Sonic-Result", "e30"}};
  auto replay = c->Put(message["result"]["url"].get<std::string>(), headers, std::string(4096, 'x'), "video/mp4");
  EXPECT_NE(refusal(replay).find("not waiting"), std::string::npos);
  auto video = c->Get(job["video_url"].get<std::string>().substr(server.base_url().size()));
  ASSERT_TRUE(video);
  EXPECT_EQ(video->status, 200);
  EXPECT_EQ(video->body.substr(4, 4), "ftyp") << "the first upload's video stays";
  EXPECT_EQ(mp4_count(server.data_dir() / "outputs"), 1u);
  EXPECT_EQ(mp4_count(server.data_dir() / "tmp"), 0u);
}

TEST(ServerRedisFailures, TheFairQueueOrdersRemoteJobsBetweenUsers) {
  RedisProcess redis;
  // Two users, told apart by X-Forwarded-For from a trusted proxy (the test itself).
  ServerProcess server(redis_server_args(
      redis, {"--trusted-proxy", "127.0.0.1", "--max-active-jobs", "0", "--rate-limit-per-min", "0"}));
  WorkerProcess worker(redis, server);
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 1; }, 20s));
  auto submit_as = [&](const std::string& ip, int seed) {
    auto r = c->Post("/api/sonic/generate", httplib::Headers{{"Prefer", "respond-async"}, {"X-Forwarded-For", ip}},
                     quick_job(seed, 0.5));
    EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
    return body_json(r).value("job_id", "");
  };

  // User A fills the queue first; user B comes after. One slot: jobs run one at a time.
  std::string a1 = submit_as("10.0.0.1", 501);
  ASSERT_TRUE(eventually([&] { return worker_running(*c, a1) == worker.pid(); }, 30s));
  std::string a2 = submit_as("10.0.0.1", 502), a3 = submit_as("10.0.0.1", 503), a4 = submit_as("10.0.0.1", 504);
  std::string b1 = submit_as("10.0.0.2", 511), b2 = submit_as("10.0.0.2", 512);
  EXPECT_EQ(redis.integer({"XLEN", "sonic:jobs:classic"}), 1) << "the rest wait on the server, not in Redis";
  for (const auto& id : {a1, a2, a3, a4, b1, b2}) EXPECT_EQ(wait_job(*c, id, 180s)["status"], "succeeded");

  std::vector<std::string> order;
  for (const auto& line : worker.log_lines("job started")) order.push_back(line.value("job_id", ""));
  ASSERT_EQ(order.size(), 6u) << worker.log_tail();
  auto at = [&](const std::string& id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
  EXPECT_EQ(at(a1), 0);
  // Round robin between the users: B's jobs do not wait behind all of A's.
  EXPECT_LT(at(b1), at(a3));
  EXPECT_LT(at(b2), at(a4));
  EXPECT_LT(at(a2), at(a3));
  EXPECT_LT(at(b1), at(b2));
}

TEST(ServerRedisFailures, AnExpiredFileUrlIs403) {
  RedisProcess redis;
  // Links live 1 s (the shortest --worker-url-ttl-h allows), so one expires within the test.
  ServerProcess server(redis_server_args(redis, {"--worker-url-ttl-h", "0.0003"}));
  auto c = server.client();
  announce_silent_worker(redis, 1);
  std::string id = submit_async(*c, quick_job(403));
  json message;
  ASSERT_TRUE(eventually([&] { return !(message = stream_messages(redis)[id]).is_null(); }, 10s));
  const std::string url = message["inputs"]["audio"]["url"];
  // Once its time has passed the same link is refused, the signature still matching.
  ASSERT_TRUE(eventually([&] { auto r = c->Get(url); return r && r->status == 403; }, 10s));
  EXPECT_NE(refusal(c->Get(url)).find("expired"), std::string::npos);
  EXPECT_NE(refusal(c->Get(tampered(url))).find("signature"), std::string::npos);
}

}  // namespace
}  // namespace sonic::test
