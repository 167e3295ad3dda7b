// The attacks of issue 10 against a running `sonic-server serve` (or any server on
// 127.0.0.1:PORT), with the figures docs/http-transport.md quotes before and after the
// transport was replaced. Plain POSIX sockets, so the figures are the server's.
//
//   - slowloris: 200 connections (20 per source address) each sending one header line every 5 s, while a probe
//     opens a fresh connection every 250 ms for GET /healthz: worst and p99 latency, failures;
//   - idle: 200 connections that send nothing, same probe;
//   - header flood: one request with 1,000,000 header lines (~14 MB): the answer, and the
//     server's RSS before and after (from /proc, when the server is our child);
//   - CL.0: GET /healthz and a refused generate (415) carrying a Content-Length body that
//     is itself a complete request: whether that hidden request was answered;
//   - burst: 64 clients (one source address each) opening a new connection per request for 5 s: connection
//     resets and refusals (listen backlog).
//
//   http_attack_bench [--binary PATH | --port N --pid PID] [--seconds N]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// `source` > 0 binds the client to 127.0.0.(1 + source): loopback has a whole /8, so the
// attack can come from many addresses, as it would on the internet, below the server's
// per-client connection cap, while the probe keeps 127.0.0.1.
int connect_to(int port, int source = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (source > 0) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + static_cast<uint32_t>(source % 250));
    ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until the peer closes or `patience` passes; returns what came.
std::string read_for(int fd, std::chrono::milliseconds patience, bool* reset = nullptr) {
  std::string out;
  auto deadline = Clock::now() + patience;
  char buf[65536];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left))) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && reset) *reset = errno == ECONNRESET;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// One GET /healthz on a fresh connection; seconds, or -1 on failure.
double probe_healthz(int port, std::chrono::milliseconds patience = 60s) {
  auto t0 = Clock::now();
  int fd = connect_to(port);
  if (fd < 0) return -1;
  bool ok = send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string got = ok ? read_for(fd, patience) : "";
  ::close(fd);
  if (got.find("\"ok\"") == std::string::npos) return -1;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct ProbeFigures {
  std::vector<double> seconds;
  int failures = 0;
};

ProbeFigures probe_for(int port, std::chrono::seconds how_long) {
  ProbeFigures f;
  auto end = Clock::now() + how_long;
  while (Clock::now() < end) {
    double s = probe_healthz(port);
    if (s < 0) ++f.failures;
    else f.seconds.push_back(s);
    std::this_thread::sleep_for(250ms);
  }
  return f;
}

void print_probe(const char* name, ProbeFigures f) {
  std::sort(f.seconds.begin(), f.seconds.end());
  double worst = f.seconds.empty() ? 0 : f.seconds.back();
  double p99 = f.seconds.empty() ? 0 : f.seconds[std::min(f.seconds.size() - 1, f.seconds.size() * 99 / 100)];
  std::printf("%-44s /healthz worst %7.3f s  p99 %7.3f s  answered %zu  failed %d\n", name, worst, p99,
              f.seconds.size(), f.failures);
}

long rss_kb(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (in >> key)
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
  return -1;
}

void slowloris(int port, int connections, std::chrono::seconds how_long, bool idle) {
  std::vector<int> fds;
  for (int i = 0; i < connections; ++i) {
    int fd = connect_to(port, 1 + i / 20);  // 20 connections per attacking address
    if (fd >= 0) fds.push_back(fd);
    if (fd >= 0 && !idle) send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    auto next = Clock::now() + 5s;
    while (!stop) {
      std::this_thread::sleep_for(100ms);
      if (idle || Clock::now() < next) continue;
      next += 5s;
      for (int fd : fds) send_all(fd, "X-Slow: 1\r\n");
    }
  });
  auto f = probe_for(port, how_long);
  stop = true;
  drip.join();
  int open = 0, timed_out = 0;
  for (int fd : fds) {
    std::string got = read_for(fd, 10ms);
    pollfd p{fd, POLLIN, 0};
    char c;
    bool closed = !got.empty() || (::poll(&p, 1, 0) > 0 && ::recv(fd, &c, 1, MSG_PEEK) <= 0);
    open += closed ? 0 : 1;
    timed_out += got.find(" 408 ") != std::string::npos ? 1 : 0;
    ::close(fd);
  }
  char name[96];
  std::snprintf(name, sizeof name, "%s %d conns (%d open, %d got 408)", idle ? "idle" : "slowloris", connections,
                open, timed_out);
  print_probe(name, f);
}

