// WorkerRegistry: live workers from their heartbeats (see worker_registry.h).
#include "jobs/remote/worker_registry.h"

#include <algorithm>

namespace sonic::jobs::remote {
namespace {

// KEYS: the index, then the heartbeat keys; ARGV: their ids. Drops an id only when its key
// is still gone now: a worker that wrote its heartbeat since the read stays listed.
const RedisScript& forget_script() {
  static const RedisScript script(R"lua(
local n = 0
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then n = n + redis.call('ZREM', KEYS[1], id) end
end
return n
)lua");
  return script;
}

}  // namespace

bool WorkerInfo::serves(const std::string& engine) const {
  return std::find(engines.begin(), engines.end(), engine) != engines.end();
}

int WorkerInfo::slots_for(const std::string& engine) const {
  auto cap = engine_slots.find(engine);
  return cap == engine_slots.end() ? slots : std::min(slots, cap->second);
}

std::vector<WorkerInfo> WorkerRegistry::read(RedisConnection& redis, const RedisKeys& keys) {
  RedisReply ids = redis.command({"ZRANGE", keys.workers(), "0", "-1"});
  std::vector<WorkerInfo> out;
  if (ids.size() == 0) return out;
  std::vector<std::string> mget = {"MGET"};
  for (const auto& id : ids.elements) mget.push_back(keys.worker(id.text()));
  RedisReply beats = redis.command(mget);
  std::vector<std::string> gone_keys = {keys.workers()}, gone_ids;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string id = ids[i].text();
    if (i >= beats.size() || beats[i].is_nil()) {
      gone_keys.push_back(keys.worker(id));  // its key expired: it stopped heart-beating
      gone_ids.push_back(id);
      continue;
    }
    auto beat = nlohmann::json::parse(beats[i].text(), nullptr, false);
    if (!beat.is_object()) continue;
    WorkerInfo w;
    w.id = id;
    w.heartbeat = beat;
    w.slots = beat.value("slots", 0);
    w.accepting = beat.value("accepting", true);
    if (beat.contains("engines") && beat["engines"].is_array())
      for (const auto& e : beat["engines"])
        if (e.is_string()) w.engines.push_back(e.get<std::string>());
    if (beat.contains("engine_slots") && beat["engine_slots"].is_object())
      for (const auto& [engine, cap] : beat["engine_slots"].items())
        if (cap.is_number_integer() && cap.get<int>() > 0) w.engine_slots[engine] = cap.get<int>();
    if (beat.contains("jobs") && beat["jobs"].is_array()) w.running = static_cast<int>(beat["jobs"].size());
    out.push_back(std::move(w));
  }
  if (!gone_ids.empty()) redis.eval(forget_script(), gone_keys, gone_ids);
  return out;
}

}  // namespace sonic::jobs::remote
