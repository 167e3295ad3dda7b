// A real redis-server for tests: started on a free loopback port with AOF (appendfsync
// everysec, as docs/scaling.md recommends) in its own temporary folder, so a test can shut
// it down, kill -9 it and restart it on the same port and data, or pause it. Stopped and
// removed when the object dies. Commands go through the project's own RedisConnection.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "jobs/remote/redis_connection.h"
#include "support/test_media.h"

namespace sonic::test {

// A port nothing listens on now (the kernel's choice for an ephemeral bind).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

class RedisProcess {
 public:
  RedisProcess() {
    for (int tries = 0; tries < 5 && pid_ <= 0; ++tries) {
      port_ = free_loopback_port();
      if (!start()) port_ = 0;
    }
    if (pid_ <= 0) ADD_FAILURE() << "redis-server did not start:\n" << read_file(dir_ / "redis.log");
  }
  ~RedisProcess() {
    if (pid_ > 0 && paused_) ::kill(pid_, SIGCONT);
    kill9();
  }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts again on the same port with the same AOF (after shutdown() or kill9()).
  bool restart() {
    connection_.reset();
    return start();
  }
  // SHUTDOWN: Redis writes what it has and exits cleanly.
  void shutdown() {
    if (pid_ <= 0) return;
    try {
      connection().command({"SHUTDOWN"});
    } catch (const std::exception&) {
      // the connection closes under the command: that is the answer
    }
    reap(std::chrono::seconds(10));
  }
  // SIGKILL: whatever the AOF had not written (at most about a second) is lost.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reap(std::chrono::seconds(10));
  }
  void pause() {
    if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0) paused_ = true;
  }
  void resume() {
    if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0) paused_ = false;
  }

  jobs::remote::RedisConnection& connection() {
    if (!connection_)
      connection_ = std::make_unique<jobs::remote::RedisConnection>(jobs::remote::parse_redis_url(url()), "test",
                                                                    std::chrono::seconds(5));
    return *connection_;
  }
  jobs::remote::RedisReply command(const std::vector<std::string>& args) { return connection().command(args); }
  long long integer(const std::vector<std::string>& args) { return command(args).as_integer(); }

 private:
  bool start() {
    std::vector<std::string> args = {"/usr/bin/redis-server",
                                      "--port", std::to_string(port_),
                                      "--bind", "127.0.0.1",
                                      "--dir", dir_.path().string(),
                                      "--appendonly", "yes",
                                      "--appendfsync", "everysec",
                                      "--save", "",
                                      "--daemonize", "no",
                                      "--logfile", (dir_ / "redis.log").string()};
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      try {
        if (connection().command({"PING"}).text() == "PONG") return true;
      } catch (const std::exception&) {
        connection_.reset();  // still loading or not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void reap(std::chrono::seconds patience) {
    connection_.reset();
    auto deadline = std::chrono::steady_clock::now() + patience;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
  std::unique_ptr<jobs::remote::RedisConnection> connection_;
};

}  // namespace sonic::test
