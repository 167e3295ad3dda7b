// RedisDispatcher: the API server's side of scale-out (issue 12, docs/scaling.md). Jobs
// leave the per-user fair queue only as fast as remote workers have free slots, go to
// their engine's stream as a job message with signed per-attempt file URLs, and come back
// as events that are applied to the job store only when they belong to the job's current
// attempt and run; the video comes back by HTTP (accept_result) and is what makes a job
// succeed.
//
// Threads (owned, joined in stop()):
//   feeder    waits for a free remote slot of an engine with a job waiting (heartbeats'
//             slots − jobs out), pops that engine's fair queue, writes the attempt to SQLite, then XADDs the job message
//   events    XREADGROUP on the events stream as consumer "api" of group "server": first
//             what it read but never acknowledged (a restart resumes where it stopped), then
//             new events; each applied, then acknowledged and deleted
//   watchdog  every 500 ms: the workers' heartbeats, dead letters whose last lease ran out,
//             cancel marks Redis missed, the figures for /metrics, and jobs with no event for
//             a lease whose entry Redis no longer has (a lost write): dispatched again as a
//             new attempt
// HTTP threads call open_input(), accept_result(), cancel(), workers_json(), metrics().
// outstanding_ (the jobs out on Redis, mirrored in SQLite's remote_attempts) is guarded by
// mutex_, which is held across the Redis check that decides an upload, so an upload, an
// event and a cancel of the same job are decided one at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jobs/dispatcher.h"
#include "jobs/remote/file_urls.h"
#include "jobs/remote/remote_messages.h"
#include "jobs/remote/stream_leases.h"
#include "jobs/remote/worker_registry.h"

namespace sonic::jobs::remote {

struct RemoteConfig {
  RedisUrl redis;
  std::string prefix = "sonic";
  std::chrono::milliseconds lease{30000};
  int max_deliveries = 3;
  std::chrono::seconds url_ttl{24 * 3600};  // how long a job message's file URLs stay valid
  std::filesystem::path url_key_file;       // <data-dir>/worker-url.key
  std::uint64_t max_result_bytes = 50ull * 1024 * 1024;
  bool local_workers = false;  // --workers N as well: every engine has a slot here too
};

// Figures for /metrics, refreshed by the watchdog (so /metrics never waits on Redis).
struct RemoteMetrics {
  bool redis_up = false;
  struct Stream {
    long long length = 0;   // entries in the stream: waiting or running
    long long pending = 0;  // delivered to a worker and not finished
  };
  std::map<std::string, Stream> streams;  // by engine
  long long dead_letters = 0;             // entries in the dead-letter stream now
  long long dead_letters_total = 0;       // ever (the stats hash)
  long long takeovers_total = 0;          // leases taken over (the stats hash)
  int workers_alive = 0;
  std::map<std::string, int> workers_by_engine;
  int slots = 0;
  int outstanding = 0;  // jobs out on Redis now
  std::uint64_t events_applied = 0;
  std::uint64_t events_dropped = 0;  // of an old attempt or another run
  std::uint64_t redispatched = 0;    // new attempts after Redis lost a job
};

// A job's input as the worker route serves it.
struct InputFile {
  std::filesystem::path path;
  std::uint64_t bytes = 0;
};

// What came with a result upload (routes_worker.cpp).
struct ResultUpload {
  std::string job_id;
  std::string attempt, expires, sig;  // from the query, unparsed
  std::string worker;                 // X-Sonic-Worker
  std::string delivery;               // X-Sonic-Delivery
  std::string result;                 // X-Sonic-Result (base64url JSON)
  std::string sha256;                 // X-Sonic-Sha256 (optional)
  std::optional<std::uint64_t> content_length;
};
// Reads the next bytes of the body into the buffer; 0 at its end.
using BodyReader = std::function<std::size_t(char*, std::size_t)>;

class RedisDispatcher : public Dispatcher {
 public:
  // `engines`: the engines of this server (their streams are created at start).
  RedisDispatcher(DispatchContext context, RemoteConfig config, std::vector<std::string> engines);
  ~RedisDispatcher() override;

