// JobService: submission, cache, cancel, recovery, janitor (see job_service.h). Running
// jobs is the dispatchers' part: local_dispatcher.cpp and remote/redis_dispatcher.cpp.
#include "jobs/job_service.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "jobs/local_dispatcher.h"
#include "jobs/sha256.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::jobs {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kMaxAttempts = 2;  // the first run plus one retry after a restart

nlohmann::json status_event(const JobRecord& job) { return JobUpdates::status_event(job); }
nlohmann::json final_event(const JobRecord& job) { return JobUpdates::final_event(job); }
std::string final_event_type(const JobRecord& job) { return JobUpdates::final_event_type(job); }

}  // namespace

JobService::JobService(ServiceConfig config)
    : config_(std::move(config)),
      deadlines_(std::chrono::duration_cast<std::chrono::milliseconds>(config_.job_timeout)),
      queue_(config_.queue_capacity) {
  uploads_dir_ = config_.data_dir / "uploads";
  outputs_dir_ = config_.data_dir / "outputs";
  tmp_dir_ = config_.data_dir / "tmp";
  std::error_code ec;
  for (const auto& dir : {config_.data_dir, uploads_dir_, outputs_dir_, tmp_dir_}) {
    fs::create_directories(dir, ec);
    if (ec) throw Error(ErrorCode::internal, "cannot create " + dir.string() + ": " + ec.message());
  }
  store_ = std::make_unique<SqliteJobStore>(config_.data_dir / "sonic.db");
  updates_ = std::make_unique<JobUpdates>(*store_, events_, uploads_dir_);
  idempotency_ = std::make_unique<IdempotencyStore>(config_.data_dir / "sonic.db", config_.idempotency_keep);
  webhooks_ = std::make_unique<WebhookSender>(config_.data_dir / "sonic.db", config_.webhooks,
                                              [this](const std::string& id) { return store_->get(id); });
  events_.set_observer([this](const std::string& id, const std::string& type, const nlohmann::json& data) {
    webhooks_->on_job_event(id, type, data);
  });
  storage_ = std::make_unique<StorageHealth>(*store_, config_.data_dir, config_.min_free_bytes);

  // Engines: one queue each; whoever runs them makes its own instances.
  default_engine_ = engine::make_engine(config_.default_engine)->name();
  for (const std::string& name : engine::engine_names()) queue_.add_engine(name);

  // Who runs jobs: engine threads here (--workers), remote workers over Redis (--redis), or both.
  DispatchContext context{*store_, *updates_, queue_, deadlines_, uploads_dir_, outputs_dir_, tmp_dir_, config_.limits, config_.version};
  if (config_.remote) {
    auto remote_config = *config_.remote;
    remote_config.local_workers = config_.workers > 0;
    if (remote_config.url_key_file.empty()) remote_config.url_key_file = config_.data_dir / "worker-url.key";
    auto remote = std::make_unique<remote::RedisDispatcher>(context, remote_config, engine::engine_names());
    remote_ = remote.get();
    dispatchers_.push_back(std::move(remote));
  }
  if (config_.workers > 0 || !config_.remote)
    dispatchers_.push_back(std::make_unique<LocalDispatcher>(context, std::max(1, config_.workers)));
}

JobService::~JobService() { stop(0s); }

std::string JobService::engine_version(const std::string& name) const {
  try {
    return engine::make_engine(name)->version();
  } catch (const Error&) {
    return {};
  }
}

void JobService::start() {
  idempotency_->drop_in_progress();
  recover();
  webhooks_->start();
  accepting_ = true;
  for (auto& d : dispatchers_) d->start();
  janitor_ = std::thread([this] { janitor_loop(); });
}

