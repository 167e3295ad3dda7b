// Scale-out over Redis Streams with nothing breaking (issue 12 point 6): many jobs over
// several worker processes, each ending exactly once; SSE showing a remote worker's
// progress; GET /api/workers and /readyz following workers as they come and go; cancel of
// a queued, a dispatched and a running remote job; a worker running an external engine it
// declares as `serve` does, and holding no more of its jobs than its declared slots. Real
// redis-server, server and workers.
#include "integration/server_external_engine_support.h"
#include "integration/server_redis_support.h"

namespace sonic::test {
namespace {

TEST(ServerRedisJobs, TwentyJobsOverThreeWorkersEachEndExactlyOnce) {
  RedisProcess redis;
  ASSERT_TRUE(redis.running());
  ServerProcess server(redis_server_args(redis));
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(std::make_unique<WorkerProcess>(redis, server));
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 3; }, 20s)) << workers_list(*c).dump();

  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(submit_async(*c, quick_job(100 + i, 0.5)));
  std::map<std::string, int> finished_by;  // job → runs that finished it, over every worker
  for (const auto& id : ids) {
    json job = wait_job(*c, id, 300s);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_TRUE(job.contains("video_url"));
    ASSERT_TRUE(job.contains("result"));
    EXPECT_FALSE(job["result"].value("worker", "").empty()) << "a remote run says which worker made it";
    auto video = c->Get(job["video_url"].get<std::string>().substr(server.base_url().size()));
    ASSERT_TRUE(video);
    EXPECT_EQ(video->status, 200);
    EXPECT_EQ(video->body.substr(4, 4), "ftyp");
  }
  // The server succeeds a job on its upload; its worker logs the end just after.
  auto logged = [&] {
    std::size_t n = 0;
    for (const auto& w : workers) n += w->log_lines("job finished").size();
    return n;
  };
  EXPECT_TRUE(eventually([&] { return logged() >= ids.size(); }, 10s));
  for (const auto& w : workers)
    for (const auto& line : w->log_lines("job finished")) ++finished_by[line.value("job_id", "")];
  for (const auto& id : ids) EXPECT_EQ(finished_by[id], 1) << id << " finished by " << finished_by[id] << " runs";
  EXPECT_EQ(mp4_count(server.data_dir() / "outputs"), ids.size());
  int workers_used = 0;
  for (const auto& w : workers) workers_used += w->log_lines("job finished").empty() ? 0 : 1;
  EXPECT_GE(workers_used, 2) << "the jobs were spread over the workers";

  // Nothing is left anywhere: no entry in the stream, nothing pending, no event unread.
  EXPECT_TRUE(eventually([&] { return redis.integer({"XLEN", "sonic:jobs:classic"}) == 0; }, 5s));
  EXPECT_EQ(pending_count(redis, "sonic:jobs:classic", "workers"), 0);
  EXPECT_TRUE(eventually([&] { return redis.integer({"XLEN", "sonic:events"}) == 0; }, 5s));
  EXPECT_EQ(pending_count(redis, "sonic:events", "server"), 0);
  json list = body_json(c->Get("/api/jobs?limit=100"));
  for (const auto& job : list["jobs"]) EXPECT_EQ(job["status"], "succeeded");
  EXPECT_EQ(metric_value(*c, "sonic_remote_jobs"), 0);
  EXPECT_EQ(metric_value(*c, "sonic_redis_dead_letters"), 0);
}

