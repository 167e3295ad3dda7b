// JobDeadlines: the wall-clock limit of a running job (--job-timeout-s, issue 10).
//
// The per-job budget (engine/job_cost.h) bounds what a job asks for; this bounds what it
// actually takes, whatever the reason (a slow engine, a machine under load, an external
// engine that hangs). One thread sleeps until the earliest deadline and cancels that job's
// CancelToken, so the engine stops within one frame as for a user's cancel; the worker then
// asks expired() whether the cancellation was the deadline's (→ failed, `job_timeout`) or a
// person's (→ canceled).
//
// Threads: arm/expired/disarm from worker threads; the deadline thread is owned and joined
// by the destructor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/engine.h"

namespace sonic::jobs {

class JobDeadlines {
 public:
  using Clock = std::chrono::steady_clock;

  // `limit` 0 = jobs have no deadline (no thread is started).
  explicit JobDeadlines(std::chrono::milliseconds limit);
  ~JobDeadlines();
  JobDeadlines(const JobDeadlines&) = delete;
  JobDeadlines& operator=(const JobDeadlines&) = delete;

  std::chrono::milliseconds limit() const { return limit_; }
  // The error message of a job stopped by the limit (local or remote), naming the limit.
  std::string timeout_message() const {
    return "The job ran longer than the limit of " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit_).count()) +
           " s and was stopped; lower duration, fps or min_resolution.";
  }
  // The job `id` starts now: cancel `token` when the limit has passed.
  void arm(const std::string& id, std::shared_ptr<engine::CancelToken> token);
  // Whether the job's deadline passed and its token was canceled for it.
  bool expired(const std::string& id) const;
  // The job ended; forget it.
  void disarm(const std::string& id);

 private:
  struct Entry {
    Clock::time_point deadline;
    std::shared_ptr<engine::CancelToken> token;
    bool fired = false;
  };
  void run();

  const std::chrono::milliseconds limit_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Entry> jobs_;  // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;                 // owned; joined in the destructor
};

}  // namespace sonic::jobs
