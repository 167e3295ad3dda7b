// redis_dispatch_bench: what the Redis path (serve --redis + `sonic-server worker`
// processes, issue 12) costs against the embedded path (serve --workers N), on the same short
// classic-engine jobs and the same number of engine slots. It starts its own redis-server
// (free loopback port, AOF in a temp folder), the real server and real worker processes, and
// prints:
//   - per job, run alone on an idle deployment (p50/p99 over --jobs runs):
//       submit → started   (the job's created_at → started_at, the server's clock)
//       finished → SSE     (the job's finished_at → the final event reaching an SSE client)
//       submit → SSE final (the client's POST → the final event at its SSE reader)
//     and the Redis path's added time per job (the difference of the last at p50 and p99;
//     target ≤ 50 ms at p99);
//   - jobs/min for --jobs jobs submitted at once (target: Redis ≥ embedded).
//
//   redis_dispatch_bench [--jobs N] [--slots N] [--binary PATH] [--fixtures DIR]
// Defaults: 20 jobs, 2 slots (embedded: --workers 2; Redis: 2 workers of 1 slot), the
// sonic-server of this build, ../shared/fixtures (run from the source tree).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
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
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A child process, its output in `log`; SIGTERM and reaped when the object dies.
class Child {
 public:
  Child(std::vector<std::string> args, const fs::path& log) {
    std::fflush(stdout);  // or the child prints our buffered lines again
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "a", stdout);
      (void)f;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 600 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

 private:
  pid_t pid_ = -1;
};

template <typename F>
bool wait_for(F condition, std::chrono::seconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

struct Percentiles {
  double p50 = 0, p99 = 0;
};
Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))]; };
  return {at(0.50), at(0.99)};
}

struct Media {
  std::string image, audio;
};

// One short classic job: the seed keeps the cache and in-flight dedup out of the figures.
httplib::MultipartFormDataItems job_form(const Media& media, int seed) {
  json config = {{"min_resolution", 256}, {"duration", 0.5}, {"seed", seed}};
  return {{"image", media.image, "portrait.png", "image/png"},
          {"audio", media.audio, "speech.wav", "audio/wav"},
          {"config", config.dump(), "", ""}};
}

struct Timing {
  double submit_to_started_ms = 0, finished_to_sse_ms = 0, submit_to_sse_ms = 0;
  bool ok = false;
};

// Submits one job and follows its SSE stream to the final event.
Timing run_one(int port, const Media& media, int seed) {
  Timing t;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  std::int64_t submitted = wall_ms();
  auto r = c.Post("/api/sonic/generate", httplib::Headers{{"Prefer", "respond-async"}}, job_form(media, seed));
  if (!r || r->status != 202) {
    std::fprintf(stderr, "submit failed: %s\n", r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
    return t;
  }
  std::string id = json::parse(r->body).value("job_id", "");
  std::string buffer;
  std::int64_t final_at = 0;
  c.Get("/api/jobs/" + id + "/events", [&](const char* data, std::size_t n) {
    buffer.append(data, n);
    if (buffer.find("event: done") != std::string::npos) {
      final_at = wall_ms();
      return false;  // enough: the final event arrived
    }
    return true;
  });
  json job = json::parse(c.Get("/api/jobs/" + id)->body, nullptr, false);
  if (!final_at || !job.is_object() || job.value("status", "") != "succeeded") {
    std::fprintf(stderr, "job %s did not succeed: %s\n", id.c_str(), job.dump().c_str());
    return t;
  }
  t.submit_to_started_ms = static_cast<double>(job.value("started_at_ms", 0LL) - job.value("created_at_ms", 0LL));
  t.finished_to_sse_ms = static_cast<double>(final_at - job.value("finished_at_ms", 0LL));
  t.submit_to_sse_ms = static_cast<double>(final_at - submitted);
  t.ok = true;
  return t;
}

// `jobs` jobs at once; jobs/min from the first submit to the last final state.
double throughput(int port, const Media& media, int jobs, int seed_base) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < jobs; ++i) {
    auto r = c.Post("/api/sonic/generate", httplib::Headers{{"Prefer", "respond-async"}}, job_form(media, seed_base + i));
    if (r && r->status == 202) ids.push_back(json::parse(r->body).value("job_id", ""));
  }
  for (const auto& id : ids)
    wait_for(
        [&] {
          auto r = c.Get("/api/jobs/" + id);
          if (!r) return false;
          std::string s = json::parse(r->body, nullptr, false).value("status", "");
          return s == "succeeded" || s == "failed" || s == "canceled";
        },
        600s);
  double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0;
  return static_cast<double>(ids.size()) / minutes;
}

struct Figures {
  Percentiles started, sse, total;
  double jobs_per_min = 0;
  int failed = 0;
};

Figures measure(int port, const Media& media, int jobs, int slots, int seed_base) {
  Figures f;
  std::vector<double> started, sse, total;
  // Warm-up: every slot (engine thread or worker process) loads its models once.
  throughput(port, media, 2 * slots, seed_base - 100);
  for (int i = 0; i < jobs; ++i) {
    Timing t = run_one(port, media, seed_base + i);
    if (!t.ok) {
      ++f.failed;
      continue;
    }
    started.push_back(t.submit_to_started_ms);
    sse.push_back(t.finished_to_sse_ms);
    total.push_back(t.submit_to_sse_ms);
  }
  f.started = percentiles(started);
  f.sse = percentiles(sse);
  f.total = percentiles(total);
  f.jobs_per_min = throughput(port, media, jobs, seed_base + 1000);
  return f;
}

