// RemoteWorker: taking jobs, keeping leases and the heartbeat (see remote_worker.h); one
// job's run is worker_run.cpp.
#include "jobs/remote/remote_worker.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "jobs/job.h"
#include "jobs/remote/worker_run.h"
#include "util/log.h"

namespace sonic::jobs::remote {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown-host";
  return buf;
}

std::string make_worker_id(const std::string& host) {
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
  std::string clean;
  for (char c : host) clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return clean + "-" + std::to_string(::getpid()) + "-" + suffix;
}

// How long the taker waits in XREADGROUP and the keeper between renewals.
std::chrono::milliseconds tick(std::chrono::milliseconds lease) {
  return std::clamp<std::chrono::milliseconds>(lease / 4, 50ms, 500ms);
}

}  // namespace

RemoteWorker::RemoteWorker(WorkerConfig config, FileTransfer& files)
    : config_(std::move(config)),
      files_(files),
      leases_(RedisKeys(config_.prefix), config_.max_deliveries),
      host_(host_name()) {
  id_ = make_worker_id(host_);
  config_.slots = std::max(1, config_.slots);
  slot_busy_.assign(static_cast<std::size_t>(config_.slots), false);
  for (int i = 0; i < config_.slots; ++i) {
    auto slot = std::make_unique<WorkerSlot>();
    slot->redis = std::make_unique<RedisConnection>(config_.redis, "sonic-worker:" + id_ + ":slot" + std::to_string(i));
    slots_.push_back(std::move(slot));
  }
  if (config_.work_dir.empty()) config_.work_dir = fs::temp_directory_path() / ("sonic-worker-" + id_);
}

RemoteWorker::~RemoteWorker() {
  stop(0s);
  std::lock_guard lock(mutex_);
  runs_.clear();
}

void RemoteWorker::start() {
  std::error_code ec;
  fs::create_directories(config_.work_dir, ec);
  if (ec) throw Error(ErrorCode::invalid_config, "Cannot create the work folder " + config_.work_dir.string() + ": " + ec.message(), "work-dir");
  started_ms_ = now_ms();
  accepting_ = true;
  keeper_ = std::jthread([this](std::stop_token stop) { keep_loop(stop); });
  taker_ = std::jthread([this](std::stop_token stop) { take_loop(stop); });
  log::info("worker started", {{"worker", id_}, {"engines", config_.engines}, {"slots", config_.slots},
                               {"redis", config_.redis.display()}, {"prefix", config_.prefix},
                               {"server", config_.server_url}, {"lease_ms", config_.lease.count()}});
}

int RemoteWorker::running() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& [entry, run] : runs_) n += run->finished ? 0 : 1;
  return n;
}

void RemoteWorker::run_changed() {
  {
    std::lock_guard lock(mutex_);
    heartbeat_due_ = true;
  }
  changed_.notify_all();
}

void RemoteWorker::stop(std::chrono::seconds grace) {
  if (!taker_.joinable() && !keeper_.joinable()) return;
  accepting_ = false;
  if (taker_.joinable()) {
    taker_.request_stop();
    changed_.notify_all();
    taker_.join();
  }
  {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, grace, [&] {
      for (const auto& [entry, run] : runs_)
        if (!run->finished) return false;
      return true;
    });
    for (auto& [entry, run] : runs_)
      if (!run->finished) run->request_stop(RunStop::hand_back);
  }
  // Each run hands its job back (or ends) and returns; join them without the lock.
  std::vector<std::shared_ptr<WorkerRun>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [entry, run] : runs_) all.push_back(run);
  }
  for (const auto& run : all)
    if (run->thread.joinable()) run->thread.join();
  reap_finished();
  if (keeper_.joinable()) {
    keeper_.request_stop();
    changed_.notify_all();
    keeper_.join();
  }
  log::info("worker stopped", {{"worker", id_}});
}

void RemoteWorker::reap_finished() {
  std::vector<std::shared_ptr<WorkerRun>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = runs_.begin(); it != runs_.end();) {
      if (it->second->finished) {
        slot_busy_[static_cast<std::size_t>(it->second->slot_index)] = false;
        done.push_back(std::move(it->second));
        it = runs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& run : done)
    if (run->thread.joinable()) run->thread.join();
}

void RemoteWorker::launch(HeldEntry held) {
  std::lock_guard lock(mutex_);
  if (runs_.count(held.entry_id)) return;  // Redis re-delivered what this worker already runs
  auto free = std::find(slot_busy_.begin(), slot_busy_.end(), false);
  if (free == slot_busy_.end()) return;  // cannot happen: the taker only takes with a free slot
  int index = static_cast<int>(free - slot_busy_.begin());
  *free = true;
  auto run = std::make_shared<WorkerRun>(*this, std::move(held), *slots_[static_cast<std::size_t>(index)], index);
  WorkerRun* raw = run.get();
  std::string entry = raw->held.entry_id;
  runs_[entry] = std::move(run);
  heartbeat_due_ = true;
  raw->thread = std::jthread([raw](std::stop_token stop) { raw->execute(stop); });
}

std::vector<std::string> RemoteWorker::open_engines() const {
  if (std::find(slot_busy_.begin(), slot_busy_.end(), false) == slot_busy_.end()) return {};
  std::vector<std::string> open;
  for (const auto& engine : config_.engines) {
    if (auto cap = config_.engine_slots.find(engine); cap != config_.engine_slots.end()) {
      int running = 0;
      for (const auto& [entry, run] : runs_) running += !run->finished && run->held.engine == engine ? 1 : 0;
      if (running >= cap->second) continue;
    }
    open.push_back(engine);
  }
  return open;
}

