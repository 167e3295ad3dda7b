// The deadline thread of running jobs (see job_deadlines.h).
#include "jobs/job_deadlines.h"

#include "util/log.h"

namespace sonic::jobs {

JobDeadlines::JobDeadlines(std::chrono::milliseconds limit) : limit_(limit) {
  if (limit_.count() > 0) thread_ = std::thread([this] { run(); });
}

JobDeadlines::~JobDeadlines() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobDeadlines::arm(const std::string& id, std::shared_ptr<engine::CancelToken> token) {
  if (limit_.count() <= 0) return;
  {
    std::lock_guard lock(mutex_);
    jobs_[id] = Entry{Clock::now() + limit_, std::move(token), false};
  }
  changed_.notify_all();
}

bool JobDeadlines::expired(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  return it != jobs_.end() && it->second.fired;
}

void JobDeadlines::disarm(const std::string& id) {
  std::lock_guard lock(mutex_);
  jobs_.erase(id);
}

void JobDeadlines::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto& [id, entry] : jobs_) {
      if (entry.fired) continue;
      if (entry.deadline <= now) {
        entry.fired = true;
        entry.token->cancel();
        log::warn("job timed out", {{"job_id", id}, {"limit_s", limit_.count() / 1000.0}});
      } else {
        next = std::min(next, entry.deadline);
      }
    }
    if (next == Clock::time_point::max())
      changed_.wait(lock);
    else
      changed_.wait_until(lock, next);
  }
}

}  // namespace sonic::jobs
