// engine_bench: end-to-end speed of the classic engine (issue 3, part 6). For a 10 s clip
// at 512 and 1024 px it prints the real-time factor (seconds of video per second of wall
// time), frames/s, the output's size, the stage breakdown (load, detect, analyse, render,
// encode) and the peak RSS. The landmark model is loaded before timing starts (model load
// excluded). Render and encode run on two threads at once, so together they can exceed the
// wall time.
//
//   engine_bench [--seconds S] [--resolutions 512,1024] [--repeat N]
//   engine_bench --score AUDIO [--set key=value ...]   one job on AUDIO, then `score` it
//   engine_bench --generate OUT.mp4 [--audio A] [--image I] [--set key=value ...]   one job
//
// Inputs: portrait.png and the speech fixtures from $SONIC_FIXTURES (default: the
// shared/fixtures folder next to the source tree). Writes only to a temporary folder.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/classic/classic_engine.h"
#include "face/landmarks.h"
#include "media/audio.h"
#include "quality/score.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace sonic;

namespace {

fs::path fixtures_dir() {
  if (const char* env = std::getenv("SONIC_FIXTURES"); env && *env) return env;
  // Walk up from the executable (build/<dir>/bench/engine_bench) to the folder holding shared/.
  std::error_code ec;
  for (fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path())
    if (fs::exists(dir / "shared" / "fixtures" / "portrait.png")) return dir / "shared" / "fixtures";
  return "../shared/fixtures";
}

// 16-bit mono PCM WAV.
void write_wav(const fs::path& path, const std::vector<float>& samples, int rate) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<std::uint32_t>(samples.size() * 2);
  out.write("RIFF", 4); u32(36 + bytes); out.write("WAVEfmt ", 8); u32(16); u16(1); u16(1);
  u32(static_cast<std::uint32_t>(rate)); u32(static_cast<std::uint32_t>(rate * 2)); u16(2); u16(16);
  out.write("data", 4); u32(bytes);
  for (float s : samples) {
    const auto v = static_cast<std::int16_t>(std::clamp(s, -1.0f, 1.0f) * 32767.0f);
    out.write(reinterpret_cast<const char*>(&v), 2);
  }
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct TempFolder {
  fs::path path = fs::temp_directory_path() / ("engine-bench-" + std::to_string(::getpid()));
  TempFolder() { fs::create_directories(path); }
  ~TempFolder() { std::error_code ec; fs::remove_all(path, ec); }
};

engine::EngineResult run_job(const fs::path& image, const fs::path& audio, const fs::path& out,
                             const engine::GenerationParams& params) {
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  engine::JobInput job{image, audio, out, params, {}};
  return classic.generate(job, nullptr, cancel);
}

}  // namespace

int main(int argc, char** argv) try {
  double seconds = 10.0;
  std::vector<int> resolutions = {512, 1024};
  int repeat = 2;
  std::string score_audio, generate_out, generate_audio, image_override;
  nlohmann::json config = nlohmann::json::object();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--seconds") seconds = std::stod(next());
    else if (arg == "--repeat") repeat = std::max(1, std::stoi(next()));
    else if (arg == "--score") score_audio = next();
    else if (arg == "--generate") generate_out = next();
    else if (arg == "--audio") generate_audio = next();
    else if (arg == "--image") image_override = next();
    else if (arg == "--set") { auto [k, v] = engine::parse_assignment(next()); config[k] = v; }
    else if (arg == "--resolutions") {
      resolutions.clear();
      std::string list = next();
      for (size_t pos = 0; pos < list.size();) {
        const size_t comma = list.find(',', pos);
        resolutions.push_back(std::stoi(list.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else {
      std::cerr << "usage: engine_bench [--seconds S] [--resolutions 512,1024] [--repeat N]\n"
                   "       engine_bench --score AUDIO [--set k=v]...\n"
                   "       engine_bench --generate OUT.mp4 [--audio A] [--image I] [--set k=v]...\n";
      return 2;
    }
  }
  TempFolder temp;
  const fs::path image = image_override.empty() ? fixtures_dir() / "portrait.png" : fs::path(image_override);
  face::FaceLandmarker::shared();  // model load is not part of the figures

  if (!generate_out.empty()) {  // one job, for stills and experiments
    const auto result = run_job(image, generate_audio.empty() ? fixtures_dir() / "speech_en_5s.wav" : fs::path(generate_audio),
                                generate_out, engine::apply_config({}, config));
    std::cout << result.to_json().dump(2) << "\n";
    return 0;
  }

  if (!score_audio.empty()) {
    const auto params = engine::apply_config({}, config);
    const fs::path out = temp.path / "scored.mp4";
    const auto result = run_job(image, score_audio, out, params);
    auto report = quality::score_video(out);
    nlohmann::json j = report.to_json();
    j["stage_seconds"] = result.stage_seconds;
    if (const char* dump = std::getenv("ENGINE_BENCH_FRAMES"); dump && *dump) {  // per-frame series for plots
      std::ofstream series(dump);
      for (size_t i = 0; i < report.per_frame.size(); ++i)
        series << i << " " << report.per_frame[i].mouth_opening << " "
               << (i < report.loudness_dbfs.size() ? report.loudness_dbfs[i] : 0.0) << "\n";
    }
    std::cout << j.dump(2) << "\n";
    if (const char* keep = std::getenv("ENGINE_BENCH_KEEP"); keep && *keep) fs::copy_file(out, keep, fs::copy_options::overwrite_existing);
    return 0;
  }

  // A 10 s speech clip: the two fixture recordings back to back, cut to length.
  media::PcmAudio speech = media::decode_audio(fixtures_dir() / "speech_en_7s.wav", 16000);
  const media::PcmAudio more = media::decode_audio(fixtures_dir() / "speech_en_5s.wav", 16000);
  speech.samples.insert(speech.samples.end(), more.samples.begin(), more.samples.end());
  speech = media::fit_to_duration(std::move(speech), seconds);
  const fs::path audio = temp.path / "speech.wav";
  write_wav(audio, speech.samples, 16000);

  std::printf("classic engine, %.1f s clip at 25 fps (%d frames), portrait.png, best of %d\n", seconds,
              static_cast<int>(seconds * 25 + 0.5), repeat);
  std::printf("%6s %8s %8s %8s %8s | %7s %7s %7s %7s %7s\n", "px", "wall_s", "rt_x", "fps", "size_kB", "load", "detect",
              "analyse", "render", "encode");
  for (int resolution : resolutions) {
    engine::GenerationParams params;
    params.min_resolution = resolution;
    double best = 1e9;
    engine::EngineResult best_result;
    for (int r = 0; r < repeat; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto result = run_job(image, audio, temp.path / "bench.mp4", params);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (wall < best) { best = wall; best_result = result; }
    }
    auto stage = [&](const char* name) { return best_result.stage_seconds.count(name) ? best_result.stage_seconds.at(name) : 0.0; };
    std::error_code ec;
    const auto bytes = fs::file_size(best_result.output_path, ec);
    std::printf("%6d %8.3f %8.2f %8.1f %8.0f | %7.3f %7.3f %7.3f %7.3f %7.3f\n", resolution, best, seconds / best,
                best_result.frames / best, ec ? 0.0 : static_cast<double>(bytes) / 1000.0, stage("load"), stage("detect"),
                stage("analyse"), stage("render"), stage("encode"));
  }
  std::printf("peak RSS %.1f MB\n", peak_rss_mb());
  return 0;
} catch (const sonic::Error& e) {
  std::cerr << "engine_bench: " << e.code_name() << ": " << e.what() << "\n";
  return 1;
}
