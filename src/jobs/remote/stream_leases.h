// StreamLeases: every decision about who runs a job, made atomically inside Redis by a Lua
// script, so no two processes can both believe they own an entry (STYLE: leases and
// attempts are data, not timing assumptions).
//
// The lease is the entry's place in the consumer group's pending list (PEL): the consumer
// that holds it and the time since it was last delivered or claimed ("idle"). A worker
// renews by re-claiming its own entry (XCLAIM … JUSTID resets idle without counting a
// delivery) — but only after checking, in the same script, that the PEL still names it
// with the same delivery count; otherwise the lease was taken over (or Redis lost it) and
// the worker gives the job up. Every event a worker posts goes through the same check, so
// a zombie's late events never reach the events stream. Another worker takes over an
// entry idle for a whole lease with XAUTOCLAIM (which counts a delivery); an entry
// delivered more than `max_deliveries` times is moved to the dead-letter stream with a
// `dead` event instead of being run again. The server dead-letters too, without claiming,
// when the last allowed delivery's lease has run out and no worker is left to claim it.
//
// An entry's delivery count (1 for XREADGROUP, +1 per XAUTOCLAIM) numbers the runs of one
// attempt; together with the consumer name it identifies a run exactly.
//
// Threads: stateless functions over a connection the caller owns.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/remote/redis_connection.h"
#include "jobs/remote/redis_keys.h"

namespace sonic::jobs::remote {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One job entry a worker holds (or the server tracks).
struct HeldEntry {
  std::string engine;
  std::string entry_id;  // in keys.jobs(engine)
  std::string consumer;  // the worker's consumer name
  int delivery = 0;      // the PEL's delivery count when this run began
  std::string job_id;
  Fields fields;         // the entry's fields as the server added them
};

enum class LeaseState { held, lost, canceled };

class StreamLeases {
 public:
  StreamLeases(RedisKeys keys, int max_deliveries) : keys_(std::move(keys)), max_deliveries_(max_deliveries) {}
  const RedisKeys& keys() const { return keys_; }
  int max_deliveries() const { return max_deliveries_; }

  // Both groups exist (idempotent; creates the streams too).
  void ensure_engine_group(RedisConnection& redis, const std::string& engine) const;
  void ensure_events_group(RedisConnection& redis) const;

  // Server: a new job entry on the engine's stream; returns its id.
  std::string add(RedisConnection& redis, const std::string& engine, const Fields& fields) const;
  // Server: removes an entry no worker has taken yet (cancel of a dispatched job).
  bool withdraw(RedisConnection& redis, const std::string& engine, const std::string& entry_id) const;
  // Server: dead-letters entries idle for `lease` whose deliveries reached the maximum.
  int reap_dead(RedisConnection& redis, const std::string& engine, std::chrono::milliseconds lease) const;
  // Server: whether the entry is still in the stream (false: acked, or lost by Redis).
  bool exists(RedisConnection& redis, const std::string& engine, const std::string& entry_id) const;
  // Server: the PEL's consumer and delivery count of an entry, if it is pending.
  std::optional<std::pair<std::string, int>> owner(RedisConnection& redis, const std::string& engine,
                                                   const std::string& entry_id) const;

  // Worker: a new entry from any of `engines` (XREADGROUP, waits up to `block`).
  std::optional<HeldEntry> take_new(RedisConnection& redis, const std::vector<std::string>& engines,
                                    const std::string& consumer, std::chrono::milliseconds block) const;
  // Worker: an entry of `engine` whose lease ran out (XAUTOCLAIM), dead-lettering on the way
  // those delivered too often.
  std::optional<HeldEntry> take_over(RedisConnection& redis, const std::string& engine, const std::string& consumer,
                                     std::chrono::milliseconds lease) const;
  // Worker: renews the lease; `canceled` when the server canceled the job.
  LeaseState renew(RedisConnection& redis, const HeldEntry& held) const;

  // Worker: posts an event if the lease is still held. A `start` post is refused with
  // `canceled` (and the entry acknowledged) when the job was canceled meanwhile; a
  // `final` post acknowledges and deletes the entry with the event, atomically.
  enum class PostMode { start, progress, final };
  LeaseState post(RedisConnection& redis, const HeldEntry& held, PostMode mode, const Fields& event) const;
  // Worker: gives the entry back (graceful stop): the same fields go to the end of the
  // stream as a new entry with a fresh delivery count, and `event` (plus new_entry) is
  // posted. Returns the new entry id; nullopt when the lease was already lost.
  std::optional<std::string> release(RedisConnection& redis, const HeldEntry& held, const Fields& event) const;

 private:
  RedisKeys keys_;
  int max_deliveries_;
};

}  // namespace sonic::jobs::remote
