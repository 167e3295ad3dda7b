// JobEvents: an in-memory, per-job log of numbered events (`status`, `progress`, `done`,
// `failed`) that SSE streams read from (DESIGN §5).
//
// Design: each job's events are kept in order with consecutive ids, so a client that
// reconnects with Last-Event-ID gets exactly what it missed. Ids start above a base taken
// from the clock when the process starts (ms × 1000, still exact in a JavaScript number),
// so every id of this run is larger than any id a client kept from an earlier run: after
// a restart, a resuming client gets the rebuilt history instead of silence. Readers never hold the lock
// while writing to a socket: they copy the events out and wait on a condition variable,
// so a slow or vanished client costs the engine nothing. Logs of finished jobs are pruned
// after a while; a reader of a pruned or pre-restart job gets a summary rebuilt from the
// store (JobService does that), which is all the history that still matters.
//
// Threads: append from worker and HTTP threads, wait from SSE (HTTP) threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sonic::jobs {

struct JobEvent {
  std::uint64_t id = 0;
  std::string type;  // status | progress | done | failed
  nlohmann::json data;
};

struct EventBatch {
  std::vector<JobEvent> events;  // those with id > after, in order
  bool known = false;            // the log has this job
  bool finished = false;         // the last event of the job is among or before these
  bool closing = false;          // the server is shutting down
};

class JobEvents {
 public:
  // Told of every appended event (not of seeded summaries), after the lock is released,
  // on the appending thread (webhooks, issue 15). Set before any append.
  using Observer = std::function<void(const std::string& job_id, const std::string& type, const nlohmann::json& data)>;

  JobEvents();
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Appends; `final_event` marks done/failed (readers close after it). Returns its id.
  std::uint64_t append(const std::string& job_id, const std::string& type, const nlohmann::json& data,
                       bool final_event = false);
  // Creates the log from a summary if it does not exist yet (restart, pruned log).
  void seed(const std::string& job_id, const std::vector<std::pair<std::string, nlohmann::json>>& events,
            bool finished);
  // Returns at once when events after `after` exist, the job finished, or the server is
  // closing; otherwise waits up to `timeout`.
  EventBatch wait(const std::string& job_id, std::uint64_t after, std::chrono::milliseconds timeout);
  bool has(const std::string& job_id) const;
  void forget(const std::string& job_id);
  // Drops logs of jobs that finished more than `age` ago.
  void prune(std::chrono::seconds age);
  // Wakes every reader and makes them return with closing = true.
  void close();

 private:
  struct Log {
    std::vector<JobEvent> events;
    bool finished = false;
    std::chrono::steady_clock::time_point finished_at;
  };
  std::size_t index_after(std::uint64_t after) const { return after > base_ ? after - base_ : 0; }

  const std::uint64_t base_;  // id of a log's first event is base_ + 1
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Log> logs_;
  bool closing_ = false;
  Observer observer_;  // set once before the threads start
};

}  // namespace sonic::jobs