void JobService::recover() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp_dir_, ec)) fs::remove_all(entry.path(), ec);

  int requeued = 0, interrupted = 0, queued = 0, remote = 0;
  // Jobs out on Redis when the server stopped stay with their workers: the Redis
  // dispatcher follows them again. Without --redis now, they run here.
  auto with_redis = [&](const JobRecord& job) {
    if (remote_) return remote_->adopt(job);
    if (auto attempt = store_->remote_attempt(job.id); attempt && !attempt->entry_id.empty()) {
      attempt->entry_id.clear();
      store_->put_remote_attempt(*attempt);
    }
    return false;
  };
  for (JobRecord job : store_->list_in_state(JobState::running)) {
    if (with_redis(job)) {
      ++remote;
      continue;
    }
    if (job.attempts >= kMaxAttempts) {
      job.state = JobState::failed;
      job.error_code = "interrupted";
      job.error_message =
          "The server stopped twice while this job was running; it was not retried again. Submit it again.";
      job.finished_ms = now_ms();
      finish(job);
      ++interrupted;
    } else {
      job.state = JobState::queued;
      job.stage.clear();
      job.progress = 0;
      store_->update(job);
      ++requeued;
    }
  }
  for (JobRecord job : store_->list_in_state(JobState::queued)) {
    if (with_redis(job)) {
      ++remote;
      continue;
    }
    if (!queue_.push(job.engine, job.client, job.id, /*force=*/true)) {
      job.state = JobState::failed;  // its engine is not declared any more
      job.error_code = "engine_unavailable";
      job.error_message = "The engine '" + job.engine + "' is not configured on this server any more.";
      job.finished_ms = now_ms();
      finish(job);
      continue;
    }
    ++queued;
  }
  log::info("job recovery",
            {{"queued", queued}, {"retried", requeued}, {"interrupted", interrupted}, {"with_redis", remote}});
}

JobRecord JobService::prepare(JobSpec& spec) const {
  if (!accepting_) throw Error(ErrorCode::shutting_down, "The server is shutting down; try again in a moment.");
  std::string engine_name = spec.params.engine.empty() ? default_engine_ : spec.params.engine;
  const engine::EngineStatus engine_status = engine::make_engine(engine_name)->status();  // invalid_param when unknown
  if (engine_status.refuses_jobs)  // it cannot even start: better said now than after queueing
    throw Error(ErrorCode::engine_unavailable, "The engine '" + engine_name + "' is not running: it " +
                                                   engine_status.reason + ". Try again later or choose another engine.",
                "engine")
        .with_retry_after(std::max(1, static_cast<int>(std::ceil(engine_status.restart_in_s))));
  spec.params.engine = engine_name;

  JobRecord job;
  job.id = new_uuid();
  job.client = spec.client;
  job.request_id = spec.request_id;
  job.engine = engine_name;
  job.params = spec.params.to_json();
  job.image_file = spec.image_file;
  job.audio_file = spec.audio_file;
  job.created_ms = now_ms();
  // The limits are part of the key: a cached answer must not outlive a stricter limit.
  job.cache_key = sha256_hex(engine_name + "\n" + engine_version(engine_name) + "\n" + job.params.dump() + "\n" +
                             spec.image_sha256 + "\n" + spec.audio_sha256 + "\n" +
                             std::to_string(config_.limits.max_image_pixels) + "\n" +
                             std::to_string(config_.limits.max_audio_seconds) + "\n" +
                             std::to_string(config_.limits.max_full_frame_side));
  return job;
}

bool JobService::answer_from_cache(JobRecord& job) {
  auto hit = store_->find_succeeded(job.cache_key);
  if (!hit || !fs::exists(outputs_dir_ / hit->output_file)) return false;
  std::string output_file = hit->output_file;
  if (config_.isolate_clients && hit->client != job.client) {
    // The shared name would be the other client's job id: give this job its own name for
    // the same bytes (a hard link costs no space; a copy if links are not possible).
    output_file = job.id + ".mp4";
    std::error_code ec;
    fs::create_hard_link(outputs_dir_ / hit->output_file, outputs_dir_ / output_file, ec);
    if (ec) {
      ec.clear();
      fs::copy_file(outputs_dir_ / hit->output_file, outputs_dir_ / output_file, ec);
      if (ec) return false;
    }
  }
  job.state = JobState::succeeded;
  job.cached = true;
  job.params = hit->params;
  job.output_file = output_file;
  job.result = hit->result;
  if (job.result.is_object()) {
    job.result["cached"] = true;
    job.result["output_path"] = fs::absolute(outputs_dir_ / output_file).string();
  }
  job.progress = 1;
  job.stage = "done";
  job.image_file.clear();
  job.audio_file.clear();
  job.started_ms = job.finished_ms = now_ms();
  store_->insert(job);
  events_.seed(job.id, {{"status", status_event(job)}, {final_event_type(job), final_event(job)}}, true);
  ++cache_hits_;
  log::info("job cache hit", {{"job_id", job.id}, {"request_id", job.request_id}, {"client", job.client},
                              {"engine", job.engine}, {"source_job", hit->id}});
  return true;
}

