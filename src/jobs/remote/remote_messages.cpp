// The job and event messages in their Redis forms (see remote_messages.h).
#include "jobs/remote/remote_messages.h"

#include <charconv>

#include "util/error.h"

namespace sonic::jobs::remote {
namespace {

using json = nlohmann::json;

Error bad_message(const std::string& why) {
  return Error(ErrorCode::invalid_param, "The job message is not one this worker can read: " + why + ".");
}

int to_int(const std::string& text) {
  int value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && p == text.data() + text.size() ? value : 0;
}

std::string get(const Fields& fields, const std::string& key) {
  for (const auto& [k, v] : fields)
    if (k == key) return v;
  return {};
}

json input_json(const RemoteInput& in) {
  return {{"url", in.url}, {"sha256", in.sha256}, {"bytes", in.bytes}, {"name", in.name}};
}

RemoteInput input_from(const json& j, const char* name) {
  if (!j.is_object() || !j.value("url", json()).is_string() || !j.value("sha256", json()).is_string())
    throw bad_message(std::string("its ") + name + " input has no url or sha256");
  RemoteInput in;
  in.url = j["url"].get<std::string>();
  in.sha256 = j["sha256"].get<std::string>();
  in.bytes = j.value("bytes", std::uint64_t{0});
  in.name = j.value("name", std::string());
  return in;
}

}  // namespace

json JobMessage::to_json() const {
  return {{"v", kMessageVersion},
          {"job_id", job_id},
          {"attempt", attempt},
          {"engine", engine},
          {"request_id", request_id},
          {"params", params},
          {"limits",
           {{"max_image_pixels", limits.max_image_pixels},
            {"max_audio_seconds", limits.max_audio_seconds},
            {"max_full_frame_side", limits.max_full_frame_side}}},
          {"inputs", {{"image", input_json(image)}, {"audio", input_json(audio)}}},
          {"result", {{"url", result_url}, {"max_bytes", max_result_bytes}}},
          {"dispatched_ms", dispatched_ms}};
}

JobMessage JobMessage::from_json(const json& j) {
  if (!j.is_object()) throw bad_message("it is not a JSON object");
  if (j.value("v", 0) != kMessageVersion)
    throw bad_message("version " + j.value("v", json(0)).dump() + ", this worker reads version " +
                      std::to_string(kMessageVersion) + " (upgrade the worker)");
  JobMessage m;
  try {
    m.job_id = j.at("job_id").get<std::string>();
    m.attempt = j.at("attempt").get<int>();
    m.engine = j.at("engine").get<std::string>();
    m.request_id = j.value("request_id", std::string());
    m.params = j.value("params", json::object());
    const json& limits = j.at("limits");
    m.limits.max_image_pixels = limits.value("max_image_pixels", m.limits.max_image_pixels);
    m.limits.max_audio_seconds = limits.value("max_audio_seconds", m.limits.max_audio_seconds);
    m.limits.max_full_frame_side = limits.value("max_full_frame_side", m.limits.max_full_frame_side);
    m.image = input_from(j.at("inputs").at("image"), "image");
    m.audio = input_from(j.at("inputs").at("audio"), "audio");
    m.result_url = j.at("result").at("url").get<std::string>();
    m.max_result_bytes = j.at("result").value("max_bytes", std::uint64_t{0});
    m.dispatched_ms = j.value("dispatched_ms", std::int64_t{0});
  } catch (const json::exception& e) {
    throw bad_message(e.what());
  }
  if (m.job_id.empty() || m.attempt < 1 || m.engine.empty()) throw bad_message("job_id, attempt or engine is missing");
  return m;
}

Fields JobMessage::entry_fields() const {
  return {{"job", job_id}, {"attempt", std::to_string(attempt)}, {"payload", to_json().dump()}};
}

JobMessage JobMessage::from_entry(const Fields& fields) {
  json payload = json::parse(get(fields, "payload"), nullptr, false);
  if (payload.is_discarded()) throw bad_message("its payload is not JSON");
  return from_json(payload);
}

Fields WorkerEvent::to_fields() const {
  Fields f = {{"type", type},
              {"job", job_id},
              {"attempt", std::to_string(attempt)},
              {"entry", entry},
              {"delivery", std::to_string(delivery)},
              {"worker", worker},
              {"data", data.dump()}};
  if (!new_entry.empty()) f.emplace_back("new_entry", new_entry);
  return f;
}

WorkerEvent WorkerEvent::from_fields(const Fields& fields) {
  WorkerEvent e;
  e.type = get(fields, "type");
  e.job_id = get(fields, "job");
  e.attempt = to_int(get(fields, "attempt"));
  e.entry = get(fields, "entry");
  e.delivery = to_int(get(fields, "delivery"));
  e.worker = get(fields, "worker");
  e.new_entry = get(fields, "new_entry");
  e.data = json::parse(get(fields, "data"), nullptr, false);
  if (e.data.is_discarded() || !e.data.is_object()) e.data = json::object();
  return e;
}

}  // namespace sonic::jobs::remote
