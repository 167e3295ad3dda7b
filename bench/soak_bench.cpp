// soak_bench: does the server's memory stay flat over many jobs? (issue 10, "flat memory")
//
// Starts the real `sonic-server serve`, runs JOBS generate requests (distinct seeds, so
// each one really renders; CLIENTS at a time, so uploads are taken by different HTTP
// threads as in production) and prints the server's resident memory every EVERY jobs,
// sampled SETTLE seconds after the batch's last answer (the server returns memory after a
// job, which may be just after it answered). The first batch is the warm-up (models
// loaded, pools and arenas grown); every later sample is compared with it, and the run
// says whether RSS stayed within 10 % of that level. --linger then keeps watching the idle
// server (a finished job's SSE event log is kept 10 minutes for resuming clients, and
// freed by the janitor after that).
//
//   soak_bench [--jobs 300] [--every 25] [--clients 2] [--settle 2] [--linger 0] [--binary PATH]
//              [--set key=value ...]    job parameters (default min_resolution=512 duration=2)
//              [--env NAME=VALUE ...]   the server's environment (MALLOC_ARENA_MAX=2,
//                                       LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)
//              [--serve ARG ...]        more `serve` flags (e.g. --serve --workers --serve 2)
#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_server.h"

using namespace sonic::bench;

int main(int argc, char** argv) {
  fs::path binary = default_binary();
  int jobs = 300, every = 25, clients = 2;
  double settle_s = 2, linger_s = 0;
  std::map<std::string, std::string> params = {{"min_resolution", "512"}, {"duration", "2"}};
  std::vector<std::string> env, serve_args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--binary") binary = v;
    else if (a == "--jobs") jobs = std::atoi(v.c_str());
    else if (a == "--every") every = std::max(1, std::atoi(v.c_str()));
    else if (a == "--clients") clients = std::max(1, std::atoi(v.c_str()));
    else if (a == "--settle") settle_s = std::max(0.0, std::atof(v.c_str()));
    else if (a == "--linger") linger_s = std::max(0.0, std::atof(v.c_str()));
    else if (a == "--env") env.push_back(v);
    else if (a == "--serve") serve_args.push_back(v);
    else if (a == "--set" && v.find('=') != std::string::npos) params[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::string image = read_file(fixtures_dir() / "portrait.png");
  const std::string audio = read_file(fixtures_dir() / "speech_en_5s.wav");
  if (image.empty() || audio.empty()) {
    std::fprintf(stderr, "fixtures missing in %s\n", fixtures_dir().c_str());
    return 1;
  }
  ServerChild server(binary, serve_args, env);
  if (server.port() == 0) {
    std::fprintf(stderr, "server did not start (%s):\n%s\n", binary.c_str(), server.log().c_str());
    return 1;
  }
  std::string fixed;
  for (const auto& [k, v] : params) fixed += "\"" + k + "\":" + v + ",";
  std::printf("soak_bench: %s, %d jobs, %d clients, params {%s}", binary.c_str(), jobs, clients, fixed.c_str());
  for (const auto& e : env) std::printf(" %s", e.c_str());
  std::printf("\n%8s %10s %12s %10s\n", "jobs", "rss MB", "vs warm-up", "s/job");
  std::printf("%8d %10.1f %12s %10s\n", 0, static_cast<double>(server.rss_kb()) / 1024, "", "");
  std::fflush(stdout);

  std::atomic<int> next{0}, failures{0};
  long warm_kb = 0, max_kb = 0;
  for (int done = 0; done < jobs;) {
    const int batch_end = std::min(jobs, done + every);
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&] {
        Connection connection(server.port());
        for (int n; (n = next.fetch_add(1)) < batch_end;) {
          std::string config = "{" + fixed + "\"seed\":" + std::to_string(n + 1) + "}";
          std::string body;
          if (connection.request(generate_request(image, audio, config), &body) != 200) {
            if (failures.fetch_add(1) < 3) std::fprintf(stderr, "job %d failed: %s\n", n, body.c_str());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    next = batch_end;
    const double per_job = std::chrono::duration<double>(Clock::now() - started).count() / (batch_end - done);
    done = batch_end;
    std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
    const long kb = server.rss_kb();
    if (warm_kb == 0) warm_kb = kb;
    else max_kb = std::max(max_kb, kb);
    std::printf("%8d %10.1f %+11.1f%% %10.2f\n", done, static_cast<double>(kb) / 1024,
                100.0 * (static_cast<double>(kb) - static_cast<double>(warm_kb)) / static_cast<double>(warm_kb),
                per_job);
    std::fflush(stdout);
  }
  for (double waited = 0; waited < linger_s;) {
    const double step = std::min(60.0, linger_s - waited);
    std::this_thread::sleep_for(std::chrono::duration<double>(step));
    waited += step;
    std::printf("idle %4.0f s %10.1f MB\n", waited, static_cast<double>(server.rss_kb()) / 1024);
    std::fflush(stdout);
  }
  const double growth = warm_kb > 0 && max_kb > 0 ? 100.0 * (static_cast<double>(max_kb) - warm_kb) / warm_kb : 0;
  std::printf("after warm-up %.1f MB, highest later %.1f MB (%+.1f %%): %s; %d failed jobs\n",
              static_cast<double>(warm_kb) / 1024, static_cast<double>(max_kb) / 1024, growth,
              growth <= 10.0 ? "flat (within 10 %)" : "NOT flat", failures.load());
  return failures.load() == 0 ? 0 : 1;
}
