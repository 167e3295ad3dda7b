// JobService: the one object the HTTP layer talks to about jobs. It owns the store, the
// fair queue, the event logs, the dispatchers and the janitor (DESIGN §7).
//
// Life of a job: submit() computes the cache key and either answers from the result cache
// (a new succeeded job sharing the earlier output, `cached: true`), joins an identical job
// that is queued or running (in-flight dedup), or inserts a queued row and pushes its id
// on its engine's fair queue (EngineQueues). A dispatcher with a free slot pops it and gets it run: the local one on
// an engine thread of this process (local_dispatcher.h), the Redis one on a remote worker
// (remote/redis_dispatcher.h); both report through JobUpdates, so the row, the events and
// the waiters agree whoever ran it. A video appears in outputs/ only complete (renamed from
// data/tmp/), then the row becomes succeeded/failed/canceled and the uploads are deleted.
//
// Restart recovery (start()): queued jobs are queued again; running jobs with one attempt
// are retried once, with two they fail as `interrupted`; jobs out on Redis stay with their
// workers (the Redis dispatcher follows them again); data/tmp/ is emptied.
//
// Threads: public methods are called from HTTP threads; dispatchers own their threads;
// the janitor thread sweeps files. stop() joins them all.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "jobs/dispatcher.h"
#include "jobs/engine_queues.h"
#include "jobs/histogram.h"
#include "jobs/idempotency_store.h"
#include "jobs/job.h"
#include "jobs/job_deadlines.h"
#include "jobs/job_events.h"
#include "jobs/sqlite_job_store.h"
#include "jobs/job_updates.h"
#include "jobs/remote/redis_dispatcher.h"
#include "jobs/storage_health.h"
#include "jobs/wait_estimate.h"
#include "jobs/webhook_sender.h"

namespace sonic::jobs {

struct ServiceConfig {
  std::filesystem::path data_dir = "data";
  int workers = 1;  // engine threads here; 0 = none (only with `remote`)
  std::size_t queue_capacity = 64;
  std::string default_engine;  // empty = the binary's default engine
  media::MediaLimits limits;
  std::chrono::seconds retention{72 * 3600};
  std::chrono::seconds janitor_interval{60};
  std::chrono::seconds upload_orphan_age{3600};
  bool cache = true;
  // Auth on: a user never learns another's job id. A cache hit from another client's
  // result gets its own hard link of the video, and in-flight dedup joins only the same
  // client's job.
  bool isolate_clients = false;
  // Most jobs one client may have queued + running at once (0 = no cap); one more is a
  // 429 rate_limited. Joining an identical in-flight job or a cache hit adds no work and
  // is not capped.
  int max_active_per_client = 0;
  // Set: jobs also (or, with workers = 0, only) go to remote workers over Redis Streams.
  std::optional<remote::RemoteConfig> remote;
  std::string version;  // of this binary (worker heartbeats are compared with it)
  // Webhooks (issue 15): off unless a secret and a transport (http/) are given.
  WebhookSettings webhooks;
  // How long an Idempotency-Key is remembered (per user).
  std::chrono::seconds idempotency_keep{24 * 3600};
  // Bounded work per job (issue 10, docs/jobs.md): output megapixels × frames one job may
  // render (checked by admit(), 0 = no budget), and its wall-clock limit once running
  // (0 = none; past it the job fails with job_timeout).
  double max_job_megapixel_frames = 15000;
  std::chrono::seconds job_timeout{900};
  // Below this much free space on the data disk, /readyz fails and new jobs get 507.
  std::uint64_t min_free_bytes = 512ull * 1024 * 1024;
  // Finished jobs' rows (and any file of theirs left) are deleted this long after they
  // finished; their outputs already expired after `retention`.
  std::chrono::seconds job_retention{7 * 24 * 3600};
};

// A validated request whose files are already stored in uploads/.
struct JobSpec {
  std::string client;
  std::string request_id;
  engine::GenerationParams params;
  std::string image_file;  // name in uploads/
  std::string audio_file;
  std::string image_sha256;
  std::string audio_sha256;
};

struct SubmitOutcome {
  JobRecord job;
  bool cached = false;  // answered from the result cache
  bool joined = false;  // joined an identical job already queued or running
};

struct EngineInfo {
  std::string name;
  std::string version;
  std::string description;
  bool is_default = false;
  engine::EngineParameters parameters;  // honoured and ignored parameters
  engine::EngineStatus status;          // kind, state (+ reason), device, limits, slots

  // One entry of GET /api/engines (engine_info.cpp).
  nlohmann::json to_json() const;
};

// Every engine of this process as GET /api/engines shows it, the default one marked.
std::vector<EngineInfo> describe_engines(const std::string& default_engine);
// Prometheus lines about the engines (state, restarts, jobs, peak memory) for /metrics.
std::string engine_metrics_text(const std::vector<EngineInfo>& engines);

struct ServiceMetrics {
  std::map<JobState, int> jobs_by_state;
  std::size_t queue_depth = 0;
  std::size_t queue_capacity = 0;
  int running = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t joined = 0;
  Histogram::Snapshot job_seconds;
  std::map<std::string, Histogram::Snapshot> stage_seconds;
  std::optional<remote::RemoteMetrics> remote;  // with --redis
  std::vector<EngineInfo> engines;
};

class JobService {
 public:
  explicit JobService(ServiceConfig config);
  ~JobService();  // stop(0s) if still running
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // Recovery, then the workers and the janitor. Throws Error(internal) when the data dir
  // cannot be prepared.
  void start();

