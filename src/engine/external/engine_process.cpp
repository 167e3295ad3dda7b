// EngineProcess: the I/O thread's loop and the job threads' side (see engine_process.h).
#include "engine/external/engine_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "util/error.h"
#include "util/log.h"

namespace sonic::engine::external {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMaxStderrLine = 8192;
// A process that stayed ready this long has earned a fresh back-off after its next crash.
constexpr auto kStableAfter = 60s;
// After stdout closes, the process gets this long to exit by itself before it is killed.
constexpr auto kExitGrace = 2s;
constexpr auto kShutdownGrace = 5s;
constexpr auto kTermGrace = 2s;

double seconds(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }

Error job_error(const std::string& engine, const ErrorMessage& e) {
  std::string message =
      e.message.empty() ? fmt::format("The engine '{}' failed without saying why.", engine) : e.message;
  // Codes that describe a job's own failure; anything else (a transport code, a typo) is
  // reported as the engine failing.
  static constexpr ErrorCode kJobCodes[] = {ErrorCode::no_face,         ErrorCode::invalid_param,
                                            ErrorCode::unreadable_media, ErrorCode::audio_too_long,
                                            ErrorCode::job_too_large,    ErrorCode::canceled,
                                            ErrorCode::engine_failed};
  auto code = parse_code(e.code);
  if (!code || std::find(std::begin(kJobCodes), std::end(kJobCodes), *code) == std::end(kJobCodes))
    code = ErrorCode::engine_failed;
  if (*code == ErrorCode::canceled) return Error(ErrorCode::canceled, "The job was canceled.");
  return Error(*code, message, e.field);
}

}  // namespace

EngineProcess::EngineProcess(EngineProcessSettings settings) : settings_(std::move(settings)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw Error(ErrorCode::internal, "Cannot create the engine supervisor's wake pipe.");
  wake_read_.reset(fds[0]);
  wake_write_.reset(fds[1]);
  next_spawn_ = Clock::now();
  io_thread_ = std::thread([this] { io_loop(); });
}

EngineProcess::~EngineProcess() { stop(); }

void EngineProcess::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  wake();
  changed_.notify_all();
  if (io_thread_.joinable()) io_thread_.join();
}

void EngineProcess::wake() {
  char byte = 1;
  [[maybe_unused]] auto n = ::write(wake_write_.get(), &byte, 1);  // a full pipe is already awake
}

void EngineProcess::send(std::string line) {
  outbox_ += line;
  wake();
}

void EngineProcess::kill_and_wait(std::unique_lock<std::mutex>& lock, const std::string& reason) {
  const int pid = pid_;
  if (pid == 0 || state_ != EngineState::ready) return;  // already dead or restarting
  if (kill_reason_.empty()) kill_reason_ = reason;
  wake();
  changed_.wait_for(lock, std::chrono::seconds(10), [&] { return pid_ != pid || stop_requested_; });
}

EngineProcessStatus EngineProcess::status() const {
  std::lock_guard lock(mutex_);
  EngineProcessStatus s;
  s.state = state_;
  s.reason = reason_;
  s.ready = ready_;
  s.start_failed = start_failed_;
  s.restarts = restarts_;
  s.pid = pid_;
  if (state_ == EngineState::crashed)
    s.restart_in_s = std::max(0.0, std::chrono::duration<double>(restart_at_ - Clock::now()).count());
  s.jobs_succeeded = jobs_succeeded_;
  s.jobs_failed = jobs_failed_;
  s.last_device = last_device_;
  s.memory_kind = memory_kind_;
  s.last_peak_memory_bytes = last_peak_memory_;
  s.max_peak_memory_bytes = max_peak_memory_;
  return s;
}

// ---- I/O thread ----