void RemoteWorker::take_loop(std::stop_token stop) {
  RedisConnection redis(config_.redis, "sonic-worker:" + id_ + ":take");
  const auto wait = tick(config_.lease);
  std::uint64_t seen_connections = 0;
  auto takeovers_from = std::chrono::steady_clock::now();
  auto last_takeover_check = std::chrono::steady_clock::time_point{};
  bool reported_down = false;
  while (!stop.stop_requested()) {
    reap_finished();
    std::vector<std::string> open;
    {
      std::unique_lock lock(mutex_);
      open = open_engines();
      if (open.empty()) {
        changed_.wait_for(lock, stop, 200ms, [&] {
          for (const auto& [entry, run] : runs_)
            if (run->finished) return true;
          return false;
        });
        continue;
      }
    }
    try {
      if (redis.connections() != seen_connections || seen_connections == 0) {
        for (const auto& engine : config_.engines) leases_.ensure_engine_group(redis, engine);
        // After Redis came back, the holders renew first: no takeovers for a lease.
        if (seen_connections != 0) takeovers_from = std::chrono::steady_clock::now() + config_.lease;
        seen_connections = redis.connections();
        if (reported_down) log::info("Redis reachable again", {{"worker", id_}});
        reported_down = false;
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= takeovers_from && now - last_takeover_check >= wait) {
        last_takeover_check = now;
        bool took = false;
        for (const auto& engine : open) {
          if (auto held = leases_.take_over(redis, engine, id_, config_.lease)) {
            log::info("lease taken over", {{"job_id", held->job_id}, {"entry", held->entry_id},
                                           {"delivery", held->delivery}, {"engine", engine}});
            launch(std::move(*held));
            took = true;
            break;
          }
        }
        if (took) continue;
      }
      if (auto held = leases_.take_new(redis, open, id_, wait)) {
        log::info("job taken", {{"job_id", held->job_id}, {"entry", held->entry_id}, {"engine", held->engine}});
        launch(std::move(*held));
      }
    } catch (const RedisUnavailable& e) {
      if (!reported_down) log::warn("Redis unreachable; retrying with back-off", {{"worker", id_}, {"error", e.message()}});
      reported_down = true;
      redis.wait_backoff(stop);
    } catch (const RedisReplyError& e) {
      // NOGROUP: Redis lost the streams (a restart without its data); make them again.
      log::warn("Redis refused a take; making the groups again", {{"worker", id_}, {"error", e.message()}});
      seen_connections = 0;
      redis.wait_backoff(stop);
    }
  }
}

void RemoteWorker::keep_loop(std::stop_token stop) {
  RedisConnection redis(config_.redis, "sonic-worker:" + id_ + ":keep");
  const auto every = tick(config_.lease);
  auto last_heartbeat = std::chrono::steady_clock::time_point{};
  while (!stop.stop_requested()) {
    std::vector<std::shared_ptr<WorkerRun>> live;
    bool heartbeat_due;
    {
      std::lock_guard lock(mutex_);
      for (auto& [entry, run] : runs_)
        if (!run->finished && !run->ending) live.push_back(run);
      heartbeat_due = heartbeat_due_;
    }
    try {
      for (const auto& run : live) {
        // A run in `live` may finish meanwhile, which only makes this renewal moot.
        LeaseState state = leases_.renew(redis, run->held);
        if (run->ending) continue;
        if (state == LeaseState::lost) run->request_stop(RunStop::lease_lost);
        if (state == LeaseState::canceled) run->request_stop(RunStop::canceled);
      }
      auto now = std::chrono::steady_clock::now();
      if (heartbeat_due || now - last_heartbeat >= config_.heartbeat) {
        write_heartbeat(redis);
        last_heartbeat = now;
      }
    } catch (const Error& e) {
      log::warn("cannot renew leases or write the heartbeat now", {{"worker", id_}, {"error", e.message()}});
      redis.wait_backoff(stop);
      continue;
    }
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, stop, every, [&] { return heartbeat_due_; });
  }
  try {
    RedisKeys keys(config_.prefix);
    redis.pipeline({{"DEL", keys.worker(id_)}, {"ZREM", keys.workers(), id_}});
  } catch (const Error& e) {
    log::warn("could not remove the heartbeat (it expires by itself)", {{"worker", id_}, {"error", e.message()}});
  }
}

std::string RemoteWorker::heartbeat_json() const {
  json jobs = json::array();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [entry, run] : runs_)
      if (!run->finished) jobs.push_back(run->status());
  }
  return json{{"id", id_},
              {"host", host_},
              {"pid", ::getpid()},
              {"engines", config_.engines},
              {"slots", config_.slots},
              {"engine_slots", config_.engine_slots},
              {"jobs", jobs},
              {"version", config_.version},
              {"server", config_.server_url},
              {"accepting", accepting_.load()},
              {"lease_ms", config_.lease.count()},
              {"started_at_ms", started_ms_},
              {"heartbeat_at_ms", now_ms()}}
      .dump();
}

void RemoteWorker::write_heartbeat(RedisConnection& redis) {
  {
    std::lock_guard lock(mutex_);
    heartbeat_due_ = false;
  }
  RedisKeys keys(config_.prefix);
  redis.pipeline({{"SET", keys.worker(id_), heartbeat_json(), "PX", std::to_string(3 * config_.heartbeat.count())},
                  {"ZADD", keys.workers(), std::to_string(now_ms()), id_}});
}

}  // namespace sonic::jobs::remote
