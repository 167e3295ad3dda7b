// The control panel's rules live here and only here: HTTP, the CLI and presets all go
// through apply_config, so a value is accepted or refused the same way everywhere.
// Types are JSON's own: a number must be a JSON number and a boolean true or false. A
// string such as "25" is refused rather than guessed at (issue 10): `config` is JSON, the
// web page sends numbers, the CLI's --set reads its value as JSON, and a client that
// sends strings has a bug it should hear about ("false" is truthy in most languages).
#include "engine/params.h"

#include <cmath>
#include <fmt/format.h>

#include "engine/engine.h"
#include "util/error.h"

namespace sonic::engine {

extern const char* const kPresetsJson;

namespace {

using nlohmann::json;

Error bad_param(const std::string& key, const std::string& message) {
  return Error(ErrorCode::invalid_param, message, key);
}

std::optional<double> as_number(const json& value) {
  if (value.is_number()) return value.get<double>();
  return std::nullopt;
}

// " (not the string \"25\")": says why a value that looks right was refused.
std::string not_a_string(const json& value) {
  return value.is_string() ? fmt::format(" (not the string {})", value.dump()) : std::string();
}

double number_in(const std::string& key, const json& value, double lo, double hi) {
  auto number = as_number(value);
  if (!number)
    throw bad_param(key, fmt::format("'{}' must be a number between {} and {}{}.", key, lo, hi, not_a_string(value)));
  if (!(*number >= lo && *number <= hi))
    throw bad_param(key, fmt::format("'{}' is {}; it must be between {} and {}.", key, *number, lo, hi));
  return *number;
}

std::int64_t integer_in(const std::string& key, const json& value, std::int64_t lo, std::int64_t hi) {
  auto number = as_number(value);
  if (!number || std::floor(*number) != *number)
    throw bad_param(key,
                    fmt::format("'{}' must be a whole number between {} and {}{}.", key, lo, hi, not_a_string(value)));
  if (*number < static_cast<double>(lo) || *number > static_cast<double>(hi))
    throw bad_param(key, fmt::format("'{}' is {}; it must be between {} and {}.", key, *number, lo, hi));
  return static_cast<std::int64_t>(*number);
}

bool boolean(const std::string& key, const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  throw bad_param(key, fmt::format("'{}' must be true or false{}.", key, not_a_string(value)));
}

std::array<int, 4> face_box(const json& value) {
  const char* message = "'face_box' must be [x, y, width, height] in image pixels, with width and height above 0.";
  if (!value.is_array() || value.size() != 4) throw bad_param("face_box", message);
  std::array<int, 4> box{};
  for (std::size_t i = 0; i < 4; ++i) {
    auto number = as_number(value[i]);
    if (!number || std::floor(*number) != *number || *number < 0 || *number > 100000)
      throw bad_param("face_box", message);
    box[i] = static_cast<int>(*number);
  }
  if (box[2] <= 0 || box[3] <= 0) throw bad_param("face_box", message);
  return box;
}

}  // namespace

const std::vector<std::string>& parameter_names() {
  static const std::vector<std::string> names = {
      "duration",      "min_resolution", "expand_ratio", "inference_steps", "dynamic_scale",
      "motion_scale",  "align_mouth",    "smooth_motion", "fps",            "seed",
      "full_frame",    "face_box",       "engine",       "aspect_ratio", "face_index"};
  return names;
}

const std::vector<std::string>& aspect_ratio_names() {
  static const std::vector<std::string> names = {"1:1", "9:16", "4:5", "16:9", "original"};
  return names;
}

json GenerationParams::to_json() const {
  json out = {
      {"duration", duration_s ? json(*duration_s) : json(nullptr)},
      {"min_resolution", min_resolution},
      {"expand_ratio", expand_ratio},
      {"inference_steps", inference_steps},
      {"dynamic_scale", dynamic_scale},
      {"motion_scale", motion_scale},
      {"align_mouth", align_mouth},
      {"smooth_motion", smooth_motion},
      {"fps", fps},
      {"seed", seed},
      {"full_frame", full_frame},
      {"face_box", face_box ? json(*face_box) : json(nullptr)},
      {"engine", engine},
      {"aspect_ratio", aspect_ratio},
      {"face_index", face_index},
  };
  return out;
}

GenerationParams apply_config(GenerationParams params, const json& config, double max_audio_s) {
  if (config.is_null()) return params;
  if (!config.is_object())
    throw Error(ErrorCode::invalid_config, "The config must be a JSON object, e.g. {\"fps\": 25}.", "config");
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (key == "duration") {
      params.duration_s = value.is_null() ? std::nullopt
                                          : std::optional<double>(number_in(key, value, 0.5, max_audio_s));
    } else if (key == "min_resolution") {
      params.min_resolution = static_cast<int>(integer_in(key, value, 256, 1024));
    } else if (key == "expand_ratio") {
      params.expand_ratio = number_in(key, value, 0.0, 1.0);
    } else if (key == "inference_steps") {
      params.inference_steps = static_cast<int>(integer_in(key, value, 1, 100));
    } else if (key == "dynamic_scale") {
      params.dynamic_scale = number_in(key, value, 0.0, 2.0);
    } else if (key == "motion_scale") {
      params.motion_scale = number_in(key, value, 0.0, 2.0);
    } else if (key == "align_mouth") {
      params.align_mouth = boolean(key, value);
    } else if (key == "smooth_motion") {
      params.smooth_motion = boolean(key, value);
    } else if (key == "fps") {
      params.fps = static_cast<int>(integer_in(key, value, 10, 60));
    } else if (key == "seed") {
      params.seed = integer_in(key, value, 0, std::numeric_limits<std::int64_t>::max() / 2);
    } else if (key == "full_frame") {
      params.full_frame = boolean(key, value);
    } else if (key == "face_box") {
      params.face_box = value.is_null() ? std::nullopt : std::optional(face_box(value));
    } else if (key == "engine") {
      if (value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty())) {
        params.engine.clear();
        continue;
      }
      if (!value.is_string()) throw bad_param(key, "'engine' must be the name of an installed engine.");
      std::string name = value.get<std::string>();
      auto names = engine_names();
      if (std::find(names.begin(), names.end(), name) == names.end())
        throw bad_param(key, fmt::format("Unknown engine '{}'; installed engines: {}.", name,
                                         fmt::join(names, ", ")));
      params.engine = name;
    } else if (key == "aspect_ratio") {
      const auto& names = aspect_ratio_names();
      if (!value.is_string() || std::find(names.begin(), names.end(), value.get<std::string>()) == names.end())
        throw bad_param(key, fmt::format("'aspect_ratio' must be one of {} (\"1:1\" is the default); got {}.",
                                         fmt::join(names, ", "), value.dump()));
      params.aspect_ratio = value.get<std::string>();
    } else if (key == "face_index") {
      params.face_index = static_cast<int>(integer_in(key, value, 0, 99));
    } else {
      throw Error(ErrorCode::invalid_config,
                  fmt::format("Unknown parameter '{}'. Known parameters: {}.", key,
                              fmt::join(parameter_names(), ", ")),
                  key);
    }
  }
  return params;
}

