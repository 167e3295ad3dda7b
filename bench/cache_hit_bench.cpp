// cache_hit_bench: identical generate requests against the real `sonic-server serve`
// (issue 10: "cache hits slow down as identical requests pile up" — each hit adds a row
// with the same cache key, and the lookup used to sort them all: 5.8 → 15.6 ms of CPU per
// hit, 171 → 64 req/s after ~6,800 hits). The first request runs the engine; then HITS
// identical requests are answered from the cache, one connection, one after another. It
// prints the mean latency of every block of 1,000 and compares the last block with the
// first: they should be the same.
//
//   cache_hit_bench [--hits 10000] [--binary PATH]
// The inputs are the portrait fixture and 1 s of the speech fixture (small, so the figure
// is the server's lookup, not the upload's hashing).
#include <cstdio>
#include <string>
#include <vector>

#include "bench_server.h"

using namespace sonic::bench;

int main(int argc, char** argv) {
  fs::path binary = default_binary();
  int hits = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--binary") binary = argv[i + 1];
    if (a == "--hits") hits = std::atoi(argv[i + 1]);
  }
  const std::string image = read_file(fixtures_dir() / "portrait.png");
  std::string audio = read_file(fixtures_dir() / "speech_en_5s.wav");
  if (image.empty() || audio.size() < 44 + 32000) {
    std::fprintf(stderr, "fixtures missing in %s\n", fixtures_dir().c_str());
    return 1;
  }
  // The first second of the 16 kHz mono 16-bit fixture: its 44-byte header with the sizes fixed.
  audio.resize(44 + 32000);
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int b = 0; b < 4; ++b) audio[at + static_cast<std::size_t>(b)] = static_cast<char>((v >> (8 * b)) & 0xff);
  };
  put32(4, static_cast<std::uint32_t>(audio.size() - 8));
  put32(40, 32000);

  ServerChild server(binary, {});
  if (server.port() == 0) {
    std::fprintf(stderr, "server did not start (%s):\n%s\n", binary.c_str(), server.log().c_str());
    return 1;
  }
  const std::string request = generate_request(image, audio, R"({"min_resolution":256,"duration":1})");
  Connection c(server.port());
  std::string body;
  auto t0 = Clock::now();
  if (c.request(request, &body) != 200) {
    std::fprintf(stderr, "the first generate failed: %s\n", body.c_str());
    return 1;
  }
  std::printf("cache_hit_bench: %s, request body %.0f kB, first (engine) %.2f s, then %d identical hits\n",
              binary.c_str(), static_cast<double>(request.size()) / 1000,
              std::chrono::duration<double>(Clock::now() - t0).count(), hits);
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(hits));
  int failures = 0;
  for (int i = 0; i < hits; ++i) {
    auto start = Clock::now();
    int status = c.request(request, &body);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (status != 200 || body.find("\"cached\":true") == std::string::npos) {
      if (++failures <= 3) std::fprintf(stderr, "hit %d: %d %s\n", i, status, body.substr(0, 300).c_str());
    }
  }
  auto mean = [&](std::size_t from, std::size_t to) {
    double sum = 0;
    for (std::size_t i = from; i < to; ++i) sum += ms[i];
    return sum / static_cast<double>(to - from);
  };
  const std::size_t block = 1000;
  std::printf("%12s %14s %10s\n", "hits", "ms per hit", "hits/s");
  for (std::size_t from = 0; from + block <= ms.size(); from += block)
    std::printf("%5zu-%-6zu %14.2f %10.0f\n", from + 1, from + block, mean(from, from + block),
                1000.0 / mean(from, from + block));
  if (ms.size() >= 2 * block) {
    const double first = mean(0, block), last = mean(ms.size() - block, ms.size());
    std::printf("last %zu vs first %zu: %.2f ms vs %.2f ms (%.2fx); %d failed\n", block, block, last, first,
                last / first, failures);
  }
  return failures == 0 ? 0 : 1;
}
