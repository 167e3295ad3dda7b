// FairQueue: round-robin across clients (see fair_queue.h).
#include "jobs/fair_queue.h"

#include <algorithm>
#include <vector>

namespace sonic::jobs {

bool FairQueue::push(const std::string& client, const std::string& job_id, bool force) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || (!force && size_ >= capacity_)) return false;
    auto& fifo = per_client_[client];
    if (fifo.empty()) ring_.push_back(client);
    fifo.push_back(job_id);
    ++size_;
  }
  ready_.notify_one();
  return true;
}

std::optional<std::string> FairQueue::take_locked() {
  if (ring_.empty()) return std::nullopt;
  std::string client = ring_.front();
  ring_.pop_front();
  auto it = per_client_.find(client);
  std::string id = it->second.front();
  it->second.pop_front();
  --size_;
  if (it->second.empty()) per_client_.erase(it);
  else ring_.push_back(client);  // its next job waits for everybody else's turn
  return id;
}

std::optional<std::string> FairQueue::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return closed_ || size_ > 0; });
  if (closed_) return std::nullopt;
  return take_locked();
}

bool FairQueue::remove(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  for (auto it = per_client_.begin(); it != per_client_.end(); ++it) {
    auto pos = std::find(it->second.begin(), it->second.end(), job_id);
    if (pos == it->second.end()) continue;
    it->second.erase(pos);
    --size_;
    if (it->second.empty()) {
      ring_.remove(it->first);
      per_client_.erase(it);
    }
    return true;
  }
  return false;
}

std::size_t FairQueue::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

std::optional<std::size_t> FairQueue::position(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  // Simulate the round-robin order without mutating the queue.
  std::vector<std::pair<const std::deque<std::string>*, std::size_t>> turns;
  for (const auto& client : ring_) turns.emplace_back(&per_client_.at(client), 0);
  std::size_t pos = 0;
  bool any = true;
  while (any) {
    any = false;
    for (auto& [fifo, next] : turns) {
      if (next >= fifo->size()) continue;
      any = true;
      if ((*fifo)[next] == job_id) return pos;
      ++next;
      ++pos;
    }
  }
  return std::nullopt;
}

void FairQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace sonic::jobs
