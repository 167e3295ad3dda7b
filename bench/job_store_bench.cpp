// job_store_bench: the job store's side of the per-request queries (issue 10), on a real
// SQLite file, no HTTP:
//   - GET /api/jobs?limit=100 runs list(client, 0, 100) and count(client): calls/s and
//     p50/p99 with ROWS jobs in the store (the HTTP target is >= 2,000 req/s on this
//     machine; the store must be a small part of it), for one client's own list and an
//     admin's list of everyone's;
//   - the result cache: a cache hit runs find_succeeded(key) and inserts a new succeeded row
//     with the same key; HITS of them in a row, the mean of the first and the last 1,000
//     (the last must be as fast as the first).
//
//   job_store_bench [--rows 20000] [--hits 10000] [--seconds 3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_server.h"
#include "jobs/sqlite_job_store.h"

using namespace sonic;
using bench::Clock;
namespace fs = std::filesystem;

namespace {

jobs::JobRecord make_job(const std::string& client, std::int64_t created, const std::string& key) {
  jobs::JobRecord j;
  j.id = jobs::new_uuid();
  j.client = client;
  j.request_id = "bench";
  j.engine = "classic";
  j.state = jobs::JobState::succeeded;
  // A recorded job's real size: resolved params and an engine result.
  j.params = {{"duration", 5.3},  {"min_resolution", 512}, {"expand_ratio", 0.15}, {"inference_steps", 25},
              {"dynamic_scale", 1}, {"motion_scale", 1},   {"align_mouth", true},   {"smooth_motion", true},
              {"fps", 25},        {"seed", created},       {"full_frame", false},   {"face_box", nullptr},
              {"engine", "classic"}};
  j.result = {{"frames", 133}, {"width", 512}, {"height", 512}, {"fps", 25}, {"duration", 5.3},
              {"stage_seconds", {{"load", 0.03}, {"detect", 0.09}, {"analyse", 0.02}, {"render", 0.5}}},
              {"ignored_params", {{{"param", "inference_steps"}, {"reason", "classic has no denoising steps"}}}},
              {"engine", "classic"}, {"engine_version", "1.0.0"}, {"output_path", "/data/outputs/x.mp4"}};
  j.output_file = j.id + ".mp4";
  j.cache_key = key;
  j.created_ms = created;
  j.started_ms = created + 10;
  j.finished_ms = created + 900;
  return j;
}

template <typename Fn>
void rate(const char* name, double seconds, Fn fn) {
  std::vector<double> ms;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%-44s %9.0f calls/s   p50 %7.3f ms   p99 %7.3f ms\n", name, static_cast<double>(ms.size()) / took,
              bench::percentile(ms, 0.5), bench::percentile(ms, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 20000, hits = 10000;
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rows") rows = std::atoi(argv[i + 1]);
    if (a == "--hits") hits = std::atoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
  }
  fs::path dir = fs::temp_directory_path() / ("sonic-store-bench-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  {
    jobs::SqliteJobStore store(dir / "sonic.db");
    std::printf("job_store_bench: %d jobs (3 clients: 70 %% alice, 20 %% bob, 10 %% carol), schema %d\n", rows,
                store.schema_version());
    for (int i = 0; i < rows; ++i) {
      const char* client = i % 10 < 7 ? "alice" : i % 10 < 9 ? "bob" : "carol";
      store.insert(make_job(client, 1'000'000 + i, "key-" + std::to_string(i)));
    }
    rate("list(alice, 0, 100) + count(alice)", seconds, [&] {
      auto page = store.list("alice", 0, 100);
      if (page.size() != 100 || store.count("alice") <= 0) std::abort();
    });
    rate("list(all, 0, 100) + count(all)  [admin]", seconds, [&] {
      auto page = store.list("", 0, 100);
      if (page.size() != 100 || store.count("") != rows) std::abort();
    });
    rate("list(carol, 1000, 100) + count(carol)", seconds, [&] {
      auto page = store.list("carol", 1000, 100);
      if (page.size() != 100) std::abort();
      store.count("carol");
    });
    rate("count(alice) alone", seconds, [&] { store.count("alice"); });

    // The cache: every hit finds the newest succeeded job with the key and adds its own row.
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(hits));
    const std::string key = "identical-request";
    store.insert(make_job("alice", 2'000'000, key));
    for (int i = 0; i < hits; ++i) {
      auto t0 = Clock::now();
      auto hit = store.find_succeeded(key);
      if (!hit) std::abort();
      jobs::JobRecord copy = make_job("alice", 2'000'001 + i, key);
      copy.output_file = hit->output_file;
      copy.cached = true;
      store.insert(copy);
      if (store.find_in_flight(key)) std::abort();
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    auto mean = [&](std::size_t from, std::size_t to) {
      double sum = 0;
      for (std::size_t i = from; i < to; ++i) sum += ms[i];
      return sum / static_cast<double>(to - from);
    };
    const std::size_t n = ms.size(), k = std::min<std::size_t>(1000, n);
    std::printf("%d identical cache hits (find_succeeded + insert + find_in_flight): first %zu %.3f ms, last %zu "
                "%.3f ms each (%.2fx)\n",
                hits, k, mean(0, k), k, mean(n - k, n), mean(n - k, n) / mean(0, k));
  }
  fs::remove_all(dir);
  return 0;
}
