// The engine registry and the small value types every engine shares. Adding an engine
// (e.g. an external process speaking the engine protocol) means adding it to make_engine.
#include "engine/engine.h"

#include <fmt/format.h>

#include "engine/classic/classic_engine.h"
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
  return {
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
}

std::vector<std::string> engine_names() { return {"classic"}; }

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name.empty() || name == "classic") return std::make_unique<ClassicEngine>();
  throw Error(ErrorCode::invalid_param,
              fmt::format("Unknown engine '{}'; installed engines: {}.", name, fmt::join(engine_names(), ", ")),
              "engine");
}

}  // namespace sonic::engine