std::optional<SubmitOutcome> JobService::submit_if_cached(JobSpec spec) {
  if (!config_.cache) return std::nullopt;
  JobRecord job = prepare(spec);
  std::lock_guard lock(mutex_);
  if (!answer_from_cache(job)) return std::nullopt;
  return SubmitOutcome{job, true, false};
}

SubmitOutcome JobService::submit(JobSpec spec) {
  JobRecord job = prepare(spec);
  SubmitOutcome outcome;
  {
    // One submission at a time decides cache/join/insert, so two identical requests
    // arriving together become one job, not two.
    std::lock_guard lock(mutex_);
    if (config_.cache && answer_from_cache(job)) {
      outcome.job = job;
      outcome.cached = true;
    } else if (config_.cache) {
      if (auto running = store_->find_in_flight(job.cache_key, config_.isolate_clients ? job.client : "")) {
        ++joined_;
        outcome.job = *running;
        outcome.joined = true;
      }
    }
    if (!outcome.cached && !outcome.joined) {
      check_active_cap(job.client);
      require_storage();
      store_->insert(job);
      if (!queue_.push(job.engine, job.client, job.id)) {
        store_->remove(job.id);
        throw Error(ErrorCode::queue_full,
                    "The queue is full (" + std::to_string(queue_.capacity()) + " jobs waiting); retry later.");
      }
      for (auto& d : dispatchers_) d->job_queued();
      ++cache_misses_;
      events_.append(job.id, "status", status_event(job));
      outcome.job = job;
    }
  }
  if (outcome.cached || outcome.joined) {
    // The new request's own uploads are not needed: the answer exists or is being made.
    delete_upload(spec.image_file);
    delete_upload(spec.audio_file);
  }
  if (!outcome.cached)
    log::info(outcome.joined ? "job joined" : "job queued",
              {{"job_id", outcome.job.id}, {"request_id", spec.request_id}, {"client", spec.client},
               {"engine", job.engine}, {"params", job.params}, {"queue_depth", queue_.size()}});
  return outcome;
}

void JobService::check_active_cap(const std::string& client) const {
  int cap = config_.max_active_per_client;
  if (cap <= 0) return;
  int active = store_->count_active(client);
  if (active < cap) return;
  // A slot frees when one of them finishes: about one job's time (mean so far, else 10 s).
  auto snapshot = updates_->job_seconds();
  double mean = snapshot.count > 0 ? snapshot.sum / static_cast<double>(snapshot.count) : 10.0;
  int retry = static_cast<int>(std::clamp(std::ceil(mean), 1.0, 300.0));
  throw Error(ErrorCode::rate_limited,
              "You already have " + std::to_string(active) + (active == 1 ? " job" : " jobs") +
                  " queued or running (the limit is " + std::to_string(cap) + "); wait for one to finish.")
      .with_retry_after(retry);
}

std::optional<JobRecord> JobService::get(const std::string& id) const { return store_->get(id); }

std::vector<JobRecord> JobService::list(const std::string& client, int offset, int limit) const {
  return store_->list(client, offset, limit);
}

int JobService::count(const std::string& client) const { return store_->count(client); }

bool JobService::output_owned_by(const std::string& output_file, const std::string& client) const {
  return store_->output_owned_by(output_file, client);
}

std::optional<JobRecord> JobService::wait_final(const std::string& id, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto job = store_->get(id);
    if (!job || is_final(job->state)) return job;
    if (stopping_ || !accepting_ || std::chrono::steady_clock::now() >= deadline) return job;
    // The short slice bounds a wake-up missed between the check and the wait.
    updates_->wait_for_change(std::min(deadline, std::chrono::steady_clock::now() + 250ms));
  }
}

