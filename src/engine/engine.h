// engine/ — turns a validated job into a video. The Engine interface is what the server,
// the `worker` command and the `generate` CLI all call; `classic` (built in, CPU) is one
// implementation, and an external engine (a separate process, e.g. the real Sonic model on
// a GPU) is another behind the same interface. Calls face/, audio/, media/; never http/ or jobs/.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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
  // A folder the engine may use for this job's intermediate files (it creates and removes
  // it); empty = a new folder under the system's temporary folder. External engines put
  // their frames there.
  std::filesystem::path work_dir = {};
  std::string job_id = {};  // for logs and the engine protocol; empty = one is made up
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

// Where an engine is in its life. Built-in engines are always ready; an external engine is
// `starting` until its process sent `ready`, `crashed` (with the reason) while it is being
// restarted, `stopped` at shutdown.
enum class EngineState { starting, ready, crashed, stopped };
std::string_view engine_state_name(EngineState state);

struct EngineStatus {
  std::string kind = "builtin";  // "builtin" | "external"
  EngineState state = EngineState::ready;
  std::string reason;             // why it is not ready
  bool refuses_jobs = false;      // crashed before it ever became ready: jobs fail at once
  std::string device;             // e.g. "cpu", "cuda:0"
  nlohmann::json limits = nlohmann::json::object();  // what the engine announced
  int slots = 0;                  // jobs at once; 0 = the server's --workers (built-in engines)
  int restarts = 0;
  double restart_in_s = 0;
  std::uint64_t jobs_succeeded = 0;
  std::uint64_t jobs_failed = 0;
  std::string memory_kind;                           // "gpu" | "host" (last job)
  std::optional<std::int64_t> last_peak_memory_bytes;
  std::int64_t max_peak_memory_bytes = 0;

  // {"kind", "state", "reason"?, "device"?, "limits", "slots"?, "restarts"?}
  nlohmann::json to_json() const;
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
  // External engines: where the job ran and its peak memory (GPU memory on a GPU).
  std::string device;
  std::optional<std::int64_t> peak_memory_bytes;
  std::string memory_kind;
  // The finishing step's align_mouth report ({measured_lag_ms, audio_shift_ms, applied,
  // reason}); null when the engine aligns the mouth itself.
  nlohmann::json align_mouth;
  // [x, y, w, h] in picture pixels: the part of the picture the engine animated (external
  // engines); null when not known.
  nlohmann::json crop_box;

  nlohmann::json to_json() const;  // the result object the CLI (--json) and the API return
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual std::string description() const = 0;
  virtual EngineParameters parameters() const = 0;
  virtual EngineStatus status() const { return {}; }
  // Runs the job on the calling thread. Throws Error (no_face, unreadable_media, canceled,
  // engine_failed, …); on any throw no output file exists.
  virtual EngineResult generate(const JobInput& job, const ProgressCallback& progress,
                                const CancelToken& cancel) = 0;
};

namespace external {
struct EngineDeclaration;
}

// The engines of this process: the built-in `classic` and the external engines declared at
// start-up. serve, worker and generate call install_external_engines() once (it starts their
// processes); make_engine() and engine_names() then know them, and parameter validation
// accepts their names. Throws Error(invalid_config) for a name that is taken.
void install_external_engines(const std::vector<external::EngineDeclaration>& declarations);
// Stops every external engine process (shutdown message, then signals) and forgets them.
void stop_external_engines();

// An engine by name. Error(invalid_param, field="engine") naming the installed engines when
// `name` is unknown; empty name = classic. External engines share one process per name:
// every object made here for that name talks to it.
std::unique_ptr<Engine> make_engine(const std::string& name);
std::vector<std::string> engine_names();

}  // namespace sonic::engine
