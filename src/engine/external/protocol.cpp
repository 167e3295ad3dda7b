// Parsing and building engine-protocol lines (see protocol.h and docs/engine-protocol.md).
#include "engine/external/protocol.h"

#include <fmt/format.h>

namespace sonic::engine::external {
namespace {

using nlohmann::json;

ProtocolViolation violation(const std::string& what) { return ProtocolViolation(what); }

std::string string_field(const json& m, const char* key, bool required, const char* type) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) {
    if (required) throw violation(fmt::format("sent a '{}' message without '{}'", type, key));
    return {};
  }
  if (!it->is_string()) throw violation(fmt::format("sent a '{}' message whose '{}' is not a string", type, key));
  return it->get<std::string>();
}

std::vector<IgnoredParam> ignored_list(const json& m, const char* type) {
  std::vector<IgnoredParam> out;
  auto it = m.find("ignored");
  if (it == m.end() || it->is_null()) return out;
  if (!it->is_array()) throw violation(fmt::format("sent a '{}' message whose 'ignored' is not a list", type));
  for (const auto& item : *it) {
    if (!item.is_object() || !item.contains("param") || !item["param"].is_string())
      throw violation(fmt::format("sent a '{}' message with an 'ignored' entry without 'param'", type));
    out.push_back({item["param"].get<std::string>(), item.value("reason", std::string("not supported"))});
  }
  return out;
}

ReadyMessage parse_ready(const json& m) {
  ReadyMessage r;
  if (!m.contains("protocol") || !m["protocol"].is_number_integer())
    throw violation("sent 'ready' without a protocol version");
  r.protocol = m["protocol"].get<int>();
  if (r.protocol != kProtocolVersion)
    throw violation(fmt::format("speaks protocol {}, this server speaks {}", r.protocol, kProtocolVersion));
  r.name = string_field(m, "name", false, "ready");
  r.version = string_field(m, "version", true, "ready");
  r.description = string_field(m, "description", false, "ready");
  r.device = string_field(m, "device", false, "ready");
  if (auto p = m.find("parameters"); p != m.end() && p->is_object()) {
    if (auto a = p->find("accepted"); a != p->end() && a->is_array())
      for (const auto& name : *a)
        if (name.is_string()) r.parameters.accepted.push_back(name.get<std::string>());
    r.parameters.ignored = ignored_list(*p, "ready");
  }
  if (auto l = m.find("limits"); l != m.end() && l->is_object()) {
    r.limits = *l;
    if (auto c = l->find("max_concurrent_jobs"); c != l->end() && c->is_number_integer())
      r.max_concurrent_jobs = std::max(1, c->get<int>());
  }
  return r;
}

ProgressMessage parse_progress(const json& m) {
  ProgressMessage p;
  p.job = string_field(m, "job", true, "progress");
  p.stage = string_field(m, "stage", false, "progress");
  if (p.stage.empty()) p.stage = "engine";
  if (p.stage.size() > 64) p.stage.resize(64);
  if (auto f = m.find("fraction"); f != m.end() && f->is_number()) p.fraction = std::clamp(f->get<double>(), 0.0, 1.0);
  if (auto e = m.find("eta_s"); e != m.end() && e->is_number() && e->get<double>() >= 0) p.eta_s = e->get<double>();
  return p;
}

DoneMessage parse_done(const json& m) {
  DoneMessage d;
  d.job = string_field(m, "job", true, "done");
  auto f = m.find("frames");
  if (f == m.end() || !f->is_object()) throw violation("sent 'done' without 'frames'");
  std::string format = string_field(*f, "format", true, "done");
  if (format == "rgb24") d.frames.format = FrameOutput::Format::rgb24;
  else if (format == "video") d.frames.format = FrameOutput::Format::video;
  else throw violation("sent 'done' with frames of unknown format '" + excerpt(format, 20) + "'");
  d.frames.path = string_field(*f, "path", true, "done");
  if (auto fps = f->find("fps"); fps != f->end() && fps->is_number() && fps->get<double>() > 0)
    d.frames.fps = fps->get<double>();
  if (auto c = m.find("crop_box"); c != m.end() && !c->is_null()) {
    if (!c->is_array() || c->size() != 4) throw violation("sent 'done' whose crop_box is not [x, y, width, height]");
    std::array<int, 4> box{};
    for (std::size_t i = 0; i < 4; ++i) {
      if (!(*c)[i].is_number()) throw violation("sent 'done' whose crop_box is not [x, y, width, height]");
      box[i] = static_cast<int>(std::lround((*c)[i].get<double>()));
    }
    if (box[2] <= 0 || box[3] <= 0) throw violation("sent 'done' whose crop_box has no area");
    d.crop_box = box;
  }
  d.ignored = ignored_list(m, "done");
  d.device = string_field(m, "device", false, "done");
  if (auto p = m.find("peak_memory_bytes"); p != m.end() && p->is_number() && p->get<double>() >= 0)
    d.peak_memory_bytes = static_cast<std::int64_t>(p->get<double>());
  d.memory_kind = string_field(m, "memory_kind", false, "done");
  // Stage names become metric labels (sonic_stage_duration_seconds{stage}): only short
  // lowercase names, and a few of them, so an engine cannot flood or break /metrics.
  if (auto s = m.find("stage_seconds"); s != m.end() && s->is_object())
    for (auto it = s->begin(); it != s->end() && d.stage_seconds.size() < 16; ++it) {
      const std::string& key = it.key();
      bool plain = !key.empty() && key.size() <= 32;
      for (char c : key) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
      if (plain && it.value().is_number()) d.stage_seconds[key] = it.value().get<double>();
    }
  return d;
}

ErrorMessage parse_error(const json& m) {
  ErrorMessage e;
  e.job = string_field(m, "job", true, "error");
  e.code = string_field(m, "code", false, "error");
  e.message = string_field(m, "message", false, "error");
  e.field = string_field(m, "field", false, "error");
  if (e.message.size() > 2000) e.message.resize(2000);
  return e;
}

}  // namespace

std::string excerpt(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

EngineMessage parse_engine_message(const std::string& line) {
  json m = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded()) throw violation("sent a line that is not JSON: '" + excerpt(line) + "'");
  if (!m.is_object()) throw violation("sent JSON that is not an object: '" + excerpt(line) + "'");
  auto type = m.find("type");
  if (type == m.end() || !type->is_string()) throw violation("sent a message without 'type': '" + excerpt(line) + "'");
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "ready") return parse_ready(m);
  if (t == "progress") return parse_progress(m);
  if (t == "done") return parse_done(m);
  if (t == "error") return parse_error(m);
  throw violation("sent a message of unknown type '" + excerpt(t, 30) + "'");
}

std::string job_line(const std::string& job_id, const json& fields) {
  json m = fields;
  m["type"] = "job";
  m["job"] = job_id;
  return m.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string cancel_line(const std::string& job_id) { return json{{"type", "cancel"}, {"job", job_id}}.dump() + "\n"; }

std::string shutdown_line() { return json{{"type", "shutdown"}}.dump() + "\n"; }

}  // namespace sonic::engine::external
