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
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_server.h"

using namespace sonic::bench;

namespace {

struct Figures {
  double seconds = 0;
  std::size_t ok = 0, errors = 0;
  std::vector<double> latency_ms;
};

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
  fs::path binary = default_binary();
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
  const fs::path fixtures = fixtures_dir();
  ServerChild server(binary, {});
  const int port = server.port();
  if (port == 0) {
    std::fprintf(stderr, "server did not start (%s)\n", binary.c_str());
    return 1;
  }
  std::printf("server_load_bench: %s on port %d, %d connections, %.0f s per figure\n", binary.c_str(), port,
              connections, seconds);

  std::string image = read_file(fixtures / "portrait.png"), audio = read_file(fixtures / "speech_en_5s.wav");
  if (image.empty() || audio.empty()) {
    std::fprintf(stderr, "fixtures missing in %s\n", fixtures.c_str());
    return 1;
  }
  std::string config = R"({"min_resolution":256,"duration":1})";
  Connection setup(port);
  std::string body;
  auto t0 = Clock::now();
  int status = setup.request(generate_request(image, audio, config), &body);
  double first_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::string job_id = json_string(body, "job_id");
  if (status != 200 || job_id.empty()) {
    std::fprintf(stderr, "first generate failed (%d): %s\n", status, body.c_str());
    return 1;
  }
  std::printf("first generate (engine run, 1 s clip at 256 px): %.2f s\n", first_s);

  print("GET /healthz", hammer(port, {"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, connections, seconds, 200));
  print("GET /api/jobs/{id}",
        hammer(port, {"GET /api/jobs/" + job_id + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, connections, seconds, 200));
  status_mix(port, job_id, seconds);
  std::string cached = generate_request(image, audio, config);
  std::printf("cache-hit POST body: %.2f MB\n", static_cast<double>(cached.size()) / 1e6);
  print("POST /api/sonic/generate (cache)", hammer(port, {cached}, 2, seconds, 200));
  // Every cache hit adds a job row: fill the table past one page, then list it.
  for (int i = 0; i < 110; ++i) setup.request(cached);
  print("GET /api/jobs?limit=100 (8 conns)",
        hammer(port, {"GET /api/jobs?limit=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}, 8, seconds, 200));
  return 0;
}
