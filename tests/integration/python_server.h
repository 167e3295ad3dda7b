// tests/support/test_http_server.py as a child process: a real HTTP server on loopback
// (a file server with redirect/stall/size routes, or a webhook receiver that verifies
// Standard Webhooks signatures with Python's own hmac), its port read back from a port
// file, its requests read back from its JSON-lines log. Stopped (SIGTERM) when the object
// dies. Run by Debian's /usr/bin/python3.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/test_media.h"

namespace sonic::test {

class PythonServer {
 public:
  // `args`: the mode ("files" | "webhook") and its options; --port-file and --log are added.
  explicit PythonServer(std::vector<std::string> args) : args_(std::move(args)) { start(); }
  ~PythonServer() { stop(); }
  PythonServer(const PythonServer&) = delete;
  PythonServer& operator=(const PythonServer&) = delete;

  void start() {
    std::filesystem::remove(temp_ / "port");
    std::vector<std::string> argv_text = {"/usr/bin/python3", (source_dir() / "tests/support/test_http_server.py").string()};
    argv_text.insert(argv_text.end(), args_.begin(), args_.end());
    argv_text.insert(argv_text.end(), {"--port-file", (temp_ / "port").string(), "--log", log_path().string()});
    if (port_ > 0) argv_text.insert(argv_text.end(), {"--port", std::to_string(port_)});
    std::string out = (temp_ / "stderr.txt").string();
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(out.c_str(), "a", stderr);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(temp_ / "port");
      int port = 0;
      if (in >> port && port > 0) {
        port_ = port;
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "test server exited at start: " << read_file(temp_ / "stderr.txt");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "test server did not start";
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Starts again on the same port with other arguments (the same log file).
  void restart(std::vector<std::string> args) {
    stop();
    args_ = std::move(args);
    start();
  }

  int port() const { return port_; }
  std::filesystem::path log_path() const { return temp_ / "requests.jsonl"; }

  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_path());
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
    return out;
  }

  // Waits until `done(requests())` or the patience runs out; returns the last requests().
  std::vector<nlohmann::json> wait_for(const std::function<bool(const std::vector<nlohmann::json>&)>& done,
                                       std::chrono::seconds patience = std::chrono::seconds(60)) const {
    auto deadline = std::chrono::steady_clock::now() + patience;
    auto seen = requests();
    while (!done(seen) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      seen = requests();
    }
    return seen;
  }

 private:
  TempDir temp_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace sonic::test