json parse_config_text(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    throw Error(ErrorCode::invalid_config, "The config is not valid JSON; send an object such as {\"fps\": 25}.",
                "config");
  if (!parsed.is_object())
    throw Error(ErrorCode::invalid_config, "The config must be a JSON object, e.g. {\"fps\": 25}.", "config");
  return parsed;
}

std::pair<std::string, json> parse_assignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(ErrorCode::invalid_config, fmt::format("'{}' is not of the form key=value.", text), "config");
  std::string key = text.substr(0, eq);
  std::string raw = text.substr(eq + 1);
  json value = json::parse(raw, nullptr, false);
  if (value.is_discarded()) value = raw;
  return {key, value};
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = [] {
    std::vector<Preset> list;
    // ordered_json keeps the file's order, so `natural` (the defaults) is listed first.
    auto doc = nlohmann::ordered_json::parse(kPresetsJson);
    for (auto it = doc.begin(); it != doc.end(); ++it)
      list.push_back({it.key(), it.value().at("description").get<std::string>(),
                      json::parse(it.value().at("config").dump())});
    return list;
  }();
  return all;
}

const Preset& find_preset(const std::string& name) {
  for (const auto& preset : presets())
    if (preset.name == name) return preset;
  std::vector<std::string> names;
  for (const auto& preset : presets()) names.push_back(preset.name);
  throw Error(ErrorCode::invalid_param,
              fmt::format("Unknown preset '{}'; available presets: {}.", name, fmt::join(names, ", ")),
              "preset");
}

}  // namespace sonic::engine
