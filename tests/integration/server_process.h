// The real `sonic-server serve` as a child process for integration tests: started on a
// free port (--port 0, the port read back from --port-file) with its own temporary data
// dir, stopped (SIGTERM, then SIGKILL) and cleaned when the object dies. Plus small HTTP
// helpers: multipart generate requests, an SSE reader, a job poller.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/test_media.h"

namespace sonic::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Forks and runs `args` (argv[0] a path) with stdout and stderr appended to `log`; the pid.
inline pid_t spawn_logged(std::vector<std::string> args, const std::filesystem::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "a", stderr);
    (void)f;
    dup2(STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// The last `bytes` of a log, for failure messages.
inline std::string tail_of(const std::string& log, std::size_t bytes = 6000) {
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

// Every process under test must leave a log without a sanitizer report.
inline void expect_no_sanitizer_report(const std::string& log) {
  EXPECT_EQ(log.find("AddressSanitizer"), std::string::npos) << tail_of(log);
  EXPECT_EQ(log.find("runtime error:"), std::string::npos) << tail_of(log);
  EXPECT_EQ(log.find("LeakSanitizer"), std::string::npos) << tail_of(log);
}

// Waits up to `patience` for child `pid` to exit, then kills it (SIGKILL) and waits. Its exit
// status, or -1 when it did not exit on its own (killed, or ended by a signal).
inline int reap_child(pid_t pid, std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

class ServerProcess {
 public:
  // `off`: the per-user limit flags are 0 unless `extra_args` sets them (most suites send many
  // requests from one address on purpose). `server_defaults`: neither flag is passed.
  enum class Limits { off, server_defaults };

  // `data_dir` empty = a folder inside this object's TempDir.
  explicit ServerProcess(std::vector<std::string> extra_args = {}, std::filesystem::path data_dir = {},
                         Limits limits = Limits::off)
      : extra_args_(std::move(extra_args)),
        data_dir_(data_dir.empty() ? temp_ / "data" : data_dir),
        limits_(limits) {
    ::signal(SIGPIPE, SIG_IGN);  // a server that closes early must fail a request, not kill the test
    start();
  }
  // A server still running is stopped with SIGTERM and must exit 0 with a clean log (no
  // sanitizer report), so every test also checks shutdown and memory safety.
  ~ServerProcess() {
    if (pid_ > 0) {
      int code = stop();
      EXPECT_EQ(code, 0) << "server exit status; log:\n" << log_tail();
    }
    expect_no_sanitizer_report(log_text());
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  void start() {
    std::filesystem::remove(temp_ / "port");
    std::vector<std::string> args = {sonic_binary().string(), "serve", "--port", "0", "--data-dir", data_dir_.string(),
                                     "--port-file", (temp_ / "port").string(), "--log-level", "info"};
    // 127.0.0.1 unless the test binds elsewhere (always an address only this machine reaches).
    if (std::find(extra_args_.begin(), extra_args_.end(), "--host") == extra_args_.end())
      args.insert(args.end(), {"--host", "127.0.0.1"});
    // The per-user limits are off unless a test sets them: most suites send many requests
    // from one address on purpose. server_limits_test covers the defaults.
    for (const char* limit : {"--rate-limit-per-min", "--max-active-jobs"})
      if (limits_ == Limits::off && std::find(extra_args_.begin(), extra_args_.end(), limit) == extra_args_.end())
        args.insert(args.end(), {limit, "0"});
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_ = spawn_logged(args, temp_ / "server.log");
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(temp_ / "port");
      if (in >> port_ && port_ > 0) return;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "server exited at start:\n" << log_text();
      }
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "server did not start:\n" << log_text();
  }

  // SIGTERM and wait; returns the exit status (-1 when it had to be killed).
  int stop(std::chrono::seconds patience = 60s) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    exit_code_ = reap_child(pid_, patience);
    pid_ = -1;
    return exit_code_;
  }

  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reap_child(pid_, 30s);
    pid_ = -1;
    exit_code_ = -1;
  }

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::string log_text() const { return read_file(temp_ / "server.log"); }
  std::string log_tail(std::size_t bytes = 6000) const { return tail_of(log_text(), bytes); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_connection_timeout(10);
    c->set_read_timeout(600);
    c->set_write_timeout(60);
    return c;
  }

  // Resident memory of the server in KiB (from /proc).
  long rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    long value = 0;
    while (in >> key) {
      if (key == "VmRSS:") {
        in >> value;
        return value;
      }
    }
    return -1;
  }

 private:
  TempDir temp_;
  std::vector<std::string> extra_args_;
  std::filesystem::path data_dir_;
  Limits limits_ = Limits::off;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

inline httplib::MultipartFormData file_part(const std::string& name, const std::filesystem::path& path,
                                            const std::string& type = "application/octet-stream") {
  return {name, read_file(path), path.filename().string(), type};
}

inline httplib::MultipartFormData text_part(const std::string& name, const std::string& value) {
  return {name, value, "", ""};
}

// The portrait + 5 s speech with a short, small output (fast even under sanitizers).
inline httplib::MultipartFormDataItems quick_job(int seed = 0, double duration = 1.0) {
  return {file_part("image", fixture("portrait.png"), "image/png"),
          file_part("audio", fixture("speech_en_5s.wav"), "audio/wav"),
          text_part("config", json{{"min_resolution", 256}, {"duration", duration}, {"seed", seed}}.dump())};
}

inline json body_json(const httplib::Result& r) {
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

// Polls GET /api/jobs/{id} until the job is final (or the patience runs out).
inline json wait_job(httplib::Client& c, const std::string& id, std::chrono::seconds patience = 600s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  json job;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.Get("/api/jobs/" + id);
    if (r && r->status == 200) {
      job = json::parse(r->body);
      std::string s = job["status"];
      if (s == "succeeded" || s == "failed" || s == "canceled") return job;
    }
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "job " << id << " did not finish: " << job.dump();
  return job;
}

struct SseEvent {
  std::uint64_t id = 0;
  std::string type;
  json data;
};

// Reads an SSE stream to its end; `comments` counts keep-alive lines.
inline std::vector<SseEvent> read_events(httplib::Client& c, const std::string& path, std::uint64_t last_id = 0,
                                         int* comments = nullptr) {
  std::vector<SseEvent> events;
  std::string buffer;
  httplib::Headers headers;
  if (last_id) headers.emplace("Last-Event-ID", std::to_string(last_id));
  auto r = c.Get(path, headers, [&](const char* data, std::size_t size) {
    buffer.append(data, size);
    std::size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string block = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      SseEvent ev;
      bool any = false;
      std::size_t pos = 0;
      while (pos <= block.size()) {
        std::size_t nl = block.find('\n', pos);
        std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.rfind(":", 0) == 0) {
          if (comments) ++*comments;
        } else if (line.rfind("id: ", 0) == 0) {
          ev.id = std::stoull(line.substr(4));
        } else if (line.rfind("event: ", 0) == 0) {
          ev.type = line.substr(7);
          any = true;
        } else if (line.rfind("data: ", 0) == 0) {
          ev.data = json::parse(line.substr(6), nullptr, false);
        }
      }
      if (any) events.push_back(ev);
    }
    return true;
  });
  EXPECT_TRUE(r) << "SSE request failed: " << (r ? "" : httplib::to_string(r.error()));
  return events;
}

}  // namespace sonic::test
