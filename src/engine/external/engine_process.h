// EngineProcess: the supervisor of one external engine's long-lived process (the engine
// protocol, docs/engine-protocol.md). It spawns the command, waits for `ready`, hands jobs
// to it and relays their messages, and owns the process's whole life: a process that exits,
// breaks the protocol, floods stdout, never sends `ready`, stalls during a job or ignores a
// cancel is killed with its process group, reaped, marked `crashed` with the reason, and
// started again after a back-off (1 s doubling to 60 s by default).
//
// Threads: one I/O thread per EngineProcess owns the ChildProcess and every descriptor; it
// polls stdout, stderr, stdin (when there is something to send) and a wake pipe. Job
// threads (the job service's slots for this engine, or the generate CLI) call run_job(),
// which queues lines for the I/O thread and waits on a condition variable for the messages
// of its own job. All shared state is under one mutex; the I/O thread never calls back into
// a job thread's code (progress callbacks run on the job thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "engine/external/child_process.h"
#include "engine/external/protocol.h"

namespace sonic::engine::external {

struct EngineProcessSettings {
  std::string name;
  SpawnSpec spawn;
  int slots = 1;
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(600)};
  std::chrono::milliseconds cancel_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(600)};
  std::chrono::milliseconds backoff_min{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
};

struct EngineProcessStatus {
  EngineState state = EngineState::starting;
  std::string reason;              // why it is not ready (empty when ready)
  std::optional<ReadyMessage> ready;  // the last handshake
  bool start_failed = false;       // the last start attempt ended before `ready`
  int restarts = 0;
  int pid = 0;
  double restart_in_s = 0;         // crashed: seconds until the next start attempt
  std::uint64_t jobs_succeeded = 0;
  std::uint64_t jobs_failed = 0;
  std::string last_device;
  std::string memory_kind;
  std::optional<std::int64_t> last_peak_memory_bytes;
  std::int64_t max_peak_memory_bytes = 0;
};

using JobProgress = std::function<void(const ProgressMessage&)>;

class EngineProcess {
 public:
  // Starts the I/O thread, which spawns the process at once.
  explicit EngineProcess(EngineProcessSettings settings);
  ~EngineProcess();  // stop()
  EngineProcess(const EngineProcess&) = delete;
  EngineProcess& operator=(const EngineProcess&) = delete;

  const EngineProcessSettings& settings() const { return settings_; }
  EngineProcessStatus status() const;

  // Sends one job (`fields`: everything of the `job` message but type and id) and waits for
  // its final message, calling `progress` (on this thread) for each progress message.
  // Waits for `ready` first when the engine is starting or restarting. Throws Error:
  // engine_unavailable (the engine cannot start: the reason), canceled, engine_failed (it
  // died, stalled, or said so), or the code the engine's `error` names. A job whose process
  // died before it reported any progress is sent once more to the restarted process.
  DoneMessage run_job(const std::string& job_id, const nlohmann::json& fields, const JobProgress& progress,
                      const CancelToken& cancel);

  // Asks the process to shut down (shutdown message, end of stdin, then SIGTERM and SIGKILL
  // to its group) and joins the I/O thread. Jobs still waiting fail with shutting_down.
  void stop();

 private:
  struct JobChannel {
    std::deque<EngineMessage> inbox;
    bool died = false;
    std::string died_reason;
    bool progressed = false;
    std::chrono::steady_clock::time_point last_message;
  };

  void io_loop();
  void spawn_child();
  void handle_line(const std::string& line);
  void fail_child(const std::string& reason, bool is_error = true);  // I/O thread
  void drain_stderr(bool final);                                    // I/O thread
  void shutdown_child();                                            // I/O thread
  void send(std::string line);            // with mutex_ held
  // With mutex_ held: has the I/O thread kill the process and waits until it did, so the
  // next job never reaches the process being killed.
  void kill_and_wait(std::unique_lock<std::mutex>& lock, const std::string& reason);
  void wake();
  void wait_until_ready(std::unique_lock<std::mutex>& lock, const CancelToken& cancel);

  const EngineProcessSettings settings_;

  // I/O thread only.
  std::unique_ptr<ChildProcess> child_;
  std::unique_ptr<LineSplitter> stdout_lines_, stderr_lines_;
  std::chrono::steady_clock::time_point ready_deadline_, next_spawn_, stdout_closed_at_;
  bool stdout_closed_ = false;
  std::string pending_write_;  // taken from outbox_, partly written
  FileDescriptor wake_read_, wake_write_;

  // Shared, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  EngineState state_ = EngineState::starting;
  std::string reason_;
  std::optional<ReadyMessage> ready_;
  std::chrono::steady_clock::time_point ready_since_;
  bool start_failed_ = false;
  int start_failures_ = 0;       // start attempts that ended before ready, ever
  int consecutive_failures_ = 0;  // for the back-off
  int restarts_ = 0;
  int pid_ = 0;
  std::chrono::steady_clock::time_point restart_at_;
  std::string outbox_;
  std::string kill_reason_;  // set by a job thread, acted on by the I/O thread
  bool stop_requested_ = false;
  int active_jobs_ = 0;
  std::map<std::string, JobChannel> jobs_;
  std::uint64_t jobs_succeeded_ = 0, jobs_failed_ = 0;
  std::string last_device_, memory_kind_;
  std::optional<std::int64_t> last_peak_memory_;
  std::int64_t max_peak_memory_ = 0;

  std::thread io_thread_;  // owned; joined in stop()
};

}  // namespace sonic::engine::external
