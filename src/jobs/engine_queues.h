// EngineQueues: one fair queue per engine under one bound, so each engine has its own job
// slots. The workers of an engine take only that engine's jobs: a 3-minute Sonic job on the
// GPU never holds up a classic job, whatever --workers says, and per-user fairness
// (FairQueue's round robin) holds within each engine. The bound (429 queue_full) is on the
// total, as before.
//
// Threads: push/remove from HTTP threads, pop from each engine's worker threads; the map of
// queues is fixed after start (add_engine), each FairQueue locks itself.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "jobs/fair_queue.h"

namespace sonic::jobs {

class EngineQueues {
 public:
  explicit EngineQueues(std::size_t capacity) : capacity_(capacity) {}

  // Before any push/pop; idempotent.
  void add_engine(const std::string& engine);
  bool has_engine(const std::string& engine) const;
  // False when the total is at capacity (unless `force`) or the engine has no queue.
  bool push(const std::string& engine, const std::string& client, const std::string& job_id, bool force = false);
  std::optional<std::string> pop(const std::string& engine, std::chrono::milliseconds timeout);
  bool remove(const std::string& job_id);
  std::size_t size() const { return size_.load(); }
  std::size_t size(const std::string& engine) const;
  std::size_t capacity() const { return capacity_; }
  void close();

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;  // guards the map's shape and the bound check
  std::map<std::string, std::unique_ptr<FairQueue>> queues_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace sonic::jobs
