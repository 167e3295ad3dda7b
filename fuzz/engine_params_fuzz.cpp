// Fuzz target: the control panel's parser (engine/params.h) — the `config` form field as
// any client may send it — and the job cost bound and budget check fed from it
// (engine/job_cost.h). Promises: only sonic::Error escapes; accepted parameters are in
// their ranges and survive a round trip through the JSON a job records; the cost bound
// is finite and a refusal names a parameter.
#include <cmath>
#include <cstdint>
#include <string>

#include "engine/job_cost.h"
#include "engine/params.h"
#include "util/error.h"


namespace {

[[noreturn]] void broken_promise() { __builtin_trap(); }

void check_ranges(const sonic::engine::GenerationParams& p) {
  if (p.duration_s && !(*p.duration_s >= 0.5 && *p.duration_s <= 300)) broken_promise();
  if (p.min_resolution < 256 || p.min_resolution > 1024 || p.fps < 10 || p.fps > 60) broken_promise();
  if (!(p.expand_ratio >= 0 && p.expand_ratio <= 1) || p.inference_steps < 1 || p.inference_steps > 100)
    broken_promise();
  if (!(p.dynamic_scale >= 0 && p.dynamic_scale <= 2) || !(p.motion_scale >= 0 && p.motion_scale <= 2))
    broken_promise();
  if (p.seed < 0) broken_promise();
  if (p.face_box && ((*p.face_box)[2] <= 0 || (*p.face_box)[3] <= 0)) broken_promise();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)sonic::engine::parse_assignment(text);
  } catch (const sonic::Error&) {
  }
  sonic::engine::GenerationParams params;
  try {
    params = sonic::engine::apply_config({}, sonic::engine::parse_config_text(text), 300);
  } catch (const sonic::Error& e) {
    if (e.message().empty()) broken_promise();
    return 0;
  }
  check_ranges(params);
  // What a job records must read back as the same parameters.
  const auto recorded = params.to_json();
  nlohmann::json config = nlohmann::json::object();
  for (auto it = recorded.begin(); it != recorded.end(); ++it)
    if (!it.value().is_null()) config[it.key()] = it.value();
  try {
    if (sonic::engine::apply_config({}, config, 300).to_json() != recorded) broken_promise();
  } catch (const sonic::Error&) {
    broken_promise();
  }
  // The cost of this job for a picture derived from the input, and the budget check.
  const int width = 1 + static_cast<int>(size * 37 % 8000), height = 1 + static_cast<int>(size * 91 % 8000);
  const auto cost = sonic::engine::estimate_job_cost(params, width, height, 12.5, {});
  if (!std::isfinite(cost.megapixel_frames()) || cost.width <= 0 || cost.height <= 0 || cost.frames < 0)
    broken_promise();
  try {
    sonic::engine::check_job_budget(cost, params, width, height, 100);
  } catch (const sonic::Error& e) {
    if (e.field().empty() || e.code() != sonic::ErrorCode::job_too_large) broken_promise();
  }
  return 0;
}