JobRecord JobService::cancel(const std::string& id) {
  auto job = store_->get(id);
  if (!job) throw Error(ErrorCode::not_found, "No job with id " + id + ".");
  if (is_final(job->state)) return *job;
  if (queue_.remove(id)) {
    job->state = JobState::canceled;
    job->error_code = "canceled";
    job->error_message = "Canceled before it started.";
    job->finished_ms = now_ms();
    finish(*job);
    return *job;
  }
  for (auto& d : dispatchers_) {
    if (!d->cancel(id)) continue;
    // A local engine checks once per frame; give it a moment so the answer shows the result.
    auto after = wait_final(id, 10s);
    return after ? *after : *job;
  }
  // Nobody has it: taken from the queue a moment ago and not started yet, or started and
  // finished meanwhile. A job still queued in the store is canceled here.
  auto now = store_->get(id);
  if (!now || is_final(now->state)) return now ? *now : *job;
  if (now->state == JobState::queued) {
    now->state = JobState::canceled;
    now->error_code = "canceled";
    now->error_message = "Canceled before it started.";
    now->finished_ms = now_ms();
    finish(*now);
    return *now;
  }
  auto after = wait_final(id, 10s);
  return after ? *after : *job;
}

void JobService::remove(const std::string& id) {
  auto job = store_->get(id);
  if (!job) throw Error(ErrorCode::not_found, "No job with id " + id + ".");
  if (!is_final(job->state)) {
    cancel(id);
    job = store_->get(id);
    if (!job) return;
  }
  store_->remove(id);
  events_.forget(id);
  webhooks_->forget_job(id);
  if (!job->output_file.empty() && store_->count_output_refs(job->output_file) == 0) {
    std::error_code ec;
    fs::remove(outputs_dir_ / job->output_file, ec);
  }
  delete_upload(job->image_file);
  delete_upload(job->audio_file);
  log::info("job deleted", {{"job_id", id}});
}

EventBatch JobService::events(const std::string& id, std::uint64_t after, std::chrono::milliseconds timeout) {
  if (!events_.has(id)) {
    auto job = store_->get(id);
    if (!job) throw Error(ErrorCode::not_found, "No job with id " + id + ".");
    std::vector<std::pair<std::string, nlohmann::json>> summary{{"status", status_event(*job)}};
    if (is_final(job->state)) summary.emplace_back(final_event_type(*job), final_event(*job));
    events_.seed(id, summary, is_final(job->state));
  }
  return events_.wait(id, after, timeout);
}

void JobService::begin_shutdown() {
  accepting_ = false;
  events_.close();
  updates_->notify();
}

void JobService::stop(std::chrono::seconds grace) {
  if (stopping_.exchange(true)) return;
  begin_shutdown();
  queue_.close();
  for (auto& d : dispatchers_) d->stop(grace);
  { std::lock_guard wake(janitor_mutex_); }  // no lost wake-up between its check and its wait
  janitor_wake_.notify_all();
  if (janitor_.joinable()) janitor_.join();
  webhooks_->stop();
}

bool JobService::ready(std::string* why) const {
  auto say = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (!accepting_) return say("not accepting jobs (starting or shutting down)");
  if (auto status = engine::make_engine(default_engine_)->status(); status.state != engine::EngineState::ready) {
    std::string reason = "the default engine '" + default_engine_ + "' is " + std::string(engine::engine_state_name(status.state)) +
                         (status.reason.empty() ? "" : ": it " + status.reason);
    if (why) *why = reason;
    return false;
  }
  // Notices (and may repair) a deleted database or data dir.
  if (std::string problem = storage_->check(); !problem.empty()) {
    if (why) *why = problem;
    return false;
  }
  fs::path probe = tmp_dir_ / (".ready-" + new_uuid());
  {
    std::ofstream f(probe);
    if (!f || !(f << "ok")) return say("storage not writable");
  }
  std::error_code ec;
  fs::remove(probe, ec);
  try {
    store_->count_by_state();
  } catch (const std::exception&) {
    return say("job store unavailable");
  }
  for (const auto& d : dispatchers_) {
    std::string reason = d->not_ready();
    if (!reason.empty()) {
      if (why) *why = reason;
      return false;
    }
  }
  return true;
}