void EngineProcess::spawn_child() {
  stdout_lines_ = std::make_unique<LineSplitter>(kMaxLineBytes);
  stderr_lines_ = std::make_unique<LineSplitter>(kMaxStderrLine);
  stdout_closed_ = false;
  pending_write_.clear();
  try {
    child_ = std::make_unique<ChildProcess>(settings_.spawn);
  } catch (const Error& e) {
    child_.reset();
    {
      std::lock_guard lock(mutex_);
      state_ = EngineState::starting;  // fail_child's bookkeeping expects a start attempt
    }
    fail_child(e.message());
    return;
  }
  ready_deadline_ = Clock::now() + settings_.ready_timeout;
  std::lock_guard lock(mutex_);
  state_ = EngineState::starting;
  pid_ = child_->pid();
  outbox_.clear();  // lines meant for a dead process mean nothing to a new one
  kill_reason_.clear();
  log::info("engine starting", {{"engine", settings_.name}, {"pid", pid_}, {"command", settings_.spawn.argv}});
}

void EngineProcess::io_loop() {
  std::vector<char> buffer(65536);
  for (;;) {
    bool stop_now;
    std::string kill_reason;
    {
      std::lock_guard lock(mutex_);
      stop_now = stop_requested_;
      kill_reason.swap(kill_reason_);
      if (child_ && pending_write_.empty()) pending_write_.swap(outbox_);
    }
    if (stop_now) break;
    if (child_ && !kill_reason.empty()) fail_child(kill_reason);
    auto now = Clock::now();
    if (!child_ && now >= next_spawn_) spawn_child();

    // How long poll may sleep: until the next deadline, and never long (a job thread's
    // requests arrive through the wake pipe; the cap bounds a missed edge case).
    auto until = now + 250ms;
    bool starting;
    {
      std::lock_guard lock(mutex_);
      starting = state_ == EngineState::starting;
    }
    if (!child_) until = std::min(until, next_spawn_);
    else if (starting) until = std::min(until, ready_deadline_);
    if (child_ && stdout_closed_) until = std::min(until, stdout_closed_at_ + kExitGrace);
    int timeout_ms = static_cast<int>(std::max<long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1));

    pollfd fds[4];
    int n = 0;
    fds[n++] = {wake_read_.get(), POLLIN, 0};
    int out_i = -1, err_i = -1, in_i = -1;
    if (child_) {
      if (child_->stdout_fd() >= 0) fds[out_i = n++] = {child_->stdout_fd(), POLLIN, 0};
      if (child_->stderr_fd() >= 0) fds[err_i = n++] = {child_->stderr_fd(), POLLIN, 0};
      if (!pending_write_.empty() && child_->stdin_fd() >= 0) fds[in_i = n++] = {child_->stdin_fd(), POLLOUT, 0};
    }
    int ready = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      log::error("engine supervisor poll failed", {{"engine", settings_.name}, {"errno", errno}});
      std::this_thread::sleep_for(100ms);  // not a synchronisation: avoids a hot loop on a broken poll
      continue;
    }
    if (fds[0].revents & POLLIN) {
      char sink[64];
      while (::read(wake_read_.get(), sink, sizeof sink) > 0) {
      }
    }
    if (child_ && err_i >= 0 && fds[err_i].revents) drain_stderr(false);
    if (child_ && out_i >= 0 && fds[out_i].revents) {
      for (;;) {
        ssize_t got = ::read(child_->stdout_fd(), buffer.data(), buffer.size());
        if (got > 0) {
          std::vector<std::string> lines;
          bool within = stdout_lines_->feed(buffer.data(), static_cast<std::size_t>(got), lines);
          for (const auto& line : lines) {
            if (!child_) break;
            if (!within && &line == &lines.back()) break;  // the over-long one
            handle_line(line);
          }
          if (child_ && !within) {
            fail_child(fmt::format("sent a line over {} bytes on stdout (flooding the protocol stream)", kMaxLineBytes));
          }
          if (!child_) break;
          continue;
        }
        if (got == 0) {
          stdout_closed_ = true;
          stdout_closed_at_ = Clock::now();
          child_->close_stdout();
          break;
        }
        if (errno == EINTR) continue;
        break;  // EAGAIN
      }
    }
    if (child_ && in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t wrote = ::write(child_->stdin_fd(), pending_write_.data(), pending_write_.size());
      if (wrote > 0) pending_write_.erase(0, static_cast<std::size_t>(wrote));
      else if (wrote < 0 && errno != EAGAIN && errno != EINTR) pending_write_.clear();  // EPIPE: it is exiting
    }
    if (!child_) continue;

    // Exit, end of stdout, ready deadline.
    if (auto status = child_->try_reap()) {
      fail_child(fmt::format("{}", describe_wait_status(*status)));
      continue;
    }
    now = Clock::now();
    if (stdout_closed_ && now >= stdout_closed_at_ + kExitGrace) {
      fail_child("closed its stdout");
      continue;
    }
    {
      std::unique_lock lock(mutex_);
      if (state_ == EngineState::starting && now >= ready_deadline_) {
        lock.unlock();
        fail_child(fmt::format("did not send 'ready' within {:g} s", seconds(settings_.ready_timeout)));
      }
    }
  }
  shutdown_child();
}