TEST(ServerRedisJobs, SseShowsARemoteWorkersProgress) {
  RedisProcess redis;
  ServerProcess server(redis_server_args(redis));
  WorkerProcess worker(redis, server);
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 1; }, 20s));
  std::string id = submit_async(*c, quick_job(7, 2.0));
  auto events = read_events(*c, "/api/jobs/" + id + "/events");
  ASSERT_FALSE(events.empty());
  bool running = false;
  int progress = 0;
  std::set<std::string> stages;
  double last_fraction = -1;
  for (const auto& ev : events) {
    if (ev.type == "status" && ev.data.value("status", "") == "running") running = true;
    if (ev.type == "progress") {
      ++progress;
      stages.insert(ev.data.value("stage", ""));
      double fraction = ev.data.value("fraction", -1.0);
      EXPECT_GE(fraction, 0.0);
      EXPECT_LE(fraction, 1.0);
      EXPECT_GE(fraction + 1e-9, last_fraction) << "progress goes forward";
      last_fraction = fraction;
      EXPECT_TRUE(ev.data.contains("elapsed_s"));
    }
  }
  EXPECT_TRUE(running) << "a running status came from the remote start";
  EXPECT_GE(progress, 3) << "the worker's progress reached the stream";
  EXPECT_TRUE(stages.count("render")) << "the engine's own stages";
  EXPECT_EQ(events.back().type, "done");
  EXPECT_EQ(events.back().data.value("status", ""), "succeeded");
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].id, events[i - 1].id);
}

TEST(ServerRedisJobs, WorkersListAndReadinessFollowWorkersComingAndGoing) {
  RedisProcess redis;
  ServerProcess server(redis_server_args(redis));
  auto c = server.client();
  auto ready = [&] {
    auto r = c->Get("/readyz");
    return r && r->status == 200;
  };
  auto readiness_reason = [&] { return body_json(c->Get("/readyz")).value("error", ""); };
  ASSERT_TRUE(eventually([&] { return readiness_reason().find("no worker for engine classic") != std::string::npos; }, 10s))
      << readiness_reason();
  EXPECT_FALSE(ready());
  EXPECT_TRUE(workers_list(*c).empty());
  json info = body_json(c->Get("/api/workers"));
  EXPECT_EQ(info["redis"]["up"], true);
  EXPECT_EQ(info["redis"]["prefix"], "sonic");

  auto a = std::make_unique<WorkerProcess>(redis, server);
  ASSERT_TRUE(eventually(ready, 20s)) << readiness_reason();
  auto b = std::make_unique<WorkerProcess>(redis, server, std::vector<std::string>{"--slots", "2"});
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 2; }, 20s));
  std::map<pid_t, json> by_pid;
  for (const auto& w : workers_list(*c)) by_pid[w.value("pid", 0)] = w;
  ASSERT_TRUE(by_pid.count(a->pid()));
  ASSERT_TRUE(by_pid.count(b->pid()));
  EXPECT_EQ(by_pid[a->pid()]["slots"], 1);
  EXPECT_EQ(by_pid[b->pid()]["slots"], 2);
  EXPECT_EQ(by_pid[a->pid()]["engines"], json::array({"classic"}));
  EXPECT_EQ(by_pid[a->pid()]["jobs"], json::array());
  EXPECT_FALSE(by_pid[a->pid()].value("host", "").empty());
  EXPECT_EQ(by_pid[a->pid()].value("version", ""), body_json(c->Get("/healthz")).value("version", "?"));
  EXPECT_TRUE(eventually([&] { return metric_value(*c, "sonic_workers_alive") == 2; }, 5s));
  EXPECT_EQ(metric_value(*c, "sonic_worker_slots"), 3);

  // A graceful stop removes its heartbeat at once; a killed worker's expires (3 heartbeats).
  EXPECT_EQ(a->stop(), 0);
  EXPECT_TRUE(eventually([&] { return workers_list(*c).size() == 1; }, 3s)) << workers_list(*c).dump();
  EXPECT_TRUE(ready());
  b->kill9();
  EXPECT_TRUE(eventually([&] { return workers_list(*c).empty(); }, 5s)) << workers_list(*c).dump();
  EXPECT_TRUE(eventually([&] { return !ready(); }, 3s));
  EXPECT_NE(readiness_reason().find("no worker for engine classic"), std::string::npos);
  EXPECT_EQ(metric_value(*c, "sonic_workers_alive"), 0);
}

