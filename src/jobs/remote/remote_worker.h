// RemoteWorker: the body of `sonic-server worker` (docs/scaling.md). It takes jobs from the
// streams of its engines, runs them through the Engine interface on its own machine and
// reports back, needing only the Redis address and the API server's URL.
//
// Threads (all owned, joined in stop()):
//   taker    one Redis connection; while a slot is free: XAUTOCLAIM entries whose lease ran
//            out (not in the first lease after a reconnect, so holders renew first), then
//            XREADGROUP … BLOCK for new ones, of the engines under their caps
//            (engine_slots); starts a run thread per job.
//   keeper   one connection; every tick (≤ 500 ms, ≤ a quarter lease) renews each run's
//            lease with the renew script — a lost lease stops the run silently, a canceled
//            job stops it with a `canceled` event — and writes the heartbeat.
//   runs     one per job (worker_run.cpp), each slot with its own connection and engines:
//            start event, download and check inputs, engine, upload, final event.
// Redis or the API server going away costs nothing but time: every step retries with
// back-off and a held job is never dropped; only a lost lease ends a run early.
//
// stop(grace): no new jobs; running ones get `grace` to finish, then are handed back (the
// entry goes back to its stream for another worker, without counting as a crash); the
// heartbeat key is deleted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/remote/file_transfer.h"
#include "jobs/remote/redis_connection.h"
#include "jobs/remote/stream_leases.h"

namespace sonic::jobs::remote {

struct WorkerConfig {
  RedisUrl redis;
  std::string prefix = "sonic";
  std::string server_url;            // for the heartbeat and logs (FileTransfer knows it)
  std::vector<std::string> engines;  // installed engine names this worker serves
  int slots = 1;                     // jobs at once
  // Engines that take fewer jobs at once than `slots` (an external engine's declared slots,
  // e.g. one model on one GPU): the taker leaves their streams alone while they are full, so
  // a job waits in Redis for any worker rather than held here behind a busy engine.
  std::map<std::string, int> engine_slots;
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds heartbeat{2000};  // the key lives three heartbeats
  int max_deliveries = 3;
  std::filesystem::path work_dir;   // each job gets a folder here, removed afterwards
  std::string version;
};

struct WorkerRun;   // worker_run.h
struct WorkerSlot;  // worker_run.h

class RemoteWorker {
 public:
  RemoteWorker(WorkerConfig config, FileTransfer& files);
  ~RemoteWorker();  // stop(0s) if still running
  RemoteWorker(const RemoteWorker&) = delete;
  RemoteWorker& operator=(const RemoteWorker&) = delete;

  void start();
  void stop(std::chrono::seconds grace);
  // The consumer name in the workers group and the heartbeat's id: host-pid-random.
  const std::string& id() const { return id_; }
  // Runs in progress now.
  int running() const;

 private:
  friend struct WorkerRun;
  void take_loop(std::stop_token stop);
  void keep_loop(std::stop_token stop);
  void launch(HeldEntry held);
  // The engines a job may be taken for now: a slot is free and the engine is under its cap.
  std::vector<std::string> open_engines() const;  // mutex_ held
  void reap_finished();
  std::string heartbeat_json() const;
  void write_heartbeat(RedisConnection& redis);
  void run_changed();  // a run started, finished or changed stage: heartbeat soon

  WorkerConfig config_;
  FileTransfer& files_;
  StreamLeases leases_;
  std::string id_;
  std::string host_;
  std::int64_t started_ms_ = 0;

  std::atomic<bool> accepting_{false};
  mutable std::mutex mutex_;          // guards runs_, free slots, heartbeat_due_
  std::condition_variable_any changed_;
  std::map<std::string, std::shared_ptr<WorkerRun>> runs_;  // by entry id
  std::vector<bool> slot_busy_;
  std::vector<std::unique_ptr<WorkerSlot>> slots_;  // a run borrows its slot while it runs
  bool heartbeat_due_ = true;

  std::jthread taker_;
  std::jthread keeper_;
};

}  // namespace sonic::jobs::remote
