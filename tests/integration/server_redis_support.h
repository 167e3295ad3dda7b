// The pieces of a scale-out deployment for the server_redis_* tests, each a real process:
// redis-server (support/redis_process.h), the API server with --redis (ServerProcess), and
// `sonic-server worker` processes (WorkerProcess) that a test can stop, kill -9, pause
// (SIGSTOP) and resume. Leases are short (2 s) and heartbeats quick, so every scenario
// stays well under 30 s. Plus helpers to submit jobs, read the workers list and wait for
// an observable condition (bounded in time; a test fails with what it saw).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_process.h"
#include "support/redis_process.h"

namespace sonic::test {

inline constexpr int kLeaseSeconds = 2;

// Arguments for `serve` that dispatch to `redis`.
inline std::vector<std::string> redis_server_args(const RedisProcess& redis, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--redis", redis.url(), "--lease-s", std::to_string(kLeaseSeconds)};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class WorkerProcess {
 public:
  WorkerProcess(const RedisProcess& redis, const ServerProcess& server, std::vector<std::string> extra = {}) {
    args_ = {sonic_binary().string(), "worker",     "--redis",      redis.url(),
             "--server",              server.base_url(), "--lease-s", std::to_string(kLeaseSeconds),
             "--heartbeat-s",         "0.5",        "--work-dir",   (temp_ / "work").string(),
             "--log-level",           "info"};
    args_.insert(args_.end(), extra.begin(), extra.end());
    start();
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      if (paused_) resume();
      int code = stop();
      EXPECT_EQ(code, 0) << "worker exit status; log:\n" << log_tail();
    }
    expect_no_sanitizer_report(log_text());
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  void start() { pid_ = spawn_logged(args_, temp_ / "worker.log"); }
  // SIGTERM and wait; the exit status (-1 when it had to be killed).
  int stop(std::chrono::seconds patience = std::chrono::seconds(60)) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    return reap(patience);
  }
  void kill9() {
    if (pid_ <= 0) return;
    if (paused_) resume();
    ::kill(pid_, SIGKILL);
    reap(std::chrono::seconds(30));
    exit_code_ = -1;
  }
  void pause() {
    if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0) paused_ = true;
  }
  void resume() {
    if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0) paused_ = false;
  }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  std::string log_text() const { return read_file(temp_ / "worker.log"); }
  std::string log_tail(std::size_t bytes = 6000) const { return tail_of(log_text(), bytes); }
  // Log lines (JSON) whose "msg" is `message` and, when given, whose job_id is `job_id`.
  std::vector<json> log_lines(const std::string& message, const std::string& job_id = {}) const {
    std::vector<json> out;
    std::string text = log_text();
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      json line = json::parse(text.substr(pos, end - pos), nullptr, false);
      pos = end + 1;
      if (!line.is_object() || line.value("msg", "") != message) continue;
      if (!job_id.empty() && line.value("job_id", "") != job_id) continue;
      out.push_back(line);
    }
    return out;
  }

 private:
  int reap(std::chrono::seconds patience) {
    exit_code_ = reap_child(pid_, patience);
    pid_ = -1;
    return exit_code_;
  }

  TempDir temp_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool paused_ = false;
};

// Polls `condition` every 50 ms until it holds or `patience` passes; true when it held.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// A new job (202), its id; fails the test otherwise.
inline std::string submit_async(httplib::Client& c, const httplib::MultipartFormDataItems& items) {
  auto r = c.Post("/api/sonic/generate", httplib::Headers{{"Prefer", "respond-async"}}, items);
  if (!r || (r->status != 202 && r->status != 200)) {
    ADD_FAILURE() << "submit failed: " << (r ? r->body : httplib::to_string(r.error()));
    return {};
  }
  return body_json(r).value("job_id", "");
}

inline json get_job(httplib::Client& c, const std::string& id) { return body_json(c.Get("/api/jobs/" + id)); }

inline json workers_list(httplib::Client& c) {
  json j = body_json(c.Get("/api/workers"));
  return j.is_object() && j.contains("workers") ? j["workers"] : json::array();
}

// The pids of the workers whose heartbeats list `job_id` among their jobs (a worker that
// was just killed or stopped may still be listed until its heartbeat expires).
inline std::vector<pid_t> workers_running(httplib::Client& c, const std::string& job_id) {
  std::vector<pid_t> out;
  for (const auto& w : workers_list(c))
    for (const auto& j : w.value("jobs", json::array()))
      if (j.value("job_id", "") == job_id) out.push_back(w.value("pid", 0));
  return out;
}
inline pid_t worker_running(httplib::Client& c, const std::string& job_id) {
  auto pids = workers_running(c, job_id);
  return pids.empty() ? 0 : pids.front();
}

// A job long enough to be caught running and to outlive several 2 s leases: the 7 s
// recording at a large size and frame rate (about 5–17 s on the 2-core test machines in a
// release build, depending on the CPU and the load; smaller under the sanitizers, which run
// it several times slower).
// `duration_s` > 0: that long instead of the recording's 7.1 s (the rest silent).
inline httplib::MultipartFormDataItems long_job(int seed = 0, double duration_s = 0) {
#if defined(__SANITIZE_ADDRESS__)
  json config = {{"min_resolution", 512}, {"fps", 30}, {"seed", seed}};  // 384 px at 25 fps once ran 5 s: too short
#else
  json config = {{"min_resolution", 1024}, {"fps", 60}, {"seed", seed}};
#endif
  if (duration_s > 0) config["duration"] = duration_s;
  return {file_part("image", fixture("portrait.png"), "image/png"),
          file_part("audio", fixture("speech_en_7s.wav"), "audio/wav"), text_part("config", config.dump())};
}

// The metric's value in /metrics text (first series of that name), or -1.
inline double metric_value(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  if (!r) return -1;
  std::regex line("(^|\n)" + name + "(\\{[^}]*\\})? ([0-9.e+-]+)");
  std::smatch m;
  if (!std::regex_search(r->body, m, line)) return -1;
  return std::stod(m[3]);
}

// The videos in a folder (outputs/: one per succeeded job, never two).
inline std::size_t mp4_count(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.path().extension() == ".mp4" ? 1 : 0;
  return n;
}

// How many entries of `stream` are pending for `group` (0 when the stream or group is gone).
inline long long pending_count(RedisProcess& redis, const std::string& stream, const std::string& group) {
  try {
    auto r = redis.command({"XPENDING", stream, group});
    return r.size() > 0 ? r[0].as_integer() : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace sonic::test