  void start() override;
  void stop(std::chrono::seconds grace) override;
  bool cancel(const std::string& job_id) override;
  int running() const override;
  int slots() const override;
  std::string not_ready() const override;
  void job_queued() override;

  // Restart recovery: keeps following a job that was out on Redis when the server stopped;
  // false when it had no remote attempt (the service queues it again).
  bool adopt(const JobRecord& job);

  // GET /api/worker/jobs/{id}/inputs/{image|audio}: Error(forbidden) for a URL that is
  // tampered, expired or of another attempt, or a job no longer waiting for it.
  InputFile open_input(const std::string& job_id, FileGrant grant, const std::string& attempt,
                       const std::string& expires, const std::string& sig) const;
  // PUT /api/worker/jobs/{id}/result: checks, streams the body to tmp/, checks it again
  // under the lock (the run must still hold the lease), and finishes the job. Returns the
  // succeeded job. Error(forbidden) stale/replayed/not the lease holder, payload_too_large,
  // invalid_param (not an MP4, sha256 mismatch), server_busy (Redis unreachable).
  JobRecord accept_result(const ResultUpload& upload, const BodyReader& read);

  // GET /api/workers: {"success", "workers": [heartbeats], "redis": {"url", "up", "prefix"}}.
  nlohmann::json workers_json() const;
  RemoteMetrics metrics() const;

 private:
  struct Outstanding {
    RemoteAttempt attempt;  // as in SQLite
    bool running = false;   // a run reported `started`
    std::chrono::steady_clock::time_point last_event;
    bool receiving = false;  // an upload is being read
    // Its stream entry was found missing once: a second look a lease later decides (the
    // entry also goes when it is dead-lettered, and that event may still be on its way).
    bool missing_once = false;
  };

  void feed_loop(std::stop_token stop);
  void events_loop(std::stop_token stop);
  void watch_loop(std::stop_token stop);
  // Sends a queued job out as a new attempt; false (and the job back in the queue) when
  // Redis could not take it.
  bool dispatch(const std::string& job_id);
  JobMessage message_for(const JobRecord& job, int attempt) const;
  // Engines with a job waiting and a free remote slot (accepting workers' slots for it −
  // its jobs out); with mutex_ held.
  std::vector<std::string> open_engines() const;
  bool has_capacity() const;  // with mutex_ held
  void apply(const WorkerEvent& event);
  void fail_job(JobRecord& job, const std::string& code, const std::string& message, const std::string& field);
  void check_lost_writes(RedisConnection& redis);
  // Ends an outstanding job: the worker running it is told to stop (a cancel mark it reads
  // at its next renewal), an entry nobody took is withdrawn, and the job is finished as
  // canceled or, `timed_out`, failed with job_timeout. False when it was not outstanding.
  bool stop_outstanding(const std::string& job_id, bool timed_out);
  // Running jobs older than the server's --job-timeout-s are stopped (timed out); the local
  // deadline thread cannot reach a run on another machine.
  void time_out_overdue();
  void refresh_metrics(RedisConnection& redis);
  // The verified attempt of a file URL, else Error(forbidden); with mutex_ held.
  Outstanding& verified_attempt(const std::string& job_id, FileGrant grant, const std::string& attempt,
                                const std::string& expires, const std::string& sig) const;
  void finish_result(Outstanding& out, JobRecord& job, const std::filesystem::path& video, const nlohmann::json& result);

  DispatchContext context_;
  RemoteConfig config_;
  std::vector<std::string> engines_;
  StreamLeases leases_;
  FileUrls urls_;
  mutable RedisConnection commands_;  // short commands from every thread (locks itself)

  mutable std::mutex mutex_;
  std::condition_variable_any wake_feeder_;
  mutable std::map<std::string, Outstanding> outstanding_;  // by job id
  std::set<std::string> cancel_marks_;  // canceled jobs whose Redis mark is still to be set
  std::vector<WorkerInfo> workers_;     // the last heartbeat read
  RemoteMetrics metrics_;
  std::atomic<bool> redis_up_{false};
  std::atomic<std::uint64_t> events_applied_{0}, events_dropped_{0}, redispatched_{0};

  std::jthread feeder_, events_, watchdog_;
};

}  // namespace sonic::jobs::remote
