// The control panel (DESIGN §4): every generation parameter, its default, its allowed
// range, parsing from the JSON `config` and the presets, and the fully resolved form a
// job records.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sonic::engine {

struct GenerationParams {
  std::optional<double> duration_s;  // unset = length of the audio (resolved per job)
  int min_resolution = 512;
  double expand_ratio = 0.15;
  int inference_steps = 25;
  double dynamic_scale = 1.0;
  double motion_scale = 1.0;
  bool align_mouth = true;
  bool smooth_motion = true;
  int fps = 25;
  std::int64_t seed = 0;
  bool full_frame = false;
  std::optional<std::array<int, 4>> face_box;  // x, y, w, h in image pixels
  std::string engine;                          // empty = server default
  std::string aspect_ratio = "1:1";            // one of aspect_ratio_names() (engine/framing.h)
  int face_index = 0;                          // which face speaks: 0 = the largest (POST /api/faces lists them)

  // The JSON a job records and the API returns (duration under its API name "duration").
  nlohmann::json to_json() const;
};

// Every parameter name the `config` object may hold, in the order of DESIGN §4.
const std::vector<std::string>& parameter_names();

// The values `aspect_ratio` accepts: "1:1" (the default), "9:16", "4:5", "16:9", "original".
const std::vector<std::string>& aspect_ratio_names();

// Applies the keys of `config` on top of `base`. Unknown keys → Error(invalid_config,
// field=key); a wrong type or a value out of range → Error(invalid_param, field=key) whose
// message states the allowed range. `max_audio_s` bounds `duration`.
GenerationParams apply_config(GenerationParams base, const nlohmann::json& config,
                              double max_audio_s = 300.0);

// Parses the `config` form field (a JSON object as text). Not JSON or not an object →
// Error(invalid_config).
nlohmann::json parse_config_text(const std::string& text);

// Parses one `key=value` (CLI --set): the value is read as JSON when it parses, else as a
// string. Error(invalid_config) when there is no '='.
std::pair<std::string, nlohmann::json> parse_assignment(const std::string& text);

struct Preset {
  std::string name;
  std::string description;  // one sentence for people
  nlohmann::json config;    // a valid config object
};

// The presets shipped with the binary (config/presets.json, embedded at build time).
const std::vector<Preset>& presets();
// Error(invalid_param, field="preset") naming the known presets when `name` is unknown.
const Preset& find_preset(const std::string& name);

}  // namespace sonic::engine
