// JobUpdates: job state changes, their events and figures (see job_updates.h).
#include "jobs/job_updates.h"

#include "jobs/engine_progress.h"

namespace sonic::jobs {
namespace fs = std::filesystem;

JobUpdates::JobUpdates(JobStore& store, JobEvents& events, fs::path uploads_dir)
    : store_(store),
      events_(events),
      uploads_dir_(std::move(uploads_dir)),
      job_seconds_({0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800}) {}

nlohmann::json JobUpdates::status_event(const JobRecord& job) {
  return {{"job_id", job.id}, {"status", state_name(job.state)}, {"stage", job.stage}, {"progress", job.progress}};
}

nlohmann::json JobUpdates::final_event(const JobRecord& job) {
  nlohmann::json data = status_event(job);
  if (job.state == JobState::succeeded) {
    data["output_file"] = job.output_file;
    data["cached"] = job.cached;
    if (!job.result.is_null()) data["result"] = job.result;
  } else {
    data["error"] = {{"code", job.error_code}, {"message", job.error_message}};
    if (!job.error_field.empty()) data["error"]["field"] = job.error_field;
  }
  return data;
}

std::string JobUpdates::final_event_type(const JobRecord& job) {
  return job.state == JobState::succeeded ? "done" : "failed";
}

void JobUpdates::started(JobRecord& job, const std::string& stage) {
  job.state = JobState::running;
  job.attempts += 1;
  job.started_ms = now_ms();
  job.stage = stage;
  job.progress = 0;
  store_.update(job);
  events_.append(job.id, "status", status_event(job));
}

void JobUpdates::progress(const std::string& job_id, const std::string& stage, double fraction, double elapsed_s) {
  store_.update_progress(job_id, stage, fraction);
  events_.append(job_id, "progress", progress_event_data(job_id, stage, fraction, elapsed_s));
}

bool JobUpdates::finish(JobRecord& job) {
  if (!store_.update(job)) return false;  // deleted meanwhile
  events_.append(job.id, final_event_type(job), final_event(job), true);
  delete_upload(job.image_file);
  delete_upload(job.audio_file);
  notify();
  return true;
}

void JobUpdates::requeued(JobRecord& job, bool uncount) {
  job.state = JobState::queued;
  if (uncount && job.attempts > 0) job.attempts -= 1;
  job.stage.clear();
  job.progress = 0;
  job.error_code.clear();
  job.error_message.clear();
  job.error_field.clear();
  job.started_ms = 0;
  store_.update(job);
  events_.append(job.id, "status", status_event(job));
}

void JobUpdates::observe_run(const JobRecord& job, double run_s, const std::map<std::string, double>& stage_seconds) {
  job_seconds_.observe(run_s);
  if (job.state == JobState::succeeded && job.result.is_object())
    recent_runs_.observe(run_s, job.result.value("duration", 0.0));
  std::lock_guard lock(stage_mutex_);
  for (const auto& [stage, seconds] : stage_seconds) {
    auto& h = stage_seconds_[stage];
    if (!h) h = std::make_unique<Histogram>(std::vector<double>{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300});
    h->observe(seconds);
  }
}

std::map<std::string, Histogram::Snapshot> JobUpdates::stage_seconds() const {
  std::lock_guard lock(stage_mutex_);
  std::map<std::string, Histogram::Snapshot> out;
  for (const auto& [stage, h] : stage_seconds_) out[stage] = h->snapshot();
  return out;
}

void JobUpdates::delete_upload(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || store_.upload_in_use(name)) return;
  std::error_code ec;
  fs::remove(uploads_dir_ / name, ec);
}

void JobUpdates::notify() {
  { std::lock_guard lock(change_mutex_); }  // no lost wake-up between a waiter's check and its wait
  changed_.notify_all();
}

void JobUpdates::wait_for_change(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(change_mutex_);
  changed_.wait_until(lock, deadline);
}

}  // namespace sonic::jobs
