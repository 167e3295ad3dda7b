// StreamLeases: the Lua scripts and their callers (see stream_leases.h).
//
// Scripts run atomically in Redis, with their effects written to the AOF as one
// transaction: a lease check and the write it guards can never be separated, even by a
// Redis crash. Every key a script touches is passed in KEYS, so an ACL user limited to
// the prefix can run them.
#include "jobs/remote/stream_leases.h"

namespace sonic::jobs::remote {
namespace {

// Functions every script starts with.
constexpr const char* kCommon = R"lua(
local function owned(stream, group, entry, consumer, delivery)
  local p = redis.pcall('XPENDING', stream, group, entry, entry, 1)
  if type(p) ~= 'table' or p['err'] or #p == 0 then return false end
  return p[1][2] == consumer and tonumber(p[1][4]) == tonumber(delivery)
end
local function field(list, name)
  for i = 1, #list, 2 do
    if list[i] == name then return list[i + 1] end
  end
  return ''
end
local function dead_letter(stream, events, dead, stats, group, id, deliveries, engine, by)
  local e = redis.call('XRANGE', stream, id, id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  if #e == 0 then return 0 end
  local f = e[1][2]
  redis.call('XADD', dead, 'MAXLEN', '~', '10000', '*', 'engine', engine, 'entry', id,
             'deliveries', tostring(deliveries), 'by', by, unpack(f))
  redis.call('XADD', events, '*', 'type', 'dead', 'job', field(f, 'job'), 'attempt', field(f, 'attempt'),
             'entry', id, 'delivery', tostring(deliveries), 'worker', by,
             'data', cjson.encode({deliveries = deliveries, engine = engine}))
  redis.call('HINCRBY', stats, 'dead_letters', 1)
  return 1
end
)lua";

// KEYS: stream, events, dead, stats. ARGV: group, consumer, min_idle_ms, max_deliveries, engine.
const RedisScript& take_over_script() {
  static const RedisScript script(std::string(kCommon) + R"lua(
local start = '0-0'
for round = 1, 16 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], start, 'COUNT', 1)
  for _, e in ipairs(r[2]) do
    if e and e[2] then
      local id = e[1]
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
      local deliveries = tonumber(p[1][4])
      if deliveries > tonumber(ARGV[4]) then
        dead_letter(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], id, deliveries - 1, ARGV[5], ARGV[2])
      else
        redis.call('HINCRBY', KEYS[4], 'takeovers', 1)
        return {id, deliveries, e[2]}
      end
    end
  end
  start = r[1]
  if start == '0-0' then return false end
end
return false
)lua");
  return script;
}

// KEYS: stream, events, dead, stats. ARGV: group, min_idle_ms, max_deliveries, engine.
const RedisScript& reap_dead_script() {
  static const RedisScript script(std::string(kCommon) + R"lua(
local n = 0
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[2], '-', '+', 100)
if type(p) ~= 'table' or p['err'] then return 0 end
for _, e in ipairs(p) do
  if tonumber(e[4]) >= tonumber(ARGV[3]) then
    n = n + dead_letter(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], e[1], tonumber(e[4]), ARGV[4], 'server')
  end
end
return n
)lua");
  return script;
}

// KEYS: stream, cancel. ARGV: group, consumer, entry, delivery. 1 held, 0 lost, 2 canceled.
const RedisScript& renew_script() {
  static const RedisScript script(std::string(kCommon) + R"lua(
if not owned(KEYS[1], ARGV[1], ARGV[3], ARGV[2], ARGV[4]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
)lua");
  return script;
}

// KEYS: stream, events, cancel. ARGV: group, consumer, entry, delivery, mode, field, value, …
const RedisScript& post_script() {
  static const RedisScript script(std::string(kCommon) + R"lua(
if not owned(KEYS[1], ARGV[1], ARGV[3], ARGV[2], ARGV[4]) then return 0 end
if ARGV[5] == 'start' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
  return 2
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 6))
if ARGV[5] == 'final' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
else
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
return 1
)lua");
  return script;
}

// KEYS: stream, events. ARGV: group, consumer, entry, delivery, field, value, …
const RedisScript& release_script() {
  static const RedisScript script(std::string(kCommon) + R"lua(
if not owned(KEYS[1], ARGV[1], ARGV[3], ARGV[2], ARGV[4]) then return false end
local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if #e == 0 then return false end
local id = redis.call('XADD', KEYS[1], '*', unpack(e[1][2]))
redis.call('XADD', KEYS[2], '*', 'new_entry', id, unpack(ARGV, 5))
return id
)lua");
  return script;
}

// KEYS: stream. ARGV: group, entry. Deletes the entry only when no worker has it.
const RedisScript& withdraw_script() {
  static const RedisScript script(R"lua(
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if type(p) == 'table' and not p['err'] and #p == 0 then return redis.call('XDEL', KEYS[1], ARGV[2]) end
return 0
)lua");
  return script;
}

Fields pairs_of(const RedisReply& flat) {
  Fields out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(flat[i].text(), flat[i + 1].text());
  return out;
}

std::string job_of(const Fields& fields) {
  for (const auto& [k, v] : fields)
    if (k == "job") return v;
  return {};
}

void ensure_group(RedisConnection& redis, const std::string& stream, const char* group) {
  try {
    // From 0, not $: entries added before the group existed (a stream recreated after Redis
    // lost its data) must still be delivered.
    redis.command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
  } catch (const RedisReplyError& e) {
    if (!e.starts_with("BUSYGROUP")) throw;
  }
}

void append_fields(std::vector<std::string>& args, const Fields& fields) {
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
}

}  // namespace

void StreamLeases::ensure_engine_group(RedisConnection& redis, const std::string& engine) const {
  ensure_group(redis, keys_.jobs(engine), kWorkersGroup);
}

