// WorkerRun: one job on a worker, from the entry it took to its final event (the run
// threads of remote_worker.h).
//
//   start     post `started` (refused when the job was canceled meanwhile: acknowledged, not run)
//   inputs    GET each input by its signed URL, check size and sha256 (a mismatch is fetched again)
//   engine    Engine::generate on this slot's engine, progress posted through the lease check
//   result    PUT the finished MP4 with the run's identity (consumer, delivery) and the result
//   final     post `succeeded` / `failed` / `canceled` and acknowledge, in one script
//
// Why the run stops early decides what it says: the server canceled → `canceled`; the lease
// was lost (taken over, or Redis lost it) → nothing at all, the entry is someone else's;
// the worker is stopping → the entry is handed back. The server, not the worker, decides
// that a job succeeded: when it accepts the upload.
//
// Threads: execute() runs on the run's own thread; request_stop() and status() from the
// keeper and the taker.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "jobs/remote/remote_messages.h"
#include "jobs/remote/remote_worker.h"

namespace sonic::jobs::remote {

// What one slot keeps between its jobs: a Redis connection and the engines it made.
struct WorkerSlot {
  std::unique_ptr<RedisConnection> redis;
  std::map<std::string, std::unique_ptr<engine::Engine>> engines;
};

enum class RunStop { none, canceled, lease_lost, hand_back };

struct WorkerRun {
  WorkerRun(RemoteWorker& worker, HeldEntry held, WorkerSlot& slot, int slot_index);

  // The first reason wins, except that the server's cancel overrides a hand-back.
  void request_stop(RunStop why);
  RunStop stop_reason() const { return static_cast<RunStop>(stop_.load()); }
  // {job_id, attempt, delivery, engine, stage, progress, started_at_ms} for the heartbeat.
  nlohmann::json status() const;
  void execute(std::stop_token stop);

  RemoteWorker& worker;
  const HeldEntry held;
  WorkerSlot& slot;
  const int slot_index;
  engine::CancelToken token;
  std::atomic<bool> finished{false};  // execute() returned
  std::atomic<bool> ending{false};    // the final event is being posted: renewals may fail now
  std::jthread thread;

 private:
  // Posts until Redis answers (or the worker gives up at shutdown); progress is tried once.
  LeaseState post(StreamLeases::PostMode mode, const std::string& type, nlohmann::json data, std::stop_token stop);
  bool fetch(const RemoteInput& input, const std::filesystem::path& to, std::string& failure, std::stop_token stop);
  bool upload(const JobMessage& message, const std::filesystem::path& video, const nlohmann::json& result,
              std::string& failure, std::stop_token stop);
  void end_early(std::stop_token stop);  // after a stop request: canceled event, silence or hand-back
  void set_stage(const std::string& stage, double progress);
  // Sleeps with back-off between tries of an HTTP transfer; false when the run must stop.
  bool pause_before_retry(std::chrono::milliseconds& wait, std::stop_token stop);

  std::atomic<int> stop_{0};
  int attempt_ = 0;
  mutable std::mutex mutex_;
  std::string stage_ = "taken";
  double progress_ = 0;
  std::int64_t started_ms_ = 0;
};

// The X-Sonic-Result header: the engine's result JSON as unpadded base64url.
std::string encode_result_header(const nlohmann::json& result);
// nullopt when the text is not base64url of a JSON object.
std::optional<nlohmann::json> decode_result_header(std::string_view text);

}  // namespace sonic::jobs::remote
