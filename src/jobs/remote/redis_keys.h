// Every Redis key and consumer group sonic-server uses, in one place (docs/scaling.md lists
// them with their owner, lifetime and readers; keep the two in step). All keys start with
// the deployment's prefix (--redis-prefix, default "sonic"), so several deployments can
// share one Redis and an ACL user can be limited to `~<prefix>:*`.
#pragma once

#include <string>

namespace sonic::jobs::remote {

// Consumer groups: the workers on every engine stream, the API server on the events stream.
inline constexpr const char* kWorkersGroup = "workers";
inline constexpr const char* kServerGroup = "server";
// The API server's consumer name in kServerGroup (one API server per deployment).
inline constexpr const char* kServerConsumer = "api";

class RedisKeys {
 public:
  explicit RedisKeys(std::string prefix) : p_(std::move(prefix) + ":") {}

  // Stream of jobs for one engine; entries are added by the server, taken by workers.
  std::string jobs(const std::string& engine) const { return p_ + "jobs:" + engine; }
  // Stream of events from workers to the server (started, progress, final, released, dead).
  std::string events() const { return p_ + "events"; }
  // Stream of dead-lettered job entries (delivered too often), for operators.
  std::string dead() const { return p_ + "dead"; }
  // String set by the server when a job is canceled; workers check it (TTL 1 day).
  std::string cancel(const std::string& job_id) const { return p_ + "cancel:" + job_id; }
  // One worker's heartbeat: a JSON string with a TTL of three heartbeats.
  std::string worker(const std::string& worker_id) const { return p_ + "worker:" + worker_id; }
  // Sorted set of worker ids (score: when the worker last wrote its heartbeat, Unix ms):
  // the index that lets the server list workers without SCAN.
  std::string workers() const { return p_ + "workers"; }
  // Hash of counters every process adds to: takeovers, dead_letters.
  std::string stats() const { return p_ + "stats"; }

  const std::string& prefix_with_colon() const { return p_; }

 private:
  std::string p_;
};

}  // namespace sonic::jobs::remote
