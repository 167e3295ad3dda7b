// FairQueue: the bounded, in-process queue of job ids waiting for an engine worker.
//
// Fairness: one FIFO per client and a round-robin ring of clients, so a client that
// submits a batch of 50 jobs gets one turn per round like everybody else and never
// starves a client with one job (DESIGN §7). The bound is on the total; a full queue is
// the caller's 429, not a silent drop. Recovered jobs (restart) may be pushed past the
// bound: an accepted job is never refused later.
//
// Threads: push/remove from HTTP threads, pop from worker threads; all methods lock one
// mutex. close() wakes every waiting pop() for shutdown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace sonic::jobs {

class FairQueue {
 public:
  explicit FairQueue(std::size_t capacity) : capacity_(capacity) {}

  // False when the queue already holds `capacity` jobs (unless `force`).
  bool push(const std::string& client, const std::string& job_id, bool force = false);
  // Blocks until a job is available, the timeout passes, or close() was called.
  std::optional<std::string> pop(std::chrono::milliseconds timeout);
  // Removes a waiting job (cancel/delete). False when it was not queued.
  bool remove(const std::string& job_id);
  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }
  // Position (0 = next) of a queued job in the round-robin order, if queued.
  std::optional<std::size_t> position(const std::string& job_id) const;
  void close();

 private:
  std::optional<std::string> take_locked();

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::map<std::string, std::deque<std::string>> per_client_;
  std::list<std::string> ring_;  // clients with waiting jobs, next turn first
  std::size_t size_ = 0;
  bool closed_ = false;
};

}  // namespace sonic::jobs
