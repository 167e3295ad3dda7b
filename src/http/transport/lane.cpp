// Worker lanes (see lane.h).
#include "http/transport/lane.h"

namespace sonic::http {

WorkerLane::WorkerLane(std::string name, int min_threads, int max_threads, std::size_t max_queued,
                       std::function<void(Dispatch&)> serve)
    : name_(std::move(name)), max_threads_(std::max(1, max_threads)), max_queued_(max_queued), serve_(std::move(serve)) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < std::min(min_threads, max_threads_); ++i) threads_.emplace_back([this] { loop(); });
}

WorkerLane::~WorkerLane() { stop(); }

bool WorkerLane::submit(Dispatch& work) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  std::size_t waiting = queue_.size();
  bool can_grow = static_cast<int>(threads_.size()) < max_threads_;
  if (static_cast<int>(waiting) >= idle_ && !can_grow && waiting >= max_queued_) return false;
  queue_.push_back(std::move(work));
  if (static_cast<int>(queue_.size()) > idle_ && can_grow) threads_.emplace_back([this] { loop(); });
  ready_.notify_one();
  return true;
}

void WorkerLane::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left
    Dispatch work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    serve_(work);
    work.connection.reset();
    lock.lock();
  }
}

void WorkerLane::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& t : threads) t.join();
}

int WorkerLane::threads() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(threads_.size());
}

}  // namespace sonic::http
