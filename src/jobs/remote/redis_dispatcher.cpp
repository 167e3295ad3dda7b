// RedisDispatcher: feeding the streams, cancel, recovery and the watchdog (see
// redis_dispatcher.h). Applying events is remote_events.cpp; the file routes' logic is
// remote_files.cpp.
#include "jobs/remote/redis_dispatcher.h"

#include <ctime>

#include "jobs/sha256.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::jobs::remote {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto kWatchEvery = 500ms;
constexpr long kCancelMarkSeconds = 24 * 3600;

bool sleep_unless(std::stop_token stop, std::chrono::milliseconds wait) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  return !cv.wait_for(lock, stop, wait, [] { return false; });
}

}  // namespace

RedisDispatcher::RedisDispatcher(DispatchContext context, RemoteConfig config, std::vector<std::string> engines)
    : context_(std::move(context)),
      config_(std::move(config)),
      engines_(std::move(engines)),
      leases_(RedisKeys(config_.prefix), config_.max_deliveries),
      urls_(FileUrls::from_key_file(config_.url_key_file)),
      commands_(config_.redis, "sonic-server:commands") {}

RedisDispatcher::~RedisDispatcher() { stop(0s); }

void RedisDispatcher::start() {
  watchdog_ = std::jthread([this](std::stop_token stop) { watch_loop(stop); });
  events_ = std::jthread([this](std::stop_token stop) { events_loop(stop); });
  feeder_ = std::jthread([this](std::stop_token stop) { feed_loop(stop); });
  log::info("dispatching to Redis", {{"redis", config_.redis.display()}, {"prefix", config_.prefix},
                                     {"lease_ms", config_.lease.count()}, {"max_deliveries", config_.max_deliveries},
                                     {"engines", engines_}, {"adopted", outstanding_.size()}});
}

void RedisDispatcher::stop(std::chrono::seconds) {
  // Remote jobs carry on on their workers: their events wait in Redis for the next start.
  for (std::jthread* t : {&feeder_, &events_, &watchdog_}) t->request_stop();
  wake_feeder_.notify_all();
  for (std::jthread* t : {&feeder_, &events_, &watchdog_})
    if (t->joinable()) t->join();
}

std::vector<std::string> RedisDispatcher::open_engines() const {
  std::vector<std::string> open;
  if (!redis_up_) return open;
  // A worker serving several engines counts its slots for each: a job of one may then wait
  // in its stream while that worker runs the other's, but no engine waits for lack of a count.
  for (const auto& engine : engines_) {
    int slots = 0, out = 0;
    for (const auto& w : workers_)
      if (w.accepting && w.serves(engine)) slots += w.slots_for(engine);
    for (const auto& [id, o] : outstanding_) out += o.attempt.engine == engine ? 1 : 0;
    if (out < slots && context_.queue.size(engine) > 0) open.push_back(engine);
  }
  return open;
}

void RedisDispatcher::job_queued() {
  { std::lock_guard lock(mutex_); }  // the feeder is either waiting or sees the job when it checks
  wake_feeder_.notify_all();
}

bool RedisDispatcher::has_capacity() const { return !open_engines().empty(); }

int RedisDispatcher::running() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& [id, out] : outstanding_) n += out.running ? 1 : 0;
  return n;
}

int RedisDispatcher::slots() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& w : workers_) n += w.accepting ? w.slots : 0;
  return n;
}

std::string RedisDispatcher::not_ready() const {
  if (!redis_up_) return "Redis is unreachable (" + config_.redis.display() + ")";
  if (config_.local_workers) return {};
  std::lock_guard lock(mutex_);
  for (const auto& engine : engines_) {
    bool served = std::any_of(workers_.begin(), workers_.end(),
                              [&](const WorkerInfo& w) { return w.accepting && w.serves(engine); });
    if (!served) return "no worker for engine " + engine;
  }
  return {};
}

bool RedisDispatcher::adopt(const JobRecord& job) {
  auto attempt = context_.store.remote_attempt(job.id);
  if (!attempt || attempt->entry_id.empty() || attempt->result_received) return false;
  std::lock_guard lock(mutex_);
  Outstanding out;
  out.attempt = *attempt;
  out.running = job.state == JobState::running;
  out.last_event = std::chrono::steady_clock::now();  // a lease for its worker to be heard from
  outstanding_[job.id] = out;
  return true;
}

