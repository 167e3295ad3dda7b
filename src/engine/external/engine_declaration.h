// Engine declarations: how an operator names an external engine and the command that runs
// it, by flag (`--external-engine 'sonic=/usr/bin/python3 integrations/sonic/sonic_engine.py
// --sonic-dir /opt/Sonic'`) or in the config file (a JSON object per engine with every
// setting). serve, worker and generate all parse them here (docs/engine-protocol.md,
// "Declaring an engine").
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sonic::engine::external {

struct EngineDeclaration {
  std::string name;
  std::vector<std::string> command;  // argv; never run through a shell
  std::map<std::string, std::string> env;
  std::filesystem::path working_dir;
  int slots = 1;
  double ready_timeout_s = 600;
  double cancel_timeout_s = 10;
  double stall_timeout_s = 600;
  double restart_backoff_s = 1;  // first restart delay; doubles up to 60 s

  nlohmann::json to_json() const;
};

// `NAME=COMMAND ARGS…` (words split as a shell would, with quotes and backslashes, but no
// expansion of any kind) or a JSON object (text starting with '{'). Throws
// Error(invalid_config, field="external-engine") saying what is wrong.
EngineDeclaration parse_engine_declaration(const std::string& text);
// One JSON object: {"name", "command": [..] or "a string", "env", "working_dir", "slots",
// "ready_timeout_s", "cancel_timeout_s", "stall_timeout_s", "restart_backoff_s"}.
EngineDeclaration engine_declaration_from_json(const nlohmann::json& object);
// The config file's "external-engines": a list of objects or of "NAME=COMMAND" strings, or
// an object keyed by name.
std::vector<EngineDeclaration> engine_declarations_from_json(const nlohmann::json& value);

// Shell-like word splitting without a shell: whitespace separates words; '…' keeps
// everything literally; "…" keeps everything but \" and \\; a backslash outside quotes keeps
// the next character. Throws Error(invalid_config) for an unterminated quote.
std::vector<std::string> split_command_words(const std::string& text);

}  // namespace sonic::engine::external
