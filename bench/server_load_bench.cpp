// Load benchmark of `sonic-server serve` (issues 4 and 10): starts the real binary on a free
// port with a temporary data dir, then measures with keep-alive HTTP/1.1 connections:
//   - GET /healthz and GET /api/jobs/{id}: requests/s and p50/p99 latency
//     (targets on a 2-core machine: >= 5,000 status req/s, p99 <= 10 ms);
//   - a status mix (GET /api/jobs/{id} and GET /healthz in turn) at 8 and 32 clients:
//     p50/p99 (issue 10: p99 at 32 clients no worse than the Flask design's);
//   - GET /api/jobs?limit=100 with 100+ jobs in the table: requests/s (issue 10: >= 2,000);
//   - POST /api/sonic/generate answered from the result cache with ~1 MB of inputs
//     (the fixtures portrait + speech): p50/p99 (target: p50 <= 20 ms).
// The client is plain POSIX sockets so the figures are the server's, not a library's.
//
//   server_load_bench [--binary PATH] [--seconds N] [--connections N]
//   server_load_bench --port P --job-id ID [--seconds N]   (a server already running, e.g.
//       bench/flask_reference under gunicorn: only the status figures, for comparison)
// Defaults: the sonic-server next to this build's bench/ folder, 5 s, 8 connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One keep-alive connection; send() a full request, read one full response.
class Connection {
 public:
  explicit Connection(int port) : port_(port) { connect_now(); }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Returns the status code, or -1 on a connection error (the connection is reopened).
  int request(const std::string& raw, std::string* body = nullptr) {
    if (fd_ < 0) connect_now();
    if (!send_all(raw) || !read_response(body)) {
      ::close(fd_);
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
    std::size_t off = 0;
    while (off < data.size()) {
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
    std::size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    auto pos = lower.find("content-length:");
    if (pos != std::string::npos) length = std::strtoul(head.c_str() + pos + 15, nullptr, 10);
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

struct Figures {
  double seconds = 0;
  std::size_t ok = 0, errors = 0;
  std::vector<double> latency_ms;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

Figures hammer(int port, const std::vector<std::string>& mix, int connections, double seconds, int expect) {
  std::vector<std::thread> threads;
  std::vector<Figures> per(static_cast<std::size_t>(connections));
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  auto start = Clock::now();
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      Connection c(port);
      Figures& f = per[static_cast<std::size_t>(i)];
      for (std::size_t n = static_cast<std::size_t>(i); Clock::now() < deadline; ++n) {
        auto t0 = Clock::now();
        int status = c.request(mix[n % mix.size()]);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (status == expect) {
          ++f.ok;
          f.latency_ms.push_back(ms);
        } else {
          ++f.errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  Figures all;
  all.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& f : per) {
    all.ok += f.ok;
    all.errors += f.errors;
    all.latency_ms.insert(all.latency_ms.end(), f.latency_ms.begin(), f.latency_ms.end());
  }
  return all;
}

void print(const char* name, const Figures& f) {
  std::printf("%-34s %9.0f req/s   p50 %7.3f ms   p99 %7.3f ms   (%zu ok, %zu errors)\n", name,
              static_cast<double>(f.ok) / f.seconds, percentile(f.latency_ms, 0.5), percentile(f.latency_ms, 0.99),
              f.ok, f.errors);
}

std::string multipart_generate(const std::string& image, const std::string& audio, const std::string& config,
                               bool async) {
  std::string b = "sonicbench";
  std::string body;
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n\r\n" + image + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"s.wav\"\r\n\r\n" + audio + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n" + config + "\r\n";
  body += "--" + b + "--\r\n";
  return "POST /api/sonic/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(async ? "Prefer: respond-async\r\n" : "") +
         "Content-Type: multipart/form-data; boundary=" + b + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string json_string(const std::string& body, const std::string& key) {
  auto pos = body.find("\"" + key + "\":\"");
  if (pos == std::string::npos) return {};
  pos += key.size() + 4;
  return body.substr(pos, body.find('"', pos) - pos);
}

// GET /api/jobs/{id} and GET /healthz in turn, at 8 and 32 keep-alive clients.
void status_mix(int port, const std::string& job_id, double seconds) {
  std::vector<std::string> mix = {"GET /api/jobs/" + job_id + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"};
  print("status mix, 8 clients", hammer(port, mix, 8, seconds, 200));
  print("status mix, 32 clients", hammer(port, mix, 32, seconds, 200));
}

}  // namespace

int main(int argc, char** argv) {
  fs::path binary = fs::canonical("/proc/self/exe").parent_path().parent_path() / "sonic-server";
  if (const char* env = std::getenv("SONIC_BINARY")) binary = env;
  double seconds = 5;
  int connections = 8;
  int external_port = 0;
  std::string external_job;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    if (a == "--connections") connections = std::atoi(argv[i + 1]);
    if (a == "--port") external_port = std::atoi(argv[i + 1]);
    if (a == "--job-id") external_job = argv[i + 1];
  }
  if (external_port) {
    std::printf("server_load_bench: external server on port %d, %.0f s per figure\n", external_port, seconds);
    status_mix(external_port, external_job, seconds);
    return 0;
  }
  fs::path fixtures = std::getenv("SONIC_FIXTURES") ? fs::path(std::getenv("SONIC_FIXTURES"))
                                                    : binary.parent_path() / ".." / ".." / ".." / "shared" / "fixtures";
  fs::path temp = fs::temp_directory_path() / ("sonic-bench-" + std::to_string(std::random_device{}()));
  fs::create_directories(temp);

  pid_t pid = fork();
  if (pid == 0) {
    std::string log = (temp / "server.log").string();
    if (!std::freopen(log.c_str(), "w", stderr)) _exit(126);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execl(binary.c_str(), binary.c_str(), "serve", "--port", "0", "--data-dir", (temp / "data").c_str(), "--port-file",
          (temp / "port").c_str(), "--log-level", "warn", "--rate-limit-per-min", "0", "--max-active-jobs", "0",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 1200 && port == 0; ++i) {
    std::ifstream in(temp / "port");
    if (!(in >> port)) port = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto finish = [&](int code) {
    ::kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    fs::remove_all(temp);
    return code;
  };
  if (port == 0) {
    std::fprintf(stderr, "server did not start (%s)\n", binary.c_str());
    return finish(1);
  }
  std::printf("server_load_bench: %s on port %d, %d connections, %.0f s per figure\n", binary.c_str(), port,
              connections, seconds);

  std::string image = read_file(fixtures / "portrait.png"), audio = read_file(fixtures / "speech_en_5s.wav");
  if (image.empty() || audio.empty()) {
    std::fprintf(stderr, "fixtures missing in %s\n", fixtures.c_str());
    return finish(1);
  }
  std::string config = R"({"min_resolution":256,"duration":1})";
  Connection setup(port);
  std::string body;
  auto t0 = Clock::now();
  int status = setup.request(multipart_generate(image, audio, config, false), &body);
  double first_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::string job_id = json_string(body, "job_id");
  if (status != 200 || job_id.empty()) {
    std::fprintf(stderr, "first generate failed (%d): %s\n", status, body.c_str());
    return finish(1);
  }
  std::printf("first generate (engine run, 1 s clip at 256 px): %.2f s\n", first_s);

  print("GET /healthz", hammer(port, {"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, connections, seconds, 200));
  print("GET /api/jobs/{id}",
        hammer(port, {"GET /api/jobs/" + job_id + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, connections, seconds, 200));
  status_mix(port, job_id, seconds);
  std::string cached = multipart_generate(image, audio, config, false);
  std::printf("cache-hit POST body: %.2f MB\n", static_cast<double>(cached.size()) / 1e6);
  print("POST /api/sonic/generate (cache)", hammer(port, {cached}, 2, seconds, 200));
  // Every cache hit adds a job row: fill the table past one page, then list it.
  for (int i = 0; i < 110; ++i) setup.request(cached);
  print("GET /api/jobs?limit=100 (8 conns)",
        hammer(port, {"GET /api/jobs?limit=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, 8, seconds, 200));
  return finish(0);
}
