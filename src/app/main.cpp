// app/ — the one binary and its process modes (DESIGN §2): `generate`, `score`, `probe`,
// `serve` and `worker`. Parses the command line, then calls the layers below.
#include <CLI/CLI.hpp>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sonic-server: one portrait + one voice recording -> a lip-synced talking-head MP4"};
  app.set_version_flag("--version", SONIC_VERSION);
  app.require_subcommand(1);
  sonic::app::add_generate_command(app);
  sonic::app::add_score_command(app);
  sonic::app::add_probe_command(app);
  sonic::app::add_serve_command(app);
  sonic::app::add_worker_command(app);
  sonic::app::add_token_command(app);
  sonic::app::add_apikey_command(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
