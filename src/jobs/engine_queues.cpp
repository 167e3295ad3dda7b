// EngineQueues: per-engine fair queues under one bound (see engine_queues.h).
#include "jobs/engine_queues.h"

#include <limits>

namespace sonic::jobs {

void EngineQueues::add_engine(const std::string& engine) {
  std::lock_guard lock(mutex_);
  auto& q = queues_[engine];
  if (!q) q = std::make_unique<FairQueue>(std::numeric_limits<std::size_t>::max());
}

bool EngineQueues::has_engine(const std::string& engine) const {
  std::lock_guard lock(mutex_);
  return queues_.count(engine) > 0;
}

bool EngineQueues::push(const std::string& engine, const std::string& client, const std::string& job_id, bool force) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(engine);
  if (it == queues_.end()) return false;
  if (!force && size_.load() >= capacity_) return false;
  if (!it->second->push(client, job_id, true)) return false;  // closed
  ++size_;
  return true;
}

std::optional<std::string> EngineQueues::pop(const std::string& engine, std::chrono::milliseconds timeout) {
  FairQueue* q;
  {
    std::lock_guard lock(mutex_);
    auto it = queues_.find(engine);
    if (it == queues_.end()) return std::nullopt;
    q = it->second.get();  // queues are never removed while workers run
  }
  auto id = q->pop(timeout);
  if (id) --size_;
  return id;
}

bool EngineQueues::remove(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  for (auto& [engine, q] : queues_)
    if (q->remove(job_id)) {
      --size_;
      return true;
    }
  return false;
}

std::size_t EngineQueues::size(const std::string& engine) const {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(engine);
  return it == queues_.end() ? 0 : it->second->size();
}

void EngineQueues::close() {
  std::lock_guard lock(mutex_);
  for (auto& [engine, q] : queues_) q->close();
}

}  // namespace sonic::jobs
