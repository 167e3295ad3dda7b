// WorkerLane: the threads that serve dispatched requests of one kind (transport.h).
// `quick` is a fixed pool with a bounded queue; `long` starts empty and grows a thread
// whenever no thread is idle, up to its maximum, and never queues beyond it: a request
// that finds every long thread busy is refused (503 server_busy) instead of waiting behind
// uploads and streams. Threads are never detached; stop() serves what is queued and joins.
//
// Threads: submit() from the reactor; the lane's own threads run `serve`.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/transport/connection.h"

namespace sonic::http {

class WorkerLane {
 public:
  // `min_threads` start at once; at most `max_threads` run; at most `max_queued` wait.
  WorkerLane(std::string name, int min_threads, int max_threads, std::size_t max_queued,
             std::function<void(Dispatch&)> serve);
  ~WorkerLane();
  WorkerLane(const WorkerLane&) = delete;
  WorkerLane& operator=(const WorkerLane&) = delete;

  // False (and `work` untouched) when the lane is full or stopping.
  bool submit(Dispatch& work);
  void stop();
  int threads() const;

 private:
  void loop();
  std::string name_;
  int max_threads_;
  std::size_t max_queued_;
  std::function<void(Dispatch&)> serve_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Dispatch> queue_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  bool stopping_ = false;
};

}  // namespace sonic::http
