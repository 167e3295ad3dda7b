// The engine registry and the small value types every engine shares. The registry holds
// the built-in engine's name and one EngineProcess per declared external engine (the model
// process is shared by every ExternalEngine object of that name); it is process-wide so
// that parameter validation, the job service, the worker and the CLI see the same engines.
//
// Threads: install/stop are called once each by the process mode's main thread; lookups
// (make_engine, engine_names) come from any thread and take the registry's mutex.
#include "engine/engine.h"

#include <fmt/format.h>

#include <mutex>

#include "engine/classic/classic_engine.h"
#include "engine/external/engine_declaration.h"
#include "engine/external/external_engine.h"
#include "util/error.h"

namespace sonic::engine {

void CancelToken::throw_if_canceled() const {
  if (canceled()) throw Error(ErrorCode::canceled, "The job was canceled.");
}

nlohmann::json EngineParameters::to_json() const {
  nlohmann::json ignored_json = nlohmann::json::array();
  for (const auto& item : ignored) ignored_json.push_back({{"param", item.name}, {"reason", item.reason}});
  return {{"accepted", accepted}, {"ignored", ignored_json}};
}

nlohmann::json EngineResult::to_json() const {
  nlohmann::json ignored_json = nlohmann::json::array();
  for (const auto& item : ignored) ignored_json.push_back({{"param", item.name}, {"reason", item.reason}});
  nlohmann::json out = {
      {"output_path", output_path.string()},
      {"frames", frames},
      {"width", width},
      {"height", height},
      {"fps", fps},
      {"duration", duration_s},
      {"stage_seconds", stage_seconds},
      {"ignored_params", ignored_json},
      {"params", params.to_json()},
      {"engine", engine},
      {"engine_version", engine_version},
  };
  if (!device.empty()) out["device"] = device;
  if (peak_memory_bytes) {
    out["peak_memory_bytes"] = *peak_memory_bytes;
    out["memory_kind"] = memory_kind;
  }
  if (!align_mouth.is_null()) out["align_mouth"] = align_mouth;
  if (!crop_box.is_null()) out["crop_box"] = crop_box;
  return out;
}

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::shared_ptr<external::EngineProcess>>> external;  // declaration order
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

std::string_view engine_state_name(EngineState state) {
  switch (state) {
    case EngineState::starting: return "starting";
    case EngineState::ready: return "ready";
    case EngineState::crashed: return "crashed";
    case EngineState::stopped: return "stopped";
  }
  return "unknown";
}

nlohmann::json EngineStatus::to_json() const {
  nlohmann::json out = {{"kind", kind}, {"state", engine_state_name(state)}, {"limits", limits}};
  if (!reason.empty()) out["reason"] = reason;
  if (!device.empty()) out["device"] = device;
  if (slots > 0) out["slots"] = slots;
  if (kind == "external") {
    out["restarts"] = restarts;
    if (state == EngineState::crashed) out["restart_in_s"] = restart_in_s;
    if (last_peak_memory_bytes) {
      out["last_peak_memory_bytes"] = *last_peak_memory_bytes;
      out["memory_kind"] = memory_kind;
    }
  }
  return out;
}

void install_external_engines(const std::vector<external::EngineDeclaration>& declarations) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& d : declarations) {
    for (const auto& [name, process] : r.external)
      if (name == d.name)
        throw Error(ErrorCode::invalid_config, "The external engine '" + d.name + "' is declared twice.",
                    "external-engine");
  }
  for (const auto& d : declarations)
    r.external.emplace_back(d.name, std::make_shared<external::EngineProcess>(external::process_settings(d)));
}

void stop_external_engines() {
  std::vector<std::pair<std::string, std::shared_ptr<external::EngineProcess>>> engines;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    engines.swap(r.external);
  }
  for (auto& [name, process] : engines) process->stop();
}

std::vector<std::string> engine_names() {
  std::vector<std::string> names = {"classic"};
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& [name, process] : r.external) names.push_back(name);
  return names;
}

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name.empty() || name == "classic") return std::make_unique<ClassicEngine>();
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& [known, process] : r.external)
      if (known == name) return std::make_unique<external::ExternalEngine>(known, process);
  }
  throw Error(ErrorCode::invalid_param,
              fmt::format("Unknown engine '{}'; installed engines: {}.", name, fmt::join(engine_names(), ", ")),
              "engine");
}

}  // namespace sonic::engine
