// What the job service says about its engines: GET /api/engines, the engine lines of
// /metrics. Built here, below http/, so the routes only return it.
#include <fmt/format.h>

#include "jobs/job_service.h"

namespace sonic::jobs {
namespace {

// A Prometheus label value: the engine says what its device is called, so escape it.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value.substr(0, 64)) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

nlohmann::json EngineInfo::to_json() const {
  nlohmann::json out = {{"name", name},        {"version", version},
                        {"description", description}, {"default", is_default},
                        {"parameters", parameters.to_json()}};
  out.update(status.to_json());  // kind, state, reason, device, limits, slots, restarts
  return out;
}

std::vector<EngineInfo> describe_engines(const std::string& default_engine) {
  std::vector<EngineInfo> out;
  for (const std::string& name : engine::engine_names()) {
    auto e = engine::make_engine(name);
    out.push_back({e->name(), e->version(), e->description(), e->name() == default_engine, e->parameters(),
                   e->status()});
  }
  return out;
}

nlohmann::json JobService::engines_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : engines()) list.push_back(e.to_json());
  return {{"success", true}, {"engines", list}, {"default", default_engine_}};
}

std::string engine_metrics_text(const std::vector<EngineInfo>& engines) {
  std::string out;
  out += "# HELP sonic_engine_up 1 when the engine is ready to take jobs.\n# TYPE sonic_engine_up gauge\n";
  for (const auto& e : engines)
    out += fmt::format("sonic_engine_up{{engine=\"{}\",kind=\"{}\",state=\"{}\"}} {}\n", e.name, e.status.kind,
                       engine::engine_state_name(e.status.state), e.status.state == engine::EngineState::ready ? 1 : 0);
  out += "# HELP sonic_engine_restarts_total Times an external engine's process was restarted.\n";
  out += "# TYPE sonic_engine_restarts_total counter\n";
  for (const auto& e : engines)
    if (e.status.kind == "external")
      out += fmt::format("sonic_engine_restarts_total{{engine=\"{}\"}} {}\n", e.name, e.status.restarts);
  out += "# HELP sonic_engine_jobs_total Jobs an external engine finished, by outcome.\n";
  out += "# TYPE sonic_engine_jobs_total counter\n";
  for (const auto& e : engines)
    if (e.status.kind == "external") {
      out += fmt::format("sonic_engine_jobs_total{{engine=\"{}\",outcome=\"succeeded\"}} {}\n", e.name,
                         e.status.jobs_succeeded);
      out += fmt::format("sonic_engine_jobs_total{{engine=\"{}\",outcome=\"failed\"}} {}\n", e.name, e.status.jobs_failed);
    }
  out += "# HELP sonic_engine_peak_memory_bytes Peak memory of the engine's last job (GPU memory on a GPU).\n";
  out += "# TYPE sonic_engine_peak_memory_bytes gauge\n";
  for (const auto& e : engines)
    if (e.status.last_peak_memory_bytes)
      out += fmt::format("sonic_engine_peak_memory_bytes{{engine=\"{}\",device=\"{}\",kind=\"{}\"}} {}\n", e.name,
                         label(e.status.device), label(e.status.memory_kind), *e.status.last_peak_memory_bytes);
  out += "# HELP sonic_engine_max_peak_memory_bytes Largest peak memory of any job of the engine.\n";
  out += "# TYPE sonic_engine_max_peak_memory_bytes gauge\n";
  for (const auto& e : engines)
    if (e.status.last_peak_memory_bytes)
      out += fmt::format("sonic_engine_max_peak_memory_bytes{{engine=\"{}\",device=\"{}\",kind=\"{}\"}} {}\n", e.name,
                         label(e.status.device), label(e.status.memory_kind), e.status.max_peak_memory_bytes);
  return out;
}

}  // namespace sonic::jobs