JobMessage RedisDispatcher::message_for(const JobRecord& job, int attempt) const {
  const std::int64_t expires = static_cast<std::int64_t>(std::time(nullptr)) + config_.url_ttl.count();
  auto input = [&](const std::string& name, FileGrant grant) {
    fs::path path = context_.uploads_dir / name;
    std::error_code ec;
    RemoteInput in;
    in.bytes = fs::file_size(path, ec);
    if (ec) throw Error(ErrorCode::internal, "the input " + name + " is gone: " + ec.message());
    in.sha256 = sha256_file_hex(path);
    in.name = name;
    in.url = urls_.sign(job.id, grant, attempt, expires);
    return in;
  };
  JobMessage m;
  m.job_id = job.id;
  m.attempt = attempt;
  m.engine = job.engine;
  m.request_id = job.request_id;
  m.params = job.params;
  m.limits = context_.limits;
  m.image = input(job.image_file, FileGrant::image);
  m.audio = input(job.audio_file, FileGrant::audio);
  m.result_url = urls_.sign(job.id, FileGrant::result, attempt, expires);
  m.max_result_bytes = config_.max_result_bytes;
  m.dispatched_ms = now_ms();
  return m;
}

void RedisDispatcher::feed_loop(std::stop_token stop) {
  std::size_t next_engine = 0;
  std::vector<std::string> open;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      wake_feeder_.wait_for(lock, stop, kWatchEvery, [&] { return has_capacity(); });
      open = open_engines();
      if (open.empty()) continue;
    }
    // Round robin over the engines with a free slot and a job waiting (checked just now,
    // so a pop rarely finds nothing; a cancel in between may take the last one).
    std::optional<std::string> id;
    for (std::size_t i = 0; i < open.size() && !id; ++i) id = context_.queue.pop(open[(next_engine + i) % open.size()], 0ms);
    ++next_engine;
    if (!id) continue;
    if (!dispatch(*id)) commands_.wait_backoff(stop);
  }
}

bool RedisDispatcher::dispatch(const std::string& job_id) {
  auto job = context_.store.get(job_id);
  if (!job || job->state != JobState::queued) return true;  // canceled or deleted meanwhile
  RemoteAttempt attempt;
  attempt.job_id = job_id;
  attempt.attempt = 1;
  if (auto before = context_.store.remote_attempt(job_id)) attempt.attempt = before->attempt + 1;
  attempt.engine = job->engine;
  attempt.dispatched_ms = now_ms();
  JobMessage message;
  try {
    message = message_for(*job, attempt.attempt);
  } catch (const Error& e) {
    fail_job(*job, "internal", "The job could not be sent to a worker: " + e.message(), "");
    return true;
  }
  // The number is taken before it is used: a crash after the XADD leaves a stale entry
  // whose URLs the next attempt's number no longer matches.
  context_.store.put_remote_attempt(attempt);
  {
    std::lock_guard lock(mutex_);
    Outstanding out;
    out.attempt = attempt;
    out.last_event = std::chrono::steady_clock::now();
    outstanding_[job_id] = out;  // a cancel from now on finds it
  }
  std::string entry;
  try {
    leases_.ensure_engine_group(commands_, job->engine);
    entry = leases_.add(commands_, job->engine, message.entry_fields());
  } catch (const Error& e) {
    log::warn("cannot send a job to Redis; it waits in the queue", {{"job_id", job_id}, {"error", e.message()}});
    std::lock_guard lock(mutex_);
    if (outstanding_.erase(job_id) > 0) context_.queue.push(job->engine, job->client, job_id, /*force=*/true);
    return false;
  }
  std::unique_lock lock(mutex_);
  auto it = outstanding_.find(job_id);
  if (it == outstanding_.end()) {
    lock.unlock();  // canceled while it was being sent: take the entry back if nobody has it
    try {
      leases_.withdraw(commands_, job->engine, entry);
    } catch (const Error&) {
      // the cancel mark makes a worker skip it
    }
    return true;
  }
  it->second.attempt.entry_id = entry;
  context_.store.put_remote_attempt(it->second.attempt);
  log::info("job dispatched", {{"job_id", job_id}, {"attempt", attempt.attempt}, {"engine", job->engine},
                               {"entry", entry}, {"request_id", job->request_id}});
  return true;
}

bool RedisDispatcher::cancel(const std::string& job_id) { return stop_outstanding(job_id, false); }