void JobService::require_storage(std::uint64_t incoming_bytes) const { storage_->require(incoming_bytes); }

ServiceMetrics JobService::metrics() const {
  ServiceMetrics m;
  m.jobs_by_state = store_->count_by_state();
  m.queue_depth = queue_.size();
  m.queue_capacity = queue_.capacity();
  for (const auto& d : dispatchers_) m.running += d->running();
  m.cache_hits = cache_hits_;
  m.cache_misses = cache_misses_;
  m.joined = joined_;
  m.job_seconds = updates_->job_seconds();
  m.stage_seconds = updates_->stage_seconds();
  if (remote_) m.remote = remote_->metrics();
  m.engines = engines();
  return m;
}

WaitEstimate JobService::wait_estimate() const {
  std::vector<double> running_progress;
  for (const JobRecord& job : store_->list_in_state(JobState::running)) running_progress.push_back(job.progress);
  int slots = 0;
  for (const auto& d : dispatchers_) slots += d->slots();
  return estimate_wait(updates_->run_time_fit(), running_progress, static_cast<int>(queue_.size()), slots);
}

bool JobService::finish(JobRecord& job) { return updates_->finish(job); }

void JobService::delete_upload(const std::string& name) { updates_->delete_upload(name); }

void JobService::sweep() {
  auto now = now_ms();
  auto retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.retention).count();
  int expired = 0, uploads = 0;
  for (JobRecord job : store_->outputs_finished_before(now - retention_ms)) {
    job.output_expired = true;
    store_->update(job);
    if (store_->count_output_refs(job.output_file) == 0) {
      std::error_code ec;
      fs::remove(outputs_dir_ / job.output_file, ec);
    }
    ++expired;
  }
  // Rows of jobs finished longer ago than job_retention go, with whatever file of theirs
  // is left, a batch at a time so submissions are never held up for long.
  auto job_retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.job_retention).count();
  int pruned = 0;
  for (int batch = 0; batch < 100; ++batch) {
    auto removed = store_->remove_finished_before(now - job_retention_ms, 200);
    for (const JobRecord& job : removed) {
      events_.forget(job.id);
      webhooks_->forget_job(job.id);
      if (!job.output_file.empty() && store_->count_output_refs(job.output_file) == 0) {
        std::error_code ec;
        fs::remove(outputs_dir_ / job.output_file, ec);
      }
      delete_upload(job.image_file);
      delete_upload(job.audio_file);
    }
    pruned += static_cast<int>(removed.size());
    if (removed.size() < 200) break;
  }
  if (std::string problem = storage_->check(); !problem.empty()) log::warn("storage not ready", {{"reason", problem}});
  auto orphan_age = config_.upload_orphan_age;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(uploads_dir_, ec)) {
    std::error_code e2;
    auto mtime = fs::last_write_time(entry.path(), e2);
    if (e2 || fs::file_time_type::clock::now() - mtime < orphan_age) continue;
    std::string name = entry.path().filename().string();
    if (!store_->upload_in_use(name)) {
      fs::remove(entry.path(), e2);
      ++uploads;
    }
  }
  events_.prune(std::chrono::seconds(600));
  webhooks_->prune();
  idempotency_->prune();
  if (expired || uploads || pruned)
    log::info("janitor sweep", {{"outputs_expired", expired}, {"uploads_deleted", uploads}, {"jobs_pruned", pruned}});
}

void JobService::janitor_loop() {
  while (!stopping_) {
    {
      std::unique_lock lock(janitor_mutex_);
      janitor_wake_.wait_for(lock, config_.janitor_interval, [&] { return stopping_.load(); });
    }
    if (stopping_) break;
    try {
      sweep();
    } catch (const std::exception& e) {
      log::error("janitor sweep failed", {{"error", e.what()}});
    }
  }
}

}  // namespace sonic::jobs
