// `sonic-server generate`: one job from the command line, no server. The same Engine and
// the same parameter rules as the API, so a CLI run and an API job with the same inputs
// produce the same video.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "engine/engine.h"
#include "engine/external/engine_declaration.h"
#include "engine/params.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::app {
namespace {

struct GenerateOptions {
  std::string image;
  std::string audio;
  std::string output;
  std::string config;
  std::string preset;
  std::vector<std::string> assignments;
  bool json = false;
  std::string log_level = "warn";
  std::vector<std::string> external_engines;
};

// Ctrl-C asks the running engine to stop; the engine then removes its partial output.
// The token is only ever touched through an atomic store, which is signal-safe.
engine::CancelToken* g_cancel = nullptr;
extern "C" void on_interrupt(int) {
  if (g_cancel) g_cancel->cancel();
}

void print_error(const Error& error, bool as_json) {
  if (as_json) {
    nlohmann::json out = {{"success", false}, {"error", error.message()}, {"code", error.code_name()}};
    if (!error.field().empty()) out["field"] = error.field();
    std::cout << out.dump(2) << "\n";
  } else {
    std::cerr << "error (" << error.code_name() << "): " << error.message() << "\n";
  }
}

// A one-line bar redrawn in place on a terminal; one plain line per stage and per 10 %
// otherwise, so logs of batch jobs stay readable.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), terminal_(isatty(STDERR_FILENO) == 1) {}
  void operator()(const std::string& stage, double fraction) {
    if (quiet_) return;
    int percent = static_cast<int>(fraction * 100.0 + 0.5);
    if (terminal_) {
      constexpr int width = 30;
      int filled = percent * width / 100;
      std::fprintf(stderr, "\r[%s%s] %3d%% %-10s", std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), percent, stage.c_str());
      std::fflush(stderr);
      drew_ = true;
    } else if (stage != last_stage_ || percent / 10 != last_percent_ / 10) {
      std::fprintf(stderr, "progress %3d%% %s\n", percent, stage.c_str());
    }
    last_stage_ = stage;
    last_percent_ = percent;
  }
  ~ProgressPrinter() {
    if (drew_) std::fprintf(stderr, "\n");
  }

 private:
  bool quiet_;
  bool terminal_;
  bool drew_ = false;
  std::string last_stage_;
  int last_percent_ = -100;
};

int run_generate(const GenerateOptions& options) {
  log::init(log::parse_level(options.log_level));
  // Declared engines are known before the parameters name one; their processes end with us.
  struct EnginesStop {
    ~EnginesStop() { engine::stop_external_engines(); }
  } engines_stop;
  try {
    std::vector<engine::external::EngineDeclaration> declarations;
    for (const auto& text : options.external_engines)
      declarations.push_back(engine::external::parse_engine_declaration(text));
    engine::install_external_engines(declarations);
    engine::GenerationParams params;
    if (!options.preset.empty()) params = engine::apply_config(params, engine::find_preset(options.preset).config);
    if (!options.config.empty()) params = engine::apply_config(params, engine::parse_config_text(options.config));
    for (const auto& assignment : options.assignments) {
      auto [key, value] = engine::parse_assignment(assignment);
      params = engine::apply_config(params, nlohmann::json{{key, value}});
    }

    engine::JobInput job;
    job.image = options.image;
    job.audio = options.audio;
    job.output = options.output;
    job.params = params;
    auto engine = engine::make_engine(params.engine);
    engine::CancelToken cancel;
    g_cancel = &cancel;
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);

    engine::EngineResult result;
    {
      ProgressPrinter progress(options.json);
      result = engine->generate(job, [&](const std::string& stage, double f) { progress(stage, f); }, cancel);
    }
    g_cancel = nullptr;

    if (options.json) {
      nlohmann::json out = result.to_json();
      out["success"] = true;
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "wrote " << result.output_path.string() << " (" << result.width << "x" << result.height << ", "
                << result.frames << " frames, " << result.duration_s << " s)\n";
    }
    return 0;
  } catch (const Error& error) {
    g_cancel = nullptr;
    print_error(error, options.json);
    return error.code() == ErrorCode::canceled ? 130 : 2;
  } catch (const std::exception& error) {
    g_cancel = nullptr;
    print_error(Error(ErrorCode::internal, error.what()), options.json);
    return 1;
  }
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Make one talking-head video from a portrait and a recording");
  cmd->add_option("--image,-i", options->image, "Portrait (PNG, JPEG or WebP)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--audio,-a", options->audio, "Recording (WAV, MP3, FLAC, OGG/Opus, M4A/AAC)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output,-o", options->output, "Where to write the MP4")->required();
  cmd->add_option("--config", options->config, "Parameters as a JSON object, e.g. '{\"fps\":30}'");
  cmd->add_option("--preset", options->preset, "Start from a preset (natural, expressive, news-anchor, singing, presenter_9x16; see GET /api/presets)");
  cmd->add_option("--set", options->assignments, "One parameter, key=value (repeatable; applied last)");
  cmd->add_flag("--json", options->json, "Print the result as JSON (the API's result object)");
  cmd->add_option("--external-engine", options->external_engines,
                  "Declare an external engine, NAME=COMMAND ARGS (no shell); select it with --set engine=NAME");
  cmd->add_option("--log-level", options->log_level, "debug | info | warn | error")->capture_default_str();
  cmd->callback([options] { throw CLI::RuntimeError(run_generate(*options)); });
}

}  // namespace sonic::app