bool RedisDispatcher::stop_outstanding(const std::string& job_id, bool timed_out) {
  Outstanding out;
  {
    std::lock_guard lock(mutex_);
    auto it = outstanding_.find(job_id);
    if (it == outstanding_.end()) return false;
    out = it->second;
    outstanding_.erase(it);
    cancel_marks_.insert(job_id);
  }
  wake_feeder_.notify_all();
  // The worker learns it from the mark within a renewal; an entry nobody took yet goes.
  try {
    commands_.command({"SET", leases_.keys().cancel(job_id), "1", "EX", std::to_string(kCancelMarkSeconds)});
    {
      std::lock_guard lock(mutex_);
      cancel_marks_.erase(job_id);
    }
    if (!out.running && !out.attempt.entry_id.empty())
      leases_.withdraw(commands_, out.attempt.engine, out.attempt.entry_id);
  } catch (const Error& e) {
    log::warn("cancel mark not set yet (Redis unreachable); the watchdog retries",
              {{"job_id", job_id}, {"error", e.message()}});
  }
  auto job = context_.store.get(job_id);
  if (job && !is_final(job->state)) {
    if (timed_out) {
      fail_job(*job, std::string(code_name(ErrorCode::job_timeout)), context_.deadlines.timeout_message(), "");
    } else {
      job->state = JobState::canceled;
      job->error_code = "canceled";
      job->error_message = out.running ? "Canceled while running." : "Canceled before it started.";
      job->finished_ms = now_ms();
      context_.updates.finish(*job);
    }
  }
  log::info(timed_out ? "remote job timed out" : "remote job canceled",
            {{"job_id", job_id}, {"attempt", out.attempt.attempt}, {"running", out.running}});
  return true;
}

void RedisDispatcher::time_out_overdue() {
  const auto limit_ms = static_cast<std::int64_t>(context_.deadlines.limit().count());
  if (limit_ms <= 0) return;
  std::vector<std::string> running;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, out] : outstanding_)
      if (out.running) running.push_back(id);
  }
  const std::int64_t now = now_ms();
  for (const auto& id : running) {
    auto job = context_.store.get(id);
    // Counted from this attempt's start, as for a local run (a run taken over starts anew).
    if (job && job->state == JobState::running && job->started_ms > 0 && now - job->started_ms > limit_ms)
      stop_outstanding(id, true);
  }
}

void RedisDispatcher::fail_job(JobRecord& job, const std::string& code, const std::string& message,
                               const std::string& field) {
  job.state = code == "canceled" ? JobState::canceled : JobState::failed;
  job.error_code = code;
  job.error_message = message;
  job.error_field = field;
  job.finished_ms = now_ms();
  if (job.started_ms > 0)
    context_.updates.observe_run(job, static_cast<double>(job.finished_ms - job.started_ms) / 1000.0, {});
  context_.updates.finish(job);
  log::info("job finished", {{"job_id", job.id}, {"status", state_name(job.state)}, {"remote", true},
                             {"error", {{"code", code}, {"message", message}}}});
}

void RedisDispatcher::watch_loop(std::stop_token stop) {
  bool reported = false;
  while (!stop.stop_requested()) {
    try {
      auto workers = WorkerRegistry::read(commands_, leases_.keys());
      std::vector<std::string> marks;
      std::set<std::string> engines(engines_.begin(), engines_.end());
      {
        std::lock_guard lock(mutex_);
        workers_ = std::move(workers);
        marks.assign(cancel_marks_.begin(), cancel_marks_.end());
        for (const auto& [id, out] : outstanding_) engines.insert(out.attempt.engine);
      }
      redis_up_ = true;
      wake_feeder_.notify_all();
      for (const auto& id : marks) {
        commands_.command({"SET", leases_.keys().cancel(id), "1", "EX", std::to_string(kCancelMarkSeconds)});
        std::lock_guard lock(mutex_);
        cancel_marks_.erase(id);
      }
      for (const auto& engine : engines) leases_.reap_dead(commands_, engine, config_.lease);
      check_lost_writes(commands_);
      time_out_overdue();
      refresh_metrics(commands_);
      if (reported) log::info("Redis reachable again", {{"redis", config_.redis.display()}});
      reported = false;
    } catch (const RedisUnavailable& e) {
      redis_up_ = false;
      if (!reported) log::warn("Redis unreachable; remote jobs wait", {{"error", e.message()}});
      reported = true;
    } catch (const RedisReplyError& e) {
      // NOGROUP after Redis lost its data: make the groups again, then carry on.
      log::warn("Redis refused a command; making the groups again", {{"error", e.message()}});
      try {
        for (const auto& engine : engines_) leases_.ensure_engine_group(commands_, engine);
        leases_.ensure_events_group(commands_);
      } catch (const Error&) {
      }
    }
    sleep_unless(stop, kWatchEvery);
  }
}

