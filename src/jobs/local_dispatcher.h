// LocalDispatcher: the embedded default — engine threads in the server process, each
// popping its engine's fair queue and running that engine on its own instances (DESIGN §7).
// Each engine has its own slots: a built-in engine --workers threads, an external engine as
// many as its declaration says (a GPU process runs one job at a time by default).
// A job's video is written to data/tmp/ and renamed into outputs/ on success, so a crash
// never leaves half a video under a real name.
//
// Threads: each worker thread owns its engine instances; running_ (cancel tokens) is
// guarded by mutex_. stop() joins them all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "jobs/dispatcher.h"

namespace sonic::jobs {

class LocalDispatcher : public Dispatcher {
 public:
  LocalDispatcher(DispatchContext context, int workers);
  ~LocalDispatcher() override;

  void start() override;
  void stop(std::chrono::seconds grace) override;
  bool cancel(const std::string& job_id) override;
  int running() const override;
  int slots() const override;
  std::string not_ready() const override { return {}; }

 private:
  struct Running {
    std::shared_ptr<engine::CancelToken> token;
    bool requeue = false;  // stopped by shutdown: back to queued, not canceled
  };
  void worker_loop(const std::string& engine, int index);
  void run_job(const std::string& id, std::map<std::string, std::unique_ptr<engine::Engine>>& engines);

  DispatchContext context_;
  const int workers_count_;  // per built-in engine
  int slots_ = 0;             // all engines, set by start()
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a job ended
  std::map<std::string, Running> running_;
  std::vector<std::thread> workers_;  // owned; joined in stop()
};

}  // namespace sonic::jobs