TEST(ServerRedisJobs, CancelReachesAQueuedADispatchedAndARunningJob) {
  RedisProcess redis;
  ServerProcess server(redis_server_args(redis));
  auto c = server.client();
  auto cancel = [&](const std::string& id) { return body_json(c->Post("/api/jobs/" + id + "/cancel", "", "text/plain")); };

  // Dispatched: a worker that announced a free slot but has not read yet (its heartbeat is
  // written here, as a worker writes it) gets the job on the stream; cancel takes it back.
  redis.command({"SET", "sonic:worker:announced", json{{"id", "announced"}, {"engines", {"classic"}}, {"slots", 1},
                                                       {"jobs", json::array()}, {"accepting", true}}.dump(),
                 "PX", "60000"});
  redis.command({"ZADD", "sonic:workers", "1", "announced"});
  std::string dispatched = submit_async(*c, quick_job(21));
  ASSERT_TRUE(eventually([&] { return redis.integer({"XLEN", "sonic:jobs:classic"}) == 1; }, 10s));
  json canceled = cancel(dispatched);
  EXPECT_EQ(canceled["status"], "canceled") << canceled.dump();
  EXPECT_EQ(canceled["error"]["message"], "Canceled before it started.");
  EXPECT_EQ(redis.integer({"XLEN", "sonic:jobs:classic"}), 0) << "an entry nobody took is withdrawn";
  EXPECT_EQ(redis.integer({"EXISTS", "sonic:cancel:" + dispatched}), 1);
  redis.command({"DEL", "sonic:worker:announced"});
  redis.command({"ZREM", "sonic:workers", "announced"});

  // Running: one worker with one slot; the long job runs, the next waits in the fair queue.
  WorkerProcess worker(redis, server);
  ASSERT_TRUE(eventually(
      [&] {
        json list = workers_list(*c);
        return list.size() == 1 && list[0].value("pid", 0) == worker.pid();
      },
      20s));
  std::string running = submit_async(*c, long_job(22));
  ASSERT_TRUE(eventually([&] { return worker_running(*c, running) == worker.pid(); }, 30s));
  std::string queued = submit_async(*c, quick_job(23));
  EXPECT_TRUE(eventually([&] { return metric_value(*c, "sonic_queue_depth") == 1; }, 5s))
      << "the worker's one slot is busy: the job waits on the server, not in Redis";
  EXPECT_EQ(redis.integer({"XLEN", "sonic:jobs:classic"}), 1);

  canceled = cancel(queued);
  EXPECT_EQ(canceled["status"], "canceled");
  EXPECT_EQ(canceled["error"]["message"], "Canceled before it started.");

  ASSERT_TRUE(eventually([&] { return get_job(*c, running).value("stage", "") == "render"; }, 60s));
  auto asked = std::chrono::system_clock::now();
  canceled = cancel(running);
  EXPECT_EQ(canceled["status"], "canceled");
  EXPECT_EQ(canceled["error"]["message"], "Canceled while running.");
  ASSERT_TRUE(eventually([&] { return !worker.log_lines("job canceled", running).empty(); }, 10s)) << worker.log_tail();
  // The worker's own log time of stopping, against the moment the cancel was asked.
  std::string ts = worker.log_lines("job canceled", running).front().value("ts", "");
  std::tm tm{};
  int ms = 0;
  ASSERT_EQ(std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                        &tm.tm_min, &tm.tm_sec, &ms),
            7)
      << ts;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto stopped = std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
  EXPECT_LT(stopped - asked, 2s) << "cancel reaches a running remote job within 2 s";
  EXPECT_TRUE(eventually([&] { return worker_running(*c, running) == 0; }, 5s));
  EXPECT_TRUE(worker.log_lines("job finished", running).empty());
  EXPECT_FALSE(std::filesystem::exists(server.data_dir() / "outputs" / (running + ".mp4")));
  EXPECT_TRUE(eventually([&] { return redis.integer({"XLEN", "sonic:jobs:classic"}) == 0; }, 5s));
  EXPECT_EQ(pending_count(redis, "sonic:jobs:classic", "workers"), 0);
  EXPECT_EQ(get_job(*c, queued)["status"], "canceled") << "never ran";
  EXPECT_TRUE(worker.log_lines("job started", queued).empty());
}

