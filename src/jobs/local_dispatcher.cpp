// LocalDispatcher: engine threads in this process (see local_dispatcher.h).
#include "jobs/local_dispatcher.h"

#include <sys/resource.h>

#include "jobs/engine_progress.h"
#include "util/error.h"
#include "util/log.h"
#include "util/memory.h"

namespace sonic::jobs {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

LocalDispatcher::LocalDispatcher(DispatchContext context, int workers)
    : context_(std::move(context)), workers_count_(std::max(1, workers)) {}

LocalDispatcher::~LocalDispatcher() { stop(0s); }

void LocalDispatcher::start() {
  for (const std::string& name : engine::engine_names()) {
    int declared = engine::make_engine(name)->status().slots;
    int slots = declared > 0 ? declared : workers_count_;
    for (int i = 0; i < slots; ++i) workers_.emplace_back([this, name, i] { worker_loop(name, i); });
    slots_ += slots;
  }
}

int LocalDispatcher::slots() const { return slots_; }

void LocalDispatcher::stop(std::chrono::seconds grace) {
  if (stopping_.exchange(true)) return;
  auto deadline = std::chrono::steady_clock::now() + grace;
  {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] { return running_.empty(); });
    for (auto& [id, run] : running_) {
      run.requeue = true;
      run.token->cancel();
    }
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

bool LocalDispatcher::cancel(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(job_id);
  if (it == running_.end()) return false;
  it->second.token->cancel();
  return true;
}

int LocalDispatcher::running() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(running_.size());
}

void LocalDispatcher::worker_loop(const std::string& engine_name, int index) {
  std::map<std::string, std::unique_ptr<engine::Engine>> engines;  // owned by this thread
  log::info("worker started", {{"worker", index}, {"engine", engine_name}});
  while (!stopping_) {
    auto id = context_.queue.pop(engine_name, 1s);
    if (!id) continue;
    try {
      run_job(*id, engines);
    } catch (const std::exception& e) {
      log::error("worker error", {{"worker", index}, {"job_id", *id}, {"error", e.what()}});
    }
  }
}

void LocalDispatcher::run_job(const std::string& id, std::map<std::string, std::unique_ptr<engine::Engine>>& engines) {
  auto loaded = context_.store.get(id);
  if (!loaded || loaded->state != JobState::queued) return;  // canceled or deleted meanwhile
  JobRecord job = *loaded;
  auto token = std::make_shared<engine::CancelToken>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // stays queued for the next start
    running_[id] = {token, false};
  }
  context_.deadlines.arm(id, token);
  context_.updates.started(job);

  fs::path tmp_output = context_.tmp_dir / (id + ".mp4");
  double cpu_before = cpu_seconds();
  auto started = std::chrono::steady_clock::now();
  ProgressThrottle throttle;
  auto progress = [&](const std::string& stage, double fraction) {
    // Kept on the record too, so a canceled or failed job's final event and row say where
    // it stopped (not "load", 0).
    job.stage = stage;
    job.progress = fraction;
    if (throttle.due(stage, fraction)) context_.updates.progress(id, stage, fraction, throttle.elapsed_s());
  };

  bool requeue = false;
  std::map<std::string, double> stage_seconds;
  try {
    engine::JobInput input;
    input.image = context_.uploads_dir / job.image_file;
    input.audio = context_.uploads_dir / job.audio_file;
    input.output = tmp_output;
    input.params = params_from_json(job.params, context_.limits.max_audio_seconds);
    input.limits = context_.limits;
    input.work_dir = context_.tmp_dir / (id + ".work");
    input.job_id = id;
    auto& engine = engines[job.engine];
    if (!engine) engine = engine::make_engine(job.engine);
    engine::EngineResult result = engine->generate(input, progress, *token);

    std::string output_name = id + ".mp4";
    fs::rename(tmp_output, context_.outputs_dir / output_name);
    job.state = JobState::succeeded;
    job.output_file = output_name;
    job.params = result.params.to_json();
    job.result = result.to_json();
    job.result["output_path"] = fs::absolute(context_.outputs_dir / output_name).string();
    job.result["cached"] = false;
    job.progress = 1;
    job.stage = "done";
    stage_seconds = result.stage_seconds;
  } catch (const Error& e) {
    {
      std::lock_guard lock(mutex_);
      requeue = running_[id].requeue;
    }
    if (e.code() == ErrorCode::canceled && context_.deadlines.expired(id)) {
      job.state = JobState::failed;
      job.error_code = std::string(code_name(ErrorCode::job_timeout));
      job.error_message = context_.deadlines.timeout_message();
    } else if (e.code() == ErrorCode::canceled) {
      job.state = JobState::canceled;
      job.error_code = "canceled";
      job.error_message = "Canceled while running.";
    } else {
      job.state = JobState::failed;
      job.error_code = std::string(e.code_name());
      job.error_message = e.message();
      job.error_field = e.field();
    }
  } catch (const std::exception& e) {
    // A library's own text (an OpenCV assertion, a file path) is for the log, not the user.
    log::error("engine failed", {{"job_id", id}, {"stage", job.stage}, {"error", e.what()}});
    job.state = JobState::failed;
    job.error_code = "engine_failed";
    job.error_message = "The engine failed while " + (job.stage.empty() ? std::string("starting") : job.stage) +
                        "; the job id identifies it in the server's log.";
  }
  context_.deadlines.disarm(id);
  std::error_code ec;
  fs::remove(tmp_output, ec);  // partial output of a failed or canceled run

  double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (requeue) {
    // Shutdown stopped it: back to queued, this attempt does not count.
    context_.updates.requeued(job, true);
    log::info("job requeued for shutdown", {{"job_id", id}});
  } else {
    job.finished_ms = now_ms();
    context_.updates.observe_run(job, run_s, stage_seconds);
    if (!context_.updates.finish(job)) {
      // Deleted while it ran: nothing refers to its video or its uploads any more.
      if (!job.output_file.empty()) fs::remove(context_.outputs_dir / job.output_file, ec);
      context_.updates.delete_upload(job.image_file);
      context_.updates.delete_upload(job.audio_file);
    }
    log::info("job finished",
              {{"job_id", id}, {"request_id", job.request_id}, {"status", state_name(job.state)},
               {"params", job.params}, {"run_s", run_s}, {"cpu_s", cpu_seconds() - cpu_before},
               {"peak_rss_kb", peak_rss_kb()}, {"result", job.result},
               {"error", job.error_code.empty() ? nlohmann::json(nullptr)
                                                : nlohmann::json{{"code", job.error_code}, {"message", job.error_message}}}});
  }
  {
    std::lock_guard lock(mutex_);
    running_.erase(id);
  }
  changed_.notify_all();
  return_free_memory();  // RSS back to its level before the job (util/memory.h)
}

}  // namespace sonic::jobs