  // Throws Error: invalid_param (unknown engine), queue_full, rate_limited (the client's
  // cap of active jobs, with a Retry-After estimate), shutting_down.
  SubmitOutcome submit(JobSpec spec);
  // Throws the cap's Error(rate_limited) when `client` is at max_active_per_client now
  // (submit() calls it under its lock, after the cache and join checks).
  void check_active_cap(const std::string& client) const;
  // The result-cache answer for `spec` if there is one (a new succeeded job sharing the
  // earlier video), else nullopt. Needs only the hashes, so the HTTP layer asks before
  // probing the files again: identical bytes were probed when the first job ran. Does not
  // touch spec's files. Same errors as submit().
  std::optional<SubmitOutcome> submit_if_cached(JobSpec spec);
  std::optional<JobRecord> get(const std::string& id) const;
  std::vector<JobRecord> list(const std::string& client, int offset, int limit) const;
  std::vector<std::shared_ptr<const JobRecord>> list_records(const std::string& client, int offset, int limit) const {
    return store_->list_records(client, offset, limit);
  }
  int count(const std::string& client) const;
  // Whether `client` has a job whose video is outputs/`output_file`.
  bool output_owned_by(const std::string& output_file, const std::string& client) const;
  // Waits until the job is final or `timeout` passes (or shutdown begins); returns the
  // latest record, nullopt when the job does not exist.
  std::optional<JobRecord> wait_final(const std::string& id, std::chrono::milliseconds timeout) const;
  // Cancels a queued or running job (a running one stops within one frame). Returns the
  // record afterwards; Error(not_found). A finished job is returned unchanged.
  JobRecord cancel(const std::string& id);
  // Deletes the job, its uploads and (when no other job shares it) its output.
  void remove(const std::string& id);
  // Events after `after`; seeds a summary log for jobs this process has no log for.
  // Error(not_found) when the job does not exist.
  EventBatch events(const std::string& id, std::uint64_t after, std::chrono::milliseconds timeout);

  // Stops accepting jobs and wakes every waiter and event stream.
  void begin_shutdown();
  // begin_shutdown(), then lets running jobs finish for up to `grace`; jobs still running
  // after that are stopped and put back in the queue (they run after the next start).
  void stop(std::chrono::seconds grace);
  bool accepting() const { return accepting_.load(); }
  // Engine loaded, storage writable (and above its free-space threshold, the job database
  // still the file it opened), queue reachable.
  bool ready(std::string* why) const;
  // Throws Error(insufficient_storage) when a new job could not be stored: the data disk
  // is below its threshold, or would be after `incoming_bytes` (an upload's declared
  // size), or the job database was lost. The generate route calls it before storing an
  // upload; submit() calls it again.
  void require_storage(std::uint64_t incoming_bytes = 0) const;

  std::vector<EngineInfo> engines() const { return describe_engines(default_engine_); }
  // GET /api/engines: {"success", "default", "engines": [EngineInfo::to_json()]}.
  nlohmann::json engines_json() const;
  ServiceMetrics metrics() const;
  // The wait a new job would have now, from recent run times and the jobs ahead (GET /api/limits).
  WaitEstimate wait_estimate() const;
  std::size_t queue_capacity() const { return queue_.capacity(); }
  const std::filesystem::path& uploads_dir() const { return uploads_dir_; }
  const std::filesystem::path& outputs_dir() const { return outputs_dir_; }
  const ServiceConfig& config() const { return config_; }
  // Runs one janitor sweep now (also used by tests through the janitor interval).
  void sweep();
  // The Redis dispatcher (worker file routes, GET /api/workers); null without --redis.
  remote::RedisDispatcher* remote() const { return remote_; }
  // Webhook subscriptions and deliveries; Idempotency-Key records (issue 15).
  WebhookSender& webhooks() { return *webhooks_; }
  IdempotencyStore& idempotency() { return *idempotency_; }

 private:
  void recover();
  // Writes a final row, emits the final event, frees uploads; false when the job is gone.
  bool finish(JobRecord& job);
  void janitor_loop();
  void delete_upload(const std::string& name);
  std::string engine_version(const std::string& name) const;
  JobRecord prepare(JobSpec& spec) const;       // validates the engine, computes the cache key
  bool answer_from_cache(JobRecord& job);       // with mutex_ held

  ServiceConfig config_;
  std::filesystem::path uploads_dir_, outputs_dir_, tmp_dir_;
  std::unique_ptr<SqliteJobStore> store_;  // reached through JobStore& by everything but StorageHealth
  std::unique_ptr<IdempotencyStore> idempotency_;
  std::unique_ptr<WebhookSender> webhooks_;  // its threads: start() to stop()
  std::unique_ptr<StorageHealth> storage_;  // watches store_'s file and the disk
  JobDeadlines deadlines_;
  EngineQueues queue_;  // one fair queue per engine: each engine has its own workers
  mutable JobEvents events_;
  std::string default_engine_;

  std::atomic<bool> accepting_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> cache_hits_{0}, cache_misses_{0}, joined_{0};

  mutable std::mutex mutex_;  // guards submission ordering (cache / join / insert)
  std::unique_ptr<JobUpdates> updates_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;  // remote first, then local
  remote::RedisDispatcher* remote_ = nullptr;             // in dispatchers_, when configured

  std::thread janitor_;  // owned; joined in stop()
  std::mutex janitor_mutex_;
  std::condition_variable janitor_wake_;
};

}  // namespace sonic::jobs
