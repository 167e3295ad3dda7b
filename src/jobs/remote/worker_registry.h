// WorkerRegistry: who is out there — the live workers as their heartbeats say (host,
// engines, slots, current jobs, version). A heartbeat is a key with a TTL of three
// heartbeats, so a worker that dies disappears by itself; a sorted set indexes the ids so
// the server never has to SCAN a shared Redis.
//
// Threads: read() is a pure function over a connection; the snapshot is plain data.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "jobs/remote/redis_connection.h"
#include "jobs/remote/redis_keys.h"

namespace sonic::jobs::remote {

struct WorkerInfo {
  std::string id;
  std::vector<std::string> engines;
  int slots = 0;
  // Engines it runs fewer jobs of at once than `slots` (an external engine's declared slots).
  std::map<std::string, int> engine_slots;
  int running = 0;       // jobs it runs now
  bool accepting = true; // false while it stops
  nlohmann::json heartbeat;  // everything it said (GET /api/workers shows it)

  bool serves(const std::string& engine) const;
  // How many jobs of `engine` it runs at once: `slots`, or its cap for that engine.
  int slots_for(const std::string& engine) const;
};

class WorkerRegistry {
 public:
  // The live workers, oldest id first; expired ids are dropped from the index on the way.
  static std::vector<WorkerInfo> read(RedisConnection& redis, const RedisKeys& keys);
};

}  // namespace sonic::jobs::remote
