// engine/ — turns a validated job into a video. The Engine interface is what the server,
// the `worker` command and the `generate` CLI all call; `classic` (built in, CPU) is one
// implementation, and an external engine (a separate process, e.g. the real Sonic model on
// a GPU) is another behind the same interface. Calls face/, audio/, media/; never http/ or jobs/.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/params.h"
#include "media/limits.h"

namespace sonic::engine {

// A job as an engine sees it: stored input files and resolved parameters.
struct JobInput {
  std::filesystem::path image;
  std::filesystem::path audio;
  std::filesystem::path output;  // where the MP4 must appear (only on success)
  GenerationParams params;       // validated; duration may still be unset (= audio length)
  media::MediaLimits limits;
};

// Shared between the thread that asks for cancellation and the engine thread.
class CancelToken {
 public:
  void cancel() noexcept { canceled_.store(true, std::memory_order_relaxed); }
  bool canceled() const noexcept { return canceled_.load(std::memory_order_relaxed); }
  // Throws Error(canceled) when cancellation was asked for. Engines call it once per frame.
  void throw_if_canceled() const;

 private:
  std::atomic<bool> canceled_{false};
};

// Called from the engine thread. `stage` is one of the engine's stage names (classic:
// "load", "detect", "analyse", "render"); fraction 0–1 is of the whole job.
using ProgressCallback = std::function<void(const std::string& stage, double fraction)>;

struct IgnoredParam {
  std::string name;
  std::string reason;
};

// What an engine does with the parameters of DESIGN §4: the ones it honours, and the ones it
// ignores with the reason (GET /api/engines; the web page disables ignored controls; a
// result lists the ignored ones again).
struct EngineParameters {
  std::vector<std::string> accepted;
  std::vector<IgnoredParam> ignored;

  nlohmann::json to_json() const;  // {"accepted": [names], "ignored": [{"param", "reason"}]}
};

struct EngineResult {
  std::filesystem::path output_path;
  int frames = 0;
  int width = 0;
  int height = 0;
  int fps = 0;
  double duration_s = 0;
  std::map<std::string, double> stage_seconds;  // per-stage wall time
  std::vector<IgnoredParam> ignored;            // parameters this engine did not use, and why
  GenerationParams params;                      // fully resolved (duration set)
  std::string engine;                           // name
  std::string engine_version;

  nlohmann::json to_json() const;  // the result object the CLI (--json) and the API return
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual std::string description() const = 0;
  virtual EngineParameters parameters() const = 0;
  // Runs the job on the calling thread. Throws Error (no_face, unreadable_media, canceled,
  // engine_failed, …); on any throw no output file exists.
  virtual EngineResult generate(const JobInput& job, const ProgressCallback& progress,
                                const CancelToken& cancel) = 0;
};

// The engines this binary has, by name ("classic"). Error(invalid_param, field="engine")
// naming the installed engines when `name` is unknown; empty name = the default engine.
std::unique_ptr<Engine> make_engine(const std::string& name);
std::vector<std::string> engine_names();

}  // namespace sonic::engine
