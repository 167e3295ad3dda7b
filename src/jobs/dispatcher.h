// Dispatcher: what takes queued jobs from the service's fair queue and gets them run.
// `serve` has the local one (engine threads in this process, LocalDispatcher), the Redis
// one (remote `worker` processes over Redis Streams, remote/redis_dispatcher.h), or both
// (--redis with --workers N). Each pulls from the same per-engine fair queues only when it
// has a free slot for that engine, so fairness between users and the cancel of a queued job hold whoever runs it.
//
// A dispatcher reports every state change through JobUpdates; the service keeps the
// queue, the cache, submission, recovery and the janitor.
//
// Threads: start() and stop() from the service's owner; cancel(), running(), slots() and
// not_ready() from HTTP threads.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "jobs/engine_queues.h"
#include "jobs/job_deadlines.h"
#include "jobs/job_store.h"
#include "jobs/job_updates.h"
#include "media/limits.h"

namespace sonic::jobs {

// What a dispatcher may use of the service (all outlive it).
struct DispatchContext {
  JobStore& store;
  JobUpdates& updates;
  EngineQueues& queue;  // one fair queue per engine
  JobDeadlines& deadlines;  // --job-timeout-s of jobs run here
  std::filesystem::path uploads_dir, outputs_dir, tmp_dir;
  media::MediaLimits limits;
  std::string version;  // of this binary
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Starts taking jobs from the queue.
  virtual void start() = 0;
  // Stops taking jobs; running ones get `grace` to finish. Local jobs still running then
  // are stopped and queued again; remote ones carry on on their workers.
  virtual void stop(std::chrono::seconds grace) = 0;
  // Cancels a job this dispatcher runs or handed out (the job is final when this returns
  // true, or becomes final within a frame for a local one); false when it has not got it.
  virtual bool cancel(const std::string& job_id) = 0;
  // Jobs running now, and how many can run at once (wait estimates, metrics).
  virtual int running() const = 0;
  virtual int slots() const = 0;
  // A job was pushed on the queue (the Redis feeder waits for a free slot and a job).
  virtual void job_queued() {}
  // Why queued jobs would wait forever now ("no worker for engine classic"), or "".
  virtual std::string not_ready() const = 0;
};

}  // namespace sonic::jobs
