// JobEvents: numbered per-job event logs for SSE (see job_events.h).
#include "jobs/job_events.h"

namespace sonic::jobs {

JobEvents::JobEvents()
    : base_(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()) *
            1000) {}

std::uint64_t JobEvents::append(const std::string& job_id, const std::string& type, const nlohmann::json& data,
                                bool final_event) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    Log& log = logs_[job_id];
    if (log.finished) return log.events.empty() ? 0 : log.events.back().id;  // nothing after the end
    id = base_ + log.events.size() + 1;
    log.events.push_back({id, type, data});
    if (final_event) {
      log.finished = true;
      log.finished_at = std::chrono::steady_clock::now();
    }
  }
  changed_.notify_all();
  if (observer_) observer_(job_id, type, data);
  return id;
}

void JobEvents::seed(const std::string& job_id, const std::vector<std::pair<std::string, nlohmann::json>>& events,
                     bool finished) {
  {
    std::lock_guard lock(mutex_);
    if (logs_.count(job_id)) return;
    Log& log = logs_[job_id];
    for (const auto& [type, data] : events) log.events.push_back({base_ + log.events.size() + 1, type, data});
    log.finished = finished;
    log.finished_at = std::chrono::steady_clock::now();
  }
  changed_.notify_all();
}

EventBatch JobEvents::wait(const std::string& job_id, std::uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto ready = [&] {
    if (closing_) return true;
    auto it = logs_.find(job_id);
    if (it == logs_.end()) return true;
    return it->second.finished || it->second.events.size() > index_after(after);
  };
  changed_.wait_for(lock, timeout, ready);
  EventBatch batch;
  batch.closing = closing_;
  auto it = logs_.find(job_id);
  if (it == logs_.end()) return batch;
  batch.known = true;
  batch.finished = it->second.finished;
  for (std::size_t i = index_after(after); i < it->second.events.size(); ++i)
    batch.events.push_back(it->second.events[i]);
  return batch;
}

bool JobEvents::has(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  return logs_.count(job_id) > 0;
}

void JobEvents::forget(const std::string& job_id) {
  {
    std::lock_guard lock(mutex_);
    logs_.erase(job_id);
  }
  changed_.notify_all();
}

void JobEvents::prune(std::chrono::seconds age) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  for (auto it = logs_.begin(); it != logs_.end();) {
    if (it->second.finished && now - it->second.finished_at > age) it = logs_.erase(it);
    else ++it;
  }
}

void JobEvents::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
}

}  // namespace sonic::jobs