void EngineProcess::drain_stderr(bool final) {
  if (!child_ || child_->stderr_fd() < 0) return;
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(child_->stderr_fd(), buffer, sizeof buffer);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      break;
    }
    std::vector<std::string> lines;
    stderr_lines_->feed(buffer, static_cast<std::size_t>(got), lines);
    for (const auto& line : lines)
      if (!line.empty()) log::info("engine stderr", {{"engine", settings_.name}, {"pid", child_->pid()}, {"line", line}});
  }
  if (final) {
    std::string rest = stderr_lines_->take_rest();
    if (!rest.empty()) log::info("engine stderr", {{"engine", settings_.name}, {"pid", child_->pid()}, {"line", rest}});
  }
}

void EngineProcess::handle_line(const std::string& line) {
  if (line.empty()) return;
  EngineMessage message;
  try {
    message = parse_engine_message(line);
  } catch (const ProtocolViolation& v) {
    fail_child(v.what());
    return;
  }
  std::unique_lock lock(mutex_);
  if (auto* ready = std::get_if<ReadyMessage>(&message)) {
    if (state_ != EngineState::starting) {
      lock.unlock();
      fail_child("sent 'ready' twice");
      return;
    }
    state_ = EngineState::ready;
    reason_.clear();
    ready_ = *ready;
    ready_since_ = Clock::now();
    start_failed_ = false;
    log::info("engine ready", {{"engine", settings_.name}, {"pid", pid_}, {"version", ready->version},
                               {"device", ready->device}, {"protocol", ready->protocol},
                               {"max_concurrent_jobs", ready->max_concurrent_jobs}});
    changed_.notify_all();
    return;
  }
  if (state_ != EngineState::ready) {
    lock.unlock();
    fail_child("sent a job message before 'ready'");
    return;
  }
  std::string job = std::visit(
      [](const auto& m) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, ReadyMessage>) return {};
        else return m.job;
      },
      message);
  auto it = jobs_.find(job);
  if (it == jobs_.end()) {
    log::debug("engine message for no running job", {{"engine", settings_.name}, {"job", excerpt(job, 40)}});
    return;
  }
  it->second.last_message = Clock::now();
  // "Work done" is progress past zero: an engine may announce a stage before it starts it.
  if (auto* p = std::get_if<ProgressMessage>(&message); p && p->fraction > 0) it->second.progressed = true;
  it->second.inbox.push_back(std::move(message));
  changed_.notify_all();
}