void header_flood(int port, pid_t pid) {
  long before = rss_kb(pid);
  int fd = connect_to(port);
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  std::string line = "X-Flood-0000000: y\r\n";
  std::size_t sent = 0, lines = 0;
  bool open = send_all(fd, head);
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += line;
  for (; open && lines < 1'000'000; lines += 1000) {
    open = send_all(fd, batch);
    if (open) sent += batch.size();
  }
  if (open) send_all(fd, "\r\n");
  std::string answer = read_for(fd, 10s);
  ::close(fd);
  std::this_thread::sleep_for(500ms);
  long after = rss_kb(pid);
  std::printf("%-44s sent %.1f MB (%zu lines), answer '%s', RSS %ld -> %ld KiB\n", "1,000,000 headers",
              static_cast<double>(sent) / 1e6, lines, answer.substr(0, answer.find('\r')).c_str(), before, after);
}

int count_answers(const std::string& text) {
  int n = 0;
  for (auto pos = text.find("HTTP/1."); pos != std::string::npos; pos = text.find("HTTP/1.", pos + 1)) ++n;
  return n;
}

void cl0(int port) {
  const std::string hidden = "GET /api/jobs/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Case {
    const char* name;
    std::string head;
  } cases[] = {
      {"CL.0 GET /healthz + hidden request", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "},
      {"CL.0 refused generate (415) + hidden", "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: "},
      {"duplicate Content-Length", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: "},
  };
  for (const auto& c : cases) {
    int fd = connect_to(port);
    send_all(fd, c.head + std::to_string(hidden.size()) + "\r\n\r\n" + hidden);
    std::string got = read_for(fd, 2000ms);
    ::close(fd);
    bool smuggled = got.find("No job with id") != std::string::npos;
    std::printf("%-44s answers %d, hidden request executed: %s (first: %s)\n", c.name, count_answers(got),
                smuggled ? "YES" : "no", got.substr(0, got.find('\r')).c_str());
  }
}

void burst(int port, int clients, std::chrono::seconds how_long) {
  std::atomic<long> ok{0}, resets{0}, refused{0}, other{0};
  auto end = Clock::now() + how_long;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      while (Clock::now() < end) {
        int fd = connect_to(port, 1 + i);  // one address per client
        if (fd < 0) {
          ++refused;
          continue;
        }
        bool reset = false;
        std::string got;
        if (send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) got = read_for(fd, 10s, &reset);
        else reset = true;
        ::close(fd);
        if (got.find(" 200 ") != std::string::npos) ++ok;
        else if (reset) ++resets;
        else ++other;
      }
    });
  for (auto& t : threads) t.join();
  std::printf("%-44s %ld ok, %ld reset, %ld refused, %ld other\n",
              ("burst: " + std::to_string(clients) + " clients, new connection each").c_str(), ok.load(),
              resets.load(), refused.load(), other.load());
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  fs::path binary = fs::canonical("/proc/self/exe").parent_path().parent_path() / "sonic-server";
  int port = 0;
  pid_t pid = -1;
  int seconds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--port") port = std::atoi(argv[i + 1]);
    if (a == "--pid") pid = std::atoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
  }
  fs::path temp;
  bool own = port == 0;
  if (own) {
    temp = fs::temp_directory_path() / ("sonic-attack-" + std::to_string(std::random_device{}()));
    fs::create_directories(temp);
    pid = fork();
    if (pid == 0) {
      std::string log = (temp / "server.log").string();
      if (!std::freopen(log.c_str(), "w", stderr)) _exit(126);
      dup2(STDERR_FILENO, STDOUT_FILENO);
      execl(binary.c_str(), binary.c_str(), "serve", "--port", "0", "--data-dir", (temp / "data").c_str(),
            "--port-file", (temp / "port").c_str(), "--log-level", "warn", "--rate-limit-per-min", "0",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 1200 && port == 0; ++i) {
      std::ifstream in(temp / "port");
      if (!(in >> port)) port = 0;
      std::this_thread::sleep_for(50ms);
    }
    if (port == 0) {
      std::fprintf(stderr, "server did not start (%s)\n", binary.c_str());
      return 1;
    }
  }
  std::printf("http_attack_bench: %s, port %d\n", own ? binary.c_str() : "external server", port);
  print_probe("baseline (no attack)", probe_for(port, 3s));
  cl0(port);
  burst(port, 64, 5s);
  header_flood(port, pid);
  slowloris(port, 200, std::chrono::seconds(seconds), false);
  slowloris(port, 200, std::chrono::seconds(seconds / 2), true);
  print_probe("after the attacks", probe_for(port, 2s));
  if (own) {
    ::kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    fs::remove_all(temp);
  }
  return 0;
}