// A worker runs an external engine declared with serve's own --external-engine text (the
// real Sonic adapter over the stand-in), and only that engine's jobs.
TEST(ServerRedisJobs, AWorkerRunsAnExternalEngineDeclaredAsServeDeclaresIt) {
  RedisProcess redis;
  const std::string declaration = sonic_declaration("sonic");
  ServerProcess server(redis_server_args(redis, {"--external-engine", declaration}));
  WorkerProcess worker(redis, server, {"--external-engine", declaration, "--engine", "sonic"});
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 1; }, 30s));
  EXPECT_EQ(workers_list(*c)[0]["engines"], json::array({"sonic"}));
  EXPECT_TRUE(eventually(
      [&] { return body_json(c->Get("/readyz")).value("error", "").find("no worker for engine classic") != std::string::npos; },
      10s))
      << "the classic engine has no worker";

  std::string id = submit_async(*c, engine_job("sonic", {{"duration", 1.0}}));
  json job = wait_job(*c, id, 240s);
  ASSERT_EQ(job["status"], "succeeded") << job.dump() << worker.log_tail();
  EXPECT_FALSE(job["result"].value("worker", "").empty());
  // The server succeeds the job on the upload; the worker logs its end just after.
  EXPECT_TRUE(eventually([&] { return !worker.log_lines("job finished", id).empty(); }, 10s)) << worker.log_tail();
  EXPECT_EQ(worker.log_lines("job finished", id).size(), 1u);
  EXPECT_EQ(mp4_count(server.data_dir() / "outputs"), 1u);
  auto video = c->Get(job["video_url"].get<std::string>().substr(server.base_url().size()));
  ASSERT_TRUE(video);
  EXPECT_EQ(video->body.substr(4, 4), "ftyp");
}

// A worker serving an engine declared with fewer slots than its own (one model on one GPU)
// holds no more of that engine's jobs than those slots: the next one waits in Redis, where
// any worker may take it, instead of being held here behind the busy engine; the worker's
// other slot still runs another engine's job meanwhile.
TEST(ServerRedisJobs, AnEngineDeclaredWithOneSlotGetsOneJobAtATimeFromAWorkerWithTwo) {
  RedisProcess redis;
  TempDir gate;
  const std::string declaration =
      sonic_declaration("sonicgated", {{"FAKE_SONIC_GATE", (gate / "open").string()}}, {{"slots", 1}});
  ServerProcess server(redis_server_args(redis, {"--external-engine", declaration}));
  WorkerProcess worker(redis, server, {"--external-engine", declaration, "--slots", "2"});
  auto c = server.client();
  ASSERT_TRUE(eventually([&] { return workers_list(*c).size() == 1; }, 30s));
  EXPECT_EQ(workers_list(*c)[0]["engine_slots"], json({{"sonicgated", 1}})) << workers_list(*c).dump();

  const std::vector<std::string> gated = {submit_async(*c, engine_job("sonicgated", {{"duration", 1.0}, {"seed", 1}})),
                                          submit_async(*c, engine_job("sonicgated", {{"duration", 1.0}, {"seed", 2}}))};
  auto held_by_worker = [&] {
    json list = workers_list(*c);
    return list.empty() ? 0 : static_cast<int>(list[0].value("jobs", json::array()).size());
  };
  ASSERT_TRUE(eventually([&] { return held_by_worker() == 1; }, 60s)) << worker.log_tail();
  // The first waits at the gate; for three seconds the worker holds it alone.
  for (int i = 0; i < 12; ++i) {
    EXPECT_LE(held_by_worker(), 1) << workers_list(*c).dump();
    std::this_thread::sleep_for(250ms);
  }
  // Its second slot is free for the classic engine.
  std::string classic = submit_async(*c, quick_job(61, 0.5));
  EXPECT_EQ(wait_job(*c, classic, 120s)["status"], "succeeded");
  // Once its heartbeat no longer lists the classic job, the freed slot stays empty: the
  // second gated job is still not taken.
  EXPECT_TRUE(eventually([&] { return held_by_worker() == 1; }, 5s));
  for (int i = 0; i < 4; ++i) {
    EXPECT_LE(held_by_worker(), 1) << workers_list(*c).dump();
    std::this_thread::sleep_for(250ms);
  }

  write_file(gate / "open", "");
  for (const auto& id : gated) EXPECT_EQ(wait_job(*c, id, 240s)["status"], "succeeded") << worker.log_tail();
}

}  // namespace
}  // namespace sonic::test