void EngineProcess::fail_child(const std::string& reason, bool is_error) {
  int status = 0;
  int pid = child_ ? child_->pid() : 0;
  if (child_) {
    status = child_->kill_and_reap();  // the whole group; the child is reaped here
    drain_stderr(true);                // a traceback is usually the last thing it wrote
    child_.reset();
  }
  (void)status;
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  bool was_ready = state_ == EngineState::ready;
  if (was_ready && now - ready_since_ >= kStableAfter) consecutive_failures_ = 0;
  ++consecutive_failures_;
  auto backoff = settings_.backoff_min * (1LL << std::min(consecutive_failures_ - 1, 16));
  backoff = std::min<std::chrono::milliseconds>(backoff, settings_.backoff_max);
  next_spawn_ = now + backoff;
  restart_at_ = next_spawn_;
  state_ = EngineState::crashed;
  reason_ = reason;
  if (!was_ready) {
    start_failed_ = true;
    ++start_failures_;
  }
  ++restarts_;
  pid_ = 0;
  for (auto& [id, job] : jobs_) {
    job.died = true;
    job.died_reason = reason;
  }
  outbox_.clear();
  (is_error ? log::error : log::warn)(
      was_ready ? "engine crashed" : "engine refused",
      {{"engine", settings_.name}, {"pid", pid}, {"reason", reason}, {"restart_in_s", seconds(backoff)}});
  changed_.notify_all();
}

void EngineProcess::shutdown_child() {
  if (child_) {
    // shutdown message, end of input, then the signals, each after a grace period; stderr
    // keeps being logged meanwhile.
    std::string line = shutdown_line();
    [[maybe_unused]] auto n = ::write(child_->stdin_fd(), line.data(), line.size());
    child_->close_stdin();
    auto wait_exit = [&](std::chrono::milliseconds grace) {
      auto deadline = Clock::now() + grace;
      while (Clock::now() < deadline) {
        if (child_->try_reap()) return true;
        pollfd fds[2];
        int n_fds = 0;
        if (child_->stderr_fd() >= 0) fds[n_fds++] = {child_->stderr_fd(), POLLIN, 0};
        if (child_->stdout_fd() >= 0 && !stdout_closed_) fds[n_fds++] = {child_->stdout_fd(), POLLIN, 0};
        ::poll(fds, static_cast<nfds_t>(n_fds), 50);
        drain_stderr(false);
        if (!stdout_closed_ && child_->stdout_fd() >= 0) {
          char sink[4096];
          ssize_t got = ::read(child_->stdout_fd(), sink, sizeof sink);
          if (got == 0) stdout_closed_ = true;
        }
      }
      return child_->try_reap().has_value();
    };
    bool exited = wait_exit(kShutdownGrace);
    if (!exited) {
      child_->signal_group(SIGTERM);
      exited = wait_exit(kTermGrace);
    }
    int status = child_->kill_and_reap();  // also ends anything left in its group
    drain_stderr(true);
    log::info("engine stopped", {{"engine", settings_.name}, {"pid", child_->pid()},
                                 {"exit", describe_wait_status(status)}, {"graceful", exited}});
    child_.reset();
  }
  std::lock_guard lock(mutex_);
  state_ = EngineState::stopped;
  reason_ = "the server is stopping";
  pid_ = 0;
  for (auto& [id, job] : jobs_) {
    job.died = true;
    job.died_reason = reason_;
  }
  changed_.notify_all();
}

// ---- job threads ----

void EngineProcess::wait_until_ready(std::unique_lock<std::mutex>& lock, const CancelToken& cancel) {
  if (state_ == EngineState::crashed && start_failed_)
    throw Error(ErrorCode::engine_unavailable,
                fmt::format("The engine '{}' is not running: it {}. It is retried in the background.", settings_.name,
                            reason_));
  const int failures_before = start_failures_;
  const auto deadline = Clock::now() + settings_.ready_timeout + settings_.backoff_max + 5s;
  for (;;) {
    if (stop_requested_ || state_ == EngineState::stopped)
      throw Error(ErrorCode::shutting_down, "The server is shutting down; try again in a moment.");
    if (state_ == EngineState::ready && active_jobs_ < std::min(settings_.slots, ready_ ? ready_->max_concurrent_jobs : 1))
      return;
    if (start_failures_ != failures_before)
      throw Error(ErrorCode::engine_unavailable,
                  fmt::format("The engine '{}' could not be started: it {}.", settings_.name, reason_));
    if (cancel.canceled()) throw Error(ErrorCode::canceled, "The job was canceled.");
    if (Clock::now() >= deadline)
      throw Error(ErrorCode::engine_unavailable, fmt::format("The engine '{}' did not become ready.", settings_.name));
    changed_.wait_for(lock, 50ms);
  }
}