int start_server(const fs::path& binary, const fs::path& dir, std::vector<std::string> extra,
                 std::vector<std::unique_ptr<Child>>& children) {
  fs::create_directories(dir);
  fs::path port_file = dir / "port";
  std::vector<std::string> args = {binary.string(), "serve", "--port", "0", "--port-file", port_file.string(),
                                   "--data-dir", (dir / "data").string(), "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  children.push_back(std::make_unique<Child>(args, dir / "server.log"));
  int port = 0;
  wait_for(
      [&] {
        std::ifstream in(port_file);
        return static_cast<bool>(in >> port) && port > 0;
      },
      60s);
  return port;
}

void print(const char* name, const Figures& f) {
  std::printf("%-9s submit→started p50 %7.1f ms  p99 %7.1f ms | finished→SSE p50 %6.1f ms  p99 %6.1f ms | "
              "submit→SSE final p50 %7.1f ms  p99 %7.1f ms | %6.1f jobs/min%s\n",
              name, f.started.p50, f.started.p99, f.sse.p50, f.sse.p99, f.total.p50, f.total.p99, f.jobs_per_min,
              f.failed ? " (some jobs failed)" : "");
}

}  // namespace

int main(int argc, char** argv) try {
  int jobs = 20, slots = 2;
  fs::path binary = fs::canonical("/proc/self/exe").parent_path().parent_path() / "sonic-server";
  fs::path fixtures = std::getenv("SONIC_FIXTURES") ? std::getenv("SONIC_FIXTURES") : "../shared/fixtures";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--jobs") jobs = std::max(1, std::stoi(v));
    else if (a == "--slots") slots = std::max(1, std::stoi(v));
    else if (a == "--binary") binary = v;
    else if (a == "--fixtures") fixtures = v;
  }
  Media media{slurp(fixtures / "portrait.png"), slurp(fixtures / "speech_en_5s.wav")};
  if (media.image.empty() || media.audio.empty()) {
    std::fprintf(stderr, "fixtures not found in %s (--fixtures DIR)\n", fixtures.c_str());
    return 2;
  }
  char pattern[] = "/tmp/redis-bench-XXXXXX";
  fs::path temp = ::mkdtemp(pattern);
  std::printf("redis_dispatch_bench: %d short classic jobs (256 px, 0.5 s of audio), %d engine slots each way\n", jobs,
              slots);

  Figures embedded, remote;
  {
    std::vector<std::unique_ptr<Child>> children;
    int port = start_server(binary, temp / "embedded", {"--workers", std::to_string(slots)}, children);
    if (port <= 0) throw std::runtime_error("the embedded server did not start");
    embedded = measure(port, media, jobs, slots, 1000);
  }
  {
    std::vector<std::unique_ptr<Child>> children;
    int redis_port = free_port();
    fs::create_directories(temp / "redis");
    children.push_back(std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(redis_port), "--bind", "127.0.0.1",
                                 "--dir", (temp / "redis").string(), "--appendonly", "yes", "--appendfsync",
                                 "everysec", "--save", ""},
        temp / "redis" / "redis.log"));
    std::string url = "redis://127.0.0.1:" + std::to_string(redis_port);
    int port = start_server(binary, temp / "remote", {"--redis", url}, children);
    if (port <= 0) throw std::runtime_error("the Redis-mode server did not start");
    for (int i = 0; i < slots; ++i) {
      fs::create_directories(temp / ("worker" + std::to_string(i)));
      children.push_back(std::make_unique<Child>(
          std::vector<std::string>{binary.string(), "worker", "--redis", url, "--server",
                                   "http://127.0.0.1:" + std::to_string(port), "--slots", "1", "--log-level", "warn",
                                   "--work-dir", (temp / ("worker" + std::to_string(i))).string()},
          temp / ("worker" + std::to_string(i)) / "worker.log"));
    }
    httplib::Client c("127.0.0.1", port);
    bool listed = wait_for(
        [&] {
          auto r = c.Get("/api/workers");
          return r && json::parse(r->body, nullptr, false).value("workers", json::array()).size() ==
                          static_cast<std::size_t>(slots);
        },
        60s);
    if (!listed) throw std::runtime_error("the workers did not come up (logs in " + temp.string() + ")");
    remote = measure(port, media, jobs, slots, 5000);
  }

  print("embedded", embedded);
  print("redis", remote);
  std::printf("added by the Redis path per job: p50 %+.1f ms, p99 %+.1f ms (target ≤ 50 ms at p99)\n",
              remote.total.p50 - embedded.total.p50, remote.total.p99 - embedded.total.p99);
  std::printf("throughput, Redis / embedded: %.2f (target ≥ 1.0)\n",
              embedded.jobs_per_min > 0 ? remote.jobs_per_min / embedded.jobs_per_min : 0.0);
  std::error_code ec;
  fs::remove_all(temp, ec);
  return embedded.failed + remote.failed == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "redis_dispatch_bench: %s\n", e.what());
  return 1;
}
