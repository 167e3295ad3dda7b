// Each process mode of the binary adds its own subcommand; main() only dispatches.
#pragma once

#include <CLI/CLI.hpp>

namespace sonic::app {

// `sonic-server generate` — one job from the command line, no server (cmd_generate.cpp).
void add_generate_command(CLI::App& app);
// `sonic-server score` — lip-sync and motion measurements of any talking-head video (cmd_score.cpp).
void add_score_command(CLI::App& app);
// `sonic-server serve` — the HTTP API, web page, job queue and engine workers (cmd_serve.cpp).
void add_serve_command(CLI::App& app);
// `sonic-server worker` — run jobs from Redis Streams for an API server (cmd_worker.cpp).
void add_worker_command(CLI::App& app);
// `sonic-server probe` — what a media file really is (cmd_probe.cpp).
void add_probe_command(CLI::App& app);
// `sonic-server token` — mint an HS256 bearer token for the server's secret (cmd_token.cpp).
void add_token_command(CLI::App& app);
// `sonic-server apikey` — make a static API key and its hashed keys-file line (cmd_token.cpp).
void add_apikey_command(CLI::App& app);

}  // namespace sonic::app