void StreamLeases::ensure_events_group(RedisConnection& redis) const {
  ensure_group(redis, keys_.events(), kServerGroup);
}

std::string StreamLeases::add(RedisConnection& redis, const std::string& engine, const Fields& fields) const {
  std::vector<std::string> args = {"XADD", keys_.jobs(engine), "*"};
  append_fields(args, fields);
  return redis.command(args).text();
}

bool StreamLeases::withdraw(RedisConnection& redis, const std::string& engine, const std::string& entry_id) const {
  return redis.eval(withdraw_script(), {keys_.jobs(engine)}, {kWorkersGroup, entry_id}).as_integer() > 0;
}

int StreamLeases::reap_dead(RedisConnection& redis, const std::string& engine, std::chrono::milliseconds lease) const {
  return static_cast<int>(redis
                              .eval(reap_dead_script(), {keys_.jobs(engine), keys_.events(), keys_.dead(), keys_.stats()},
                                    {kWorkersGroup, std::to_string(lease.count()), std::to_string(max_deliveries_), engine})
                              .as_integer());
}

bool StreamLeases::exists(RedisConnection& redis, const std::string& engine, const std::string& entry_id) const {
  return redis.command({"XRANGE", keys_.jobs(engine), entry_id, entry_id}).size() > 0;
}

std::optional<std::pair<std::string, int>> StreamLeases::owner(RedisConnection& redis, const std::string& engine,
                                                               const std::string& entry_id) const {
  RedisReply p;
  try {
    p = redis.command({"XPENDING", keys_.jobs(engine), kWorkersGroup, entry_id, entry_id, "1"});
  } catch (const RedisReplyError& e) {
    if (e.starts_with("NOGROUP")) return std::nullopt;
    throw;
  }
  if (p.size() == 0 || p[0].size() < 4) return std::nullopt;
  return std::make_pair(p[0][1].text(), static_cast<int>(p[0][3].as_integer()));
}

std::optional<HeldEntry> StreamLeases::take_new(RedisConnection& redis, const std::vector<std::string>& engines,
                                                const std::string& consumer, std::chrono::milliseconds block) const {
  std::vector<std::string> args = {"XREADGROUP", "GROUP", kWorkersGroup, consumer, "COUNT", "1",
                                   "BLOCK",      std::to_string(block.count()), "STREAMS"};
  for (const auto& e : engines) args.push_back(keys_.jobs(e));
  for (std::size_t i = 0; i < engines.size(); ++i) args.push_back(">");
  RedisReply r = redis.blocking_command(args, block);
  if (!r.is_array()) return std::nullopt;
  for (const RedisReply& stream : r.elements) {
    if (stream.size() < 2) continue;
    for (const RedisReply& entry : stream[1].elements) {
      if (entry.size() < 2 || !entry[1].is_array()) continue;  // deleted before delivery
      HeldEntry held;
      held.entry_id = entry[0].text();
      held.consumer = consumer;
      held.delivery = 1;
      held.fields = pairs_of(entry[1]);
      held.job_id = job_of(held.fields);
      const std::string& key = stream[0].str;
      for (const auto& e : engines)
        if (keys_.jobs(e) == key) held.engine = e;
      return held;
    }
  }
  return std::nullopt;
}

std::optional<HeldEntry> StreamLeases::take_over(RedisConnection& redis, const std::string& engine,
                                                 const std::string& consumer, std::chrono::milliseconds lease) const {
  RedisReply r = redis.eval(take_over_script(), {keys_.jobs(engine), keys_.events(), keys_.dead(), keys_.stats()},
                            {kWorkersGroup, consumer, std::to_string(lease.count()), std::to_string(max_deliveries_), engine});
  if (!r.is_array() || r.size() < 3) return std::nullopt;
  HeldEntry held;
  held.engine = engine;
  held.entry_id = r[0].text();
  held.delivery = static_cast<int>(r[1].as_integer());
  held.consumer = consumer;
  held.fields = pairs_of(r[2]);
  held.job_id = job_of(held.fields);
  return held;
}

LeaseState StreamLeases::renew(RedisConnection& redis, const HeldEntry& held) const {
  long long r = redis
                    .eval(renew_script(), {keys_.jobs(held.engine), keys_.cancel(held.job_id)},
                          {kWorkersGroup, held.consumer, held.entry_id, std::to_string(held.delivery)})
                    .as_integer();
  return r == 1 ? LeaseState::held : r == 2 ? LeaseState::canceled : LeaseState::lost;
}

LeaseState StreamLeases::post(RedisConnection& redis, const HeldEntry& held, PostMode mode, const Fields& event) const {
  std::vector<std::string> args = {kWorkersGroup, held.consumer, held.entry_id, std::to_string(held.delivery),
                                   mode == PostMode::start ? "start" : mode == PostMode::final ? "final" : "progress"};
  append_fields(args, event);
  long long r =
      redis.eval(post_script(), {keys_.jobs(held.engine), keys_.events(), keys_.cancel(held.job_id)}, args).as_integer();
  return r == 1 ? LeaseState::held : r == 2 ? LeaseState::canceled : LeaseState::lost;
}

std::optional<std::string> StreamLeases::release(RedisConnection& redis, const HeldEntry& held,
                                                 const Fields& event) const {
  std::vector<std::string> args = {kWorkersGroup, held.consumer, held.entry_id, std::to_string(held.delivery)};
  append_fields(args, event);
  RedisReply r = redis.eval(release_script(), {keys_.jobs(held.engine), keys_.events()}, args);
  if (r.is_nil()) return std::nullopt;
  return r.text();
}

}  // namespace sonic::jobs::remote
