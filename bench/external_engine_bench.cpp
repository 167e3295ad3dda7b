// external_engine_bench: what sonic-server adds around an external engine, measured with
// the real Sonic adapter over the stand-in Sonic (issue 11). Prints:
//   - spawn: the time from starting the engine process to its `ready` (once per server);
//   - per job: hand-off (decode, fit and write the audio, the job message), the engine's own
//     time (what it reports) vs. the time the server waited for it (the protocol's share),
//     frame intake + composing, re-encoding, align_mouth, and the whole job;
//   - the frame file: writing it from Python and reading it in the server, per frame, vs PNG;
//   - peak RSS of this process (the server side) and the engine's reported peak.
//
//   external_engine_bench [--jobs N] [--seconds S] [--resolution PX] [--adapter PATH] [--sonic-dir PATH]
//
// Run from the source tree (make bench does): the adapter and the stand-in are found there.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <iostream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/external/engine_declaration.h"
#include "engine/finish/engine_frames.h"
#include "util/error.h"
#include "util/log.h"

namespace fs = std::filesystem;
using namespace sonic;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

fs::path fixtures_dir() {
  if (const char* env = std::getenv("SONIC_FIXTURES"); env && *env) return env;
  std::error_code ec;
  for (fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path())
    if (fs::exists(dir / "shared" / "fixtures" / "portrait.png")) return dir / "shared" / "fixtures";
  return "../shared/fixtures";
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string shell_output(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  int jobs = 3, resolution = 512;
  double seconds = 5.0;
  std::string adapter = "integrations/sonic/sonic_engine.py", sonic_dir = "tests/engines/fake_sonic";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--jobs") jobs = std::stoi(v);
    else if (a == "--seconds") seconds = std::stod(v);
    else if (a == "--resolution") resolution = std::stoi(v);
    else if (a == "--adapter") adapter = v;
    else if (a == "--sonic-dir") sonic_dir = v;
  }
  log::init(log::Level::warn);
  const fs::path fixtures = fixtures_dir();
  const fs::path work = fs::temp_directory_path() / ("external_engine_bench_" + std::to_string(::getpid()));
  fs::create_directories(work);

  // spawn → ready
  auto t0 = Clock::now();
  engine::install_external_engines({engine::external::parse_engine_declaration(
      "sonic=/usr/bin/python3 " + adapter + " --sonic-dir " + sonic_dir + " --device cpu")});
  auto engine = engine::make_engine("sonic");
  while (engine->status().state != engine::EngineState::ready) {
    if (engine->status().state == engine::EngineState::crashed)
      throw Error(ErrorCode::engine_unavailable, "the engine did not start: " + engine->status().reason);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a state, for a figure only
  }
  std::printf("spawn to ready (adapter + stand-in model load): %.2f s\n", since(t0));

  std::map<std::string, double> totals;
  double total_wall = 0, engine_own = 0;
  int frames = 0;
  std::optional<std::int64_t> engine_peak;
  for (int j = 0; j < jobs; ++j) {
    engine::JobInput job;
    job.image = fixtures / "portrait.png";
    job.audio = fixtures / "speech_en_7s.wav";
    job.output = work / ("out" + std::to_string(j) + ".mp4");
    job.params.engine = "sonic";
    job.params.min_resolution = resolution;
    job.params.duration_s = seconds;
    job.params.inference_steps = 4;
    job.params.expand_ratio = 0.5;
    job.params.seed = j;
    job.work_dir = work / ("job" + std::to_string(j));
    engine::CancelToken cancel;
    auto t = Clock::now();
    engine::EngineResult result = engine->generate(job, nullptr, cancel);
    total_wall += since(t);
    frames = result.frames;
    engine_peak = result.peak_memory_bytes;
    for (const auto& [stage, s] : result.stage_seconds) {
      totals[stage] += s;
      if (stage.rfind("engine_", 0) == 0) engine_own += s;
    }
  }
  auto mean = [&](const std::string& stage) { return totals[stage] / jobs; };
  std::printf("per job (%d jobs, %.1f s of video, %d px, %d frames at 25 fps; means):\n", jobs, seconds, resolution, frames);
  std::printf("  hand-off (decode + fit audio, write WAV):  %7.3f s\n", mean("load"));
  std::printf("  engine, as the server waited for it:       %7.3f s\n", mean("engine"));
  std::printf("    of which the engine's own stages:        %7.3f s\n", engine_own / jobs);
  std::printf("    protocol + frame writing (the rest):     %7.3f s\n", mean("engine") - engine_own / jobs);
  std::printf("  align_mouth (landmarks on every frame):    %7.3f s\n", mean("align"));
  std::printf("  frame intake + compose:                    %7.3f s (%.2f ms/frame)\n", mean("compose"),
              1000 * mean("compose") / std::max(1, frames));
  std::printf("  re-encode (H.264 + AAC):                   %7.3f s (%.2f ms/frame)\n", mean("encode"),
              1000 * mean("encode") / std::max(1, frames));
  std::printf("  whole job:                                 %7.3f s\n", total_wall / jobs);
  std::printf("  server overhead without align_mouth:       %7.3f s (hand-off + intake + encode)\n",
              mean("load") + mean("compose") + mean("encode"));

  // The frame file vs PNG: Python writing 125 frames of `resolution`, the server reading them.
  const int n = 125;
  const std::string py = R"(
import sys, time, numpy as np, cv2, struct
n, r, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
f = (np.random.default_rng(1).random((r, r, 3)) * 255).astype(np.uint8)
f = cv2.GaussianBlur(f, (0, 0), 3)
t = time.monotonic()
with open(d + '/frames.rgb', 'wb') as out:
    out.write(b'SNCFRM01' + struct.pack('<6I', r, r, n, 25, 1, 0))
    for i in range(n): out.write(f.tobytes())
raw = time.monotonic() - t
t = time.monotonic()
for i in range(n): cv2.imwrite(d + '/f%04d.png' % i, f)
png = time.monotonic() - t
print(raw / n * 1000, png / n * 1000)
)";
  const fs::path script = work / "write_frames.py";
  { std::ofstream(script) << py; }
  std::string written = shell_output("/usr/bin/python3 " + script.string() + " " + std::to_string(n) + " " +
                                     std::to_string(resolution) + " " + work.string());
  double py_raw = 0, py_png = 0;
  std::sscanf(written.c_str(), "%lf %lf", &py_raw, &py_png);
  auto t1 = Clock::now();
  {
    engine::finish::EngineFrames in(work / "frames.rgb", true, std::nullopt);
    cv::Mat f;
    while (in.read(f)) {
    }
  }
  const double read_raw = since(t1) / n * 1000;
  t1 = Clock::now();
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%04d.png", i);
    cv::Mat f = cv::imread((work / name).string());
  }
  const double read_png = since(t1) / n * 1000;
  std::printf("frame hand-over, %d px, per frame: rgb24 file write (Python) %.2f ms + read (server) %.2f ms; "
              "PNG write %.2f ms + read %.2f ms; rgb24 size %.2f MB/frame\n",
              resolution, py_raw, read_raw, py_png, read_png, resolution * resolution * 3 / 1e6);
  std::printf("peak RSS of the server side: %.1f MB; engine's reported peak (host RSS of the Python process): %.1f MB\n",
              peak_rss_kb() / 1024.0, engine_peak ? *engine_peak / 1e6 : 0.0);
  engine::stop_external_engines();
  fs::remove_all(work);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "external_engine_bench: %s\n", e.what());
  sonic::engine::stop_external_engines();
  return 1;
}