DoneMessage EngineProcess::run_job(const std::string& job_id, const nlohmann::json& fields,
                                   const JobProgress& progress, const CancelToken& cancel) {
  std::unique_lock lock(mutex_);
  for (int attempt = 1;; ++attempt) {
    wait_until_ready(lock, cancel);
    ++active_jobs_;
    JobChannel& channel = jobs_[job_id];
    channel = JobChannel{};
    channel.last_message = Clock::now();
    send(job_line(job_id, fields));
    // Leaves the channel and the slot on every way out of this attempt.
    struct Leave {
      EngineProcess& self;
      const std::string& id;
      ~Leave() {
        self.jobs_.erase(id);
        --self.active_jobs_;
        self.changed_.notify_all();
      }
    } leave{*this, job_id};
    bool cancel_sent = false;
    Clock::time_point cancel_deadline;
    bool retry = false;
    while (!retry) {
      changed_.wait_for(lock, 50ms);
      while (!channel.inbox.empty()) {
        EngineMessage message = std::move(channel.inbox.front());
        channel.inbox.pop_front();
        if (auto* p = std::get_if<ProgressMessage>(&message)) {
          if (progress && !cancel_sent) {
            lock.unlock();
            try {
              progress(*p);
            } catch (...) {
              lock.lock();  // the channel is left under the lock
              throw;
            }
            lock.lock();
          }
        } else if (auto* d = std::get_if<DoneMessage>(&message)) {
          if (cancel_sent) throw Error(ErrorCode::canceled, "The job was canceled.");
          ++jobs_succeeded_;
          consecutive_failures_ = 0;
          if (!d->device.empty()) last_device_ = d->device;
          memory_kind_ = d->memory_kind;
          last_peak_memory_ = d->peak_memory_bytes;
          if (d->peak_memory_bytes) max_peak_memory_ = std::max(max_peak_memory_, *d->peak_memory_bytes);
          return *d;
        } else if (auto* e = std::get_if<ErrorMessage>(&message)) {
          if (e->code != "canceled") ++jobs_failed_;
          throw job_error(settings_.name, *e);
        }
      }
      auto now = Clock::now();
      if (channel.died) {
        if (cancel_sent) throw Error(ErrorCode::canceled, "The job was canceled.");
        if (stop_requested_ || state_ == EngineState::stopped)
          throw Error(ErrorCode::shutting_down, "The server is shutting down; the job will run again after it restarts.");
        if (!channel.progressed && attempt == 1) {
          log::warn("engine died before the job started; sending it again",
                    {{"engine", settings_.name}, {"job_id", job_id}, {"reason", channel.died_reason}});
          retry = true;
          break;
        }
        ++jobs_failed_;
        throw Error(ErrorCode::engine_failed,
                    fmt::format("The engine '{}' stopped while running this job (it {}); it is being restarted. "
                                "Try again.",
                                settings_.name, channel.died_reason));
      }
      if (cancel.canceled() && !cancel_sent) {
        send(cancel_line(job_id));
        cancel_sent = true;
        cancel_deadline = now + settings_.cancel_timeout;
      }
      if (cancel_sent && now >= cancel_deadline) {
        kill_and_wait(lock, fmt::format("did not honour a cancel within {:g} s", seconds(settings_.cancel_timeout)));
        throw Error(ErrorCode::canceled, "The job was canceled.");
      }
      if (!cancel_sent && now - channel.last_message >= settings_.stall_timeout) {
        kill_and_wait(lock, fmt::format("sent nothing for {:g} s during a job", seconds(settings_.stall_timeout)));
        ++jobs_failed_;
        throw Error(ErrorCode::engine_failed,
                    fmt::format("The engine '{}' sent nothing for {:g} s while running this job; it was stopped and "
                                "is being restarted. Try again.",
                                settings_.name, seconds(settings_.stall_timeout)));
      }
    }
  }
}

}  // namespace sonic::engine::external
