// Parsing engine declarations (see engine_declaration.h).
#include "engine/external/engine_declaration.h"

#include <fmt/format.h>

#include "util/error.h"

namespace sonic::engine::external {
namespace {

using nlohmann::json;

Error bad(const std::string& message) { return Error(ErrorCode::invalid_config, message, "external-engine"); }

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 32;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
  if (!ok)
    throw bad(fmt::format("The engine name '{}' must be 1–32 characters of a-z, 0-9, '-' and '_'.", name));
  if (name == "classic") throw bad("The name 'classic' belongs to the built-in engine; choose another.");
}

double seconds_field(const json& o, const char* key, double fallback, double lo) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return fallback;
  if (!it->is_number() || it->get<double>() < lo)
    throw bad(fmt::format("'{}' of an external engine must be a number of seconds ≥ {}.", key, lo));
  return it->get<double>();
}

}  // namespace

std::vector<std::string> split_command_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      auto end = text.find('\'', i + 1);
      if (end == std::string::npos) throw bad("The engine command has an unterminated ' quote.");
      word += text.substr(i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '"' || text[j + 1] == '\\')) ++j;
        word += text[j];
      }
      if (j >= text.size()) throw bad("The engine command has an unterminated \" quote.");
      i = j;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

EngineDeclaration engine_declaration_from_json(const json& o) {
  if (!o.is_object()) throw bad("An external engine must be declared as an object with 'name' and 'command'.");
  for (auto it = o.begin(); it != o.end(); ++it) {
    static const char* known[] = {"name", "command", "env", "working_dir", "slots", "ready_timeout_s",
                                  "cancel_timeout_s", "stall_timeout_s", "restart_backoff_s"};
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return it.key() == k; }) ==
        std::end(known))
      throw bad(fmt::format("Unknown setting '{}' of an external engine; known: {}.", it.key(), fmt::join(known, ", ")));
  }
  EngineDeclaration d;
  if (!o.contains("name") || !o["name"].is_string()) throw bad("An external engine needs a 'name'.");
  d.name = o["name"].get<std::string>();
  check_name(d.name);
  const json& command = o.value("command", json());
  if (command.is_string()) {
    d.command = split_command_words(command.get<std::string>());
  } else if (command.is_array()) {
    for (const auto& word : command) {
      if (!word.is_string()) throw bad("The 'command' of an external engine must be a list of strings.");
      d.command.push_back(word.get<std::string>());
    }
  }
  if (d.command.empty() || d.command[0].empty())
    throw bad(fmt::format("The external engine '{}' needs a 'command'.", d.name));
  if (auto env = o.find("env"); env != o.end() && !env->is_null()) {
    if (!env->is_object()) throw bad("The 'env' of an external engine must be an object of strings.");
    for (auto it = env->begin(); it != env->end(); ++it) {
      if (!it.value().is_string()) throw bad("The 'env' of an external engine must be an object of strings.");
      d.env[it.key()] = it.value().get<std::string>();
    }
  }
  if (auto wd = o.find("working_dir"); wd != o.end() && wd->is_string()) d.working_dir = wd->get<std::string>();
  if (auto slots = o.find("slots"); slots != o.end() && !slots->is_null()) {
    if (!slots->is_number_integer() || slots->get<int>() < 1 || slots->get<int>() > 64)
      throw bad("'slots' of an external engine must be a whole number from 1 to 64.");
    d.slots = slots->get<int>();
  }
  d.ready_timeout_s = seconds_field(o, "ready_timeout_s", d.ready_timeout_s, 0.1);
  d.cancel_timeout_s = seconds_field(o, "cancel_timeout_s", d.cancel_timeout_s, 0.1);
  d.stall_timeout_s = seconds_field(o, "stall_timeout_s", d.stall_timeout_s, 0.1);
  d.restart_backoff_s = seconds_field(o, "restart_backoff_s", d.restart_backoff_s, 0.05);
  return d;
}

EngineDeclaration parse_engine_declaration(const std::string& text) {
  auto first = text.find_first_not_of(" \t\n");
  if (first != std::string::npos && text[first] == '{') {
    json o = json::parse(text, nullptr, false);
    if (o.is_discarded()) throw bad("The external engine declaration starts with '{' but is not valid JSON.");
    return engine_declaration_from_json(o);
  }
  auto eq = text.find('=');
  if (eq == std::string::npos)
    throw bad(fmt::format("'{}' is not NAME=COMMAND, e.g. 'sonic=/usr/bin/python3 integrations/sonic/sonic_engine.py "
                          "--sonic-dir /opt/Sonic'.",
                          text));
  json o = {{"name", text.substr(0, eq)}, {"command", text.substr(eq + 1)}};
  return engine_declaration_from_json(o);
}

std::vector<EngineDeclaration> engine_declarations_from_json(const json& value) {
  std::vector<EngineDeclaration> out;
  if (value.is_null()) return out;
  if (value.is_array()) {
    for (const auto& item : value)
      out.push_back(item.is_string() ? parse_engine_declaration(item.get<std::string>())
                                     : engine_declaration_from_json(item));
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      json o = it.value().is_string() ? json{{"command", it.value()}} : it.value();
      if (!o.is_object()) throw bad("Each external engine must be an object or a command string.");
      o["name"] = it.key();
      out.push_back(engine_declaration_from_json(o));
    }
  } else {
    throw bad("'external-engines' must be a list or an object keyed by engine name.");
  }
  return out;
}

json EngineDeclaration::to_json() const {
  return {{"name", name},
          {"command", command},
          {"working_dir", working_dir.string()},
          {"slots", slots},
          {"ready_timeout_s", ready_timeout_s},
          {"cancel_timeout_s", cancel_timeout_s},
          {"stall_timeout_s", stall_timeout_s},
          {"restart_backoff_s", restart_backoff_s}};
}

}  // namespace sonic::engine::external