void RedisDispatcher::check_lost_writes(RedisConnection& redis) {
  auto now = std::chrono::steady_clock::now();
  std::vector<RemoteAttempt> quiet;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, out] : outstanding_)
      if (!out.receiving && now - out.last_event > config_.lease) quiet.push_back(out.attempt);
  }
  for (const RemoteAttempt& a : quiet) {
    bool present = !a.entry_id.empty() && leases_.exists(redis, a.engine, a.entry_id);
    std::unique_lock lock(mutex_);
    auto it = outstanding_.find(a.job_id);
    if (it == outstanding_.end() || it->second.attempt.attempt != a.attempt) continue;
    if (present || !it->second.missing_once) {
      // Still waiting or running, or missing for the first time (a dead-lettered entry is
      // gone too, and its event may not have been read yet): look again in a lease.
      it->second.missing_once = !present;
      it->second.last_event = now;
      continue;
    }
    // Redis has no entry for it (a write lost with a crash, or its data gone): the job goes
    // out again as a new attempt; whatever still runs the old one is refused from now on.
    outstanding_.erase(it);
    lock.unlock();
    auto job = context_.store.get(a.job_id);
    if (!job || is_final(job->state)) continue;
    if (job->state == JobState::running) context_.updates.requeued(*job, false);
    context_.queue.push(job->engine, job->client, job->id, /*force=*/true);
    ++redispatched_;
    log::warn("Redis lost a dispatched job; it goes out again as a new attempt",
              {{"job_id", a.job_id}, {"attempt", a.attempt}, {"entry", a.entry_id}});
    wake_feeder_.notify_all();
  }
}

void RedisDispatcher::refresh_metrics(RedisConnection& redis) {
  const RedisKeys& keys = leases_.keys();
  std::vector<std::vector<std::string>> commands;
  for (const auto& engine : engines_) {
    commands.push_back({"XLEN", keys.jobs(engine)});
    commands.push_back({"XPENDING", keys.jobs(engine), kWorkersGroup});
  }
  commands.push_back({"XLEN", keys.dead()});
  commands.push_back({"HGETALL", keys.stats()});
  auto replies = redis.pipeline(commands);
  RemoteMetrics m;
  m.redis_up = true;
  std::size_t i = 0;
  for (const auto& engine : engines_) {
    m.streams[engine].length = replies[i++].as_integer();
    const RedisReply& pending = replies[i++];
    m.streams[engine].pending = pending.size() > 0 ? pending[0].as_integer() : 0;
  }
  m.dead_letters = replies[i++].as_integer();
  const RedisReply& stats = replies[i];
  m.takeovers_total = std::atoll(field_value(stats, "takeovers").value_or("0").c_str());
  m.dead_letters_total = std::atoll(field_value(stats, "dead_letters").value_or("0").c_str());
  std::lock_guard lock(mutex_);
  for (const auto& w : workers_) {
    ++m.workers_alive;
    m.slots += w.accepting ? w.slots : 0;
    for (const auto& e : w.engines)  // names a worker sent: only this server's reach the labels
      if (std::find(engines_.begin(), engines_.end(), e) != engines_.end()) ++m.workers_by_engine[e];
  }
  metrics_ = std::move(m);
}

RemoteMetrics RedisDispatcher::metrics() const {
  std::lock_guard lock(mutex_);
  RemoteMetrics m = metrics_;
  m.redis_up = redis_up_;
  m.outstanding = static_cast<int>(outstanding_.size());
  m.events_applied = events_applied_;
  m.events_dropped = events_dropped_;
  m.redispatched = redispatched_;
  return m;
}

nlohmann::json RedisDispatcher::workers_json() const {
  nlohmann::json list = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    for (const auto& w : workers_) list.push_back(w.heartbeat);
  }
  return {{"success", true},
          {"workers", list},
          {"redis", {{"url", config_.redis.display()}, {"prefix", config_.prefix}, {"up", redis_up_.load()}}}};
}

}  // namespace sonic::jobs::remote
