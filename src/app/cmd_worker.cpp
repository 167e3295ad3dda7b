// `sonic-server worker`: runs jobs from Redis Streams on this machine (issue 12,
// docs/scaling.md). It needs only the Redis address and the API server's URL — never the
// server's disk: inputs come down and the video goes up over the job's signed URLs.
//
// SIGTERM/SIGINT: stop taking jobs, let running ones finish within --shutdown-grace-s,
// hand the rest back to their streams for another worker, remove the heartbeat, exit 0.
//
// Threads: the main thread waits for the signal; RemoteWorker owns every other thread.
#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "app/commands.h"
#include "app/process_support.h"
#include "engine/engine.h"
#include "engine/external/engine_declaration.h"
#include "http/worker_file_client.h"
#include "jobs/remote/remote_worker.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::app {
namespace {

struct WorkerOptions {
  std::string redis;
  std::string server;
  std::string prefix = "sonic";
  std::vector<std::string> engines;
  std::vector<std::string> external_engines;  // declared as for `serve` (docs/engine-protocol.md)
  int slots = 1;
  double lease_s = 30;
  double heartbeat_s = 2;
  int max_deliveries = 3;
  std::string work_dir;
  int shutdown_grace_s = 30;
  std::string server_ca_file;
  std::string log_level = "info";
  std::string log_file;
};

int run_worker(const WorkerOptions& o) {
  log::init(log::parse_level(o.log_level), o.log_file);
  const sigset_t signals = block_stop_signals();
  // External engines are declared as for `serve` and `generate`; their processes end with us.
  struct EnginesStop {
    ~EnginesStop() { engine::stop_external_engines(); }
  } engines_stop;
  try {
    std::vector<engine::external::EngineDeclaration> declarations;
    for (const auto& text : o.external_engines) declarations.push_back(engine::external::parse_engine_declaration(text));
    engine::install_external_engines(declarations);
    jobs::remote::WorkerConfig wc;
    wc.redis = jobs::remote::parse_redis_url(o.redis);
    wc.prefix = o.prefix;
    wc.server_url = o.server;
    wc.engines = o.engines.empty() ? engine::engine_names() : o.engines;
    if (o.slots < 1) throw Error(ErrorCode::invalid_config, "--slots must be at least 1.", "slots");
    for (const auto& name : wc.engines) {
      // Error(invalid_param) naming the installed ones. An engine declared with fewer slots
      // (one model on one GPU) is capped at those.
      const int engine_slots = engine::make_engine(name)->status().slots;
      if (engine_slots > 0 && engine_slots < o.slots) wc.engine_slots[name] = engine_slots;
    }
    if (o.lease_s < 1) throw Error(ErrorCode::invalid_config, "--lease-s must be at least 1.", "lease-s");
    if (o.max_deliveries < 1) throw Error(ErrorCode::invalid_config, "--max-deliveries must be at least 1.", "max-deliveries");
    wc.slots = o.slots;
    wc.lease = std::chrono::milliseconds(static_cast<long>(o.lease_s * 1000));
    wc.heartbeat = std::chrono::milliseconds(static_cast<long>(std::max(0.2, o.heartbeat_s) * 1000));
    wc.max_deliveries = o.max_deliveries;
    wc.work_dir = o.work_dir;
    wc.version = SONIC_VERSION;
    http::WorkerFileClient files(o.server, o.server_ca_file);

    jobs::remote::RemoteWorker worker(wc, files);
    worker.start();
    std::cout << "sonic-server worker " << worker.id() << " serving " << wc.engines.size() << " engine(s) for "
              << o.server << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    log::info("shutdown requested", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"worker", worker.id()}});
    worker.stop(std::chrono::seconds(std::max(0, o.shutdown_grace_s)));
    return 0;
  } catch (...) {
    return exit_status_for_current_error("worker failed", {ErrorCode::invalid_config, ErrorCode::invalid_param});
  }
}

}  // namespace

void add_worker_command(CLI::App& app) {
  auto o = std::make_shared<WorkerOptions>();
  CLI::App* cmd = app.add_subcommand("worker", "Run jobs from Redis Streams for an API server (docs/scaling.md)");
  auto opt = [&](const std::string& flags, auto& field, const std::string& env, const std::string& help) {
    return cmd->add_option(flags, field, help)->envname(env)->capture_default_str();
  };
  opt("--redis", o->redis, "SONIC_REDIS_URL", "redis://[user:password@]host:port/db")->required();
  opt("--server", o->server, "SONIC_SERVER_URL", "The API server's URL as this machine reaches it, http(s)://host:port")
      ->required();
  opt("--redis-prefix", o->prefix, "SONIC_REDIS_PREFIX", "Prefix of every Redis key (the server's --redis-prefix)");
  cmd->add_option("--engine", o->engines, "An engine to serve (repeatable); default: every engine of this binary")
      ->envname("SONIC_WORKER_ENGINES");
  cmd->add_option("--external-engine", o->external_engines,
                  "An external engine, NAME=COMMAND ARGS (no shell) or a JSON object; repeatable "
                  "(docs/engine-protocol.md); the server declares the same name");
  opt("--slots", o->slots, "SONIC_WORKER_SLOTS", "Jobs this worker runs at once");
  opt("--lease-s", o->lease_s, "SONIC_LEASE_S",
      "Seconds a job's lease lasts without renewal (the server's --lease-s; renewed 4x as often)");
  opt("--heartbeat-s", o->heartbeat_s, "SONIC_HEARTBEAT_S", "Seconds between heartbeats (the key lives 3 of them)");
  opt("--max-deliveries", o->max_deliveries, "SONIC_MAX_DELIVERIES",
      "Runs of one job before it is dead-lettered (the server's --max-deliveries)");
  opt("--work-dir", o->work_dir, "SONIC_WORK_DIR", "Folder for jobs' files while they run (default: a temporary folder)");
  opt("--shutdown-grace-s", o->shutdown_grace_s, "SONIC_SHUTDOWN_GRACE_S",
      "Seconds running jobs get to finish on SIGTERM before they are handed back");
  opt("--server-ca-file", o->server_ca_file, "SONIC_SERVER_CA_FILE",
      "PEM CA certificate(s) to check an https:// server with (default: the system's)");
  opt("--log-level", o->log_level, "SONIC_LOG_LEVEL", "debug | info | warn | error");
  opt("--log-file", o->log_file, "SONIC_LOG_FILE", "Also write the JSON log lines to this file");
  cmd->callback([o] { throw CLI::RuntimeError(run_worker(*o)); });
}

}  // namespace sonic::app
