// Shared by the benchmarks that drive the real `sonic-server serve` (soak_bench,
// cache_hit_bench, server_load_bench): the server as a child process on a free port with a temporary data
// dir (extra flags and environment variables, e.g. MALLOC_ARENA_MAX or LD_PRELOAD, for
// comparing allocators), its resident memory, and a keep-alive HTTP/1.1 client on plain
// POSIX sockets so the figures are the server's, not a client library's.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sonic::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The sonic-server next to this build's bench/ folder, or $SONIC_BINARY.
inline fs::path default_binary() {
  if (const char* env = std::getenv("SONIC_BINARY")) return env;
  return fs::canonical("/proc/self/exe").parent_path().parent_path() / "sonic-server";
}

// $SONIC_FIXTURES, else shared/fixtures beside the source tree (build/<preset>/bench/x).
inline fs::path fixtures_dir() {
  if (const char* env = std::getenv("SONIC_FIXTURES")) return env;
  return fs::canonical("/proc/self/exe").parent_path() / ".." / ".." / ".." / ".." / "shared" / "fixtures";
}

class ServerChild {
 public:
  // Starts `binary serve` with `args` added and `env` (NAME=value) set; waits for its port.
  ServerChild(const fs::path& binary, const std::vector<std::string>& args, const std::vector<std::string>& env = {})
      : temp_(fs::temp_directory_path() / ("sonic-bench-" + std::to_string(std::random_device{}()))) {
    fs::create_directories(temp_);
    std::vector<std::string> argv = {binary.string(), "serve", "--port", "0", "--data-dir", (temp_ / "data").string(),
                                     "--port-file", (temp_ / "port").string(), "--log-level", "warn",
                                     "--rate-limit-per-min", "0", "--max-active-jobs", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = (temp_ / "server.log").string();
      if (!std::freopen(log.c_str(), "w", stderr)) _exit(126);
      dup2(STDERR_FILENO, STDOUT_FILENO);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));  // the child's own copy
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
    for (int i = 0; i < 2400 && port_ == 0; ++i) {
      std::ifstream in(temp_ / "port");
      if (!(in >> port_)) port_ = 0;
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServerChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  int port() const { return port_; }
  const fs::path& data_dir() const { return temp_; }
  std::string log() const { return read_file(temp_ / "server.log"); }
  // Resident memory in KiB (/proc), -1 when gone.
  long rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    long value = -1;
    while (in >> key)
      if (key == "VmRSS:" && (in >> value)) return value;
    return -1;
  }

 private:
  fs::path temp_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// One keep-alive connection; request() sends a whole request and reads one response.
class Connection {
 public:
  explicit Connection(int port) : port_(port) { connect_now(); }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The status code, or -1 on a connection error (the connection is reopened next time).
  int request(const std::string& raw, std::string* body = nullptr) {
    if (fd_ < 0) connect_now();
    if (!send_all(raw) || !read_response(body)) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      return -1;
    }
    return status_;
  }

 private:
  void connect_now() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    buffer_.clear();
  }
  bool send_all(const std::string& data) {
    if (fd_ < 0) return false;
    for (std::size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool fill() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool read_response(std::string* body) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return false;
    std::string head = buffer_.substr(0, end);
    status_ = std::atoi(head.c_str() + 9);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::size_t length = 0;
    if (auto pos = lower.find("content-length:"); pos != std::string::npos)
      length = std::strtoul(head.c_str() + pos + 15, nullptr, 10);
    while (buffer_.size() < end + 4 + length)
      if (!fill()) return false;
    if (body) *body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    if (lower.find("connection: close") != std::string::npos) {
      ::close(fd_);
      fd_ = -1;
    }
    return true;
  }

  int port_;
  int fd_ = -1;
  int status_ = 0;
  std::string buffer_;
};

// POST /api/sonic/generate with the two files and a config, as one raw request
// (`async`: with Prefer: respond-async).
inline std::string generate_request(const std::string& image, const std::string& audio, const std::string& config,
                                    bool async = false) {
  const std::string b = "sonicbench";
  std::string body;
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n\r\n" + image + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"s.wav\"\r\n\r\n" + audio + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n" + config + "\r\n";
  body += "--" + b + "--\r\n";
  return "POST /api/sonic/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(async ? "Prefer: respond-async\r\n" : "") + "Content-Type: multipart/form-data; boundary=" + b +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace sonic::bench
