// JobUpdates: every change of a job's state after it was queued goes through here — the
// row in the store, the event log SSE streams read, the waiters of wait_final(), the
// freed uploads and the run-time figures — so they never disagree, whoever ran the job: a
// local engine thread (LocalDispatcher) or a remote worker (RedisDispatcher).
//
// Threads: any thread; the store and the event log lock themselves, the figures lock here.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/histogram.h"
#include "jobs/job.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "jobs/wait_estimate.h"

namespace sonic::jobs {

class JobUpdates {
 public:
  JobUpdates(JobStore& store, JobEvents& events, std::filesystem::path uploads_dir);

  // queued → running: attempts + 1, started now, `stage`; a status event.
  void started(JobRecord& job, const std::string& stage = "load");
  // A progress report of a running job (stage, fraction 0–1): the row and a progress event.
  void progress(const std::string& job_id, const std::string& stage, double fraction, double elapsed_s);
  // Writes the final row, emits the final event (done/failed), frees the uploads and wakes
  // the waiters; false when the job was deleted meanwhile.
  bool finish(JobRecord& job);
  // running → queued again (a shutdown or a hand-back stopped it): a status event. With
  // `uncount`, the attempt it had does not count.
  void requeued(JobRecord& job, bool uncount);
  // A finished run's figures: its time, its engine stages, its video length (wait estimates).
  void observe_run(const JobRecord& job, double run_s, const std::map<std::string, double>& stage_seconds);
  // Deletes an upload no unfinished job needs any more.
  void delete_upload(const std::string& name);

  // Wakes wait_for_change() (a job became final, shutdown).
  void notify();
  // Waits until notify() or `deadline`.
  void wait_for_change(std::chrono::steady_clock::time_point deadline);

  Histogram::Snapshot job_seconds() const { return job_seconds_.snapshot(); }
  std::map<std::string, Histogram::Snapshot> stage_seconds() const;
  RunTimeFit run_time_fit() const { return recent_runs_.fit(); }

  static nlohmann::json status_event(const JobRecord& job);
  static nlohmann::json final_event(const JobRecord& job);
  static std::string final_event_type(const JobRecord& job);

 private:
  JobStore& store_;
  JobEvents& events_;
  std::filesystem::path uploads_dir_;
  std::mutex change_mutex_;
  std::condition_variable changed_;
  Histogram job_seconds_;
  RecentRuns recent_runs_;  // succeeded runs: wall time against video length
  mutable std::mutex stage_mutex_;
  std::map<std::string, std::unique_ptr<Histogram>> stage_seconds_;
};

}  // namespace sonic::jobs
