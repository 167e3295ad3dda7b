// `sonic-server serve`: the HTTP API, the local job queue and N engine workers in one
// process (DESIGN §2, the embedded default: SQLite + local disk, no other service).
//
// Settings come from flags, SONIC_* environment variables and an optional JSON config
// file (--config-file / SONIC_CONFIG); a flag wins over the environment, which wins over
// the file. SIGTERM/SIGINT shut down gracefully: stop accepting, end SSE streams with a
// final event, let running jobs finish within the grace period (or put them back in the
// queue for the next start), exit 0.
//
// Threads: the main thread runs the HTTP accept loop; a signal thread waits for
// SIGTERM/SIGINT (blocked everywhere else) and starts the shutdown.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "app/commands.h"
#include "app/process_support.h"
#include "engine/external/engine_declaration.h"
#include "http/http_server.h"
#include "http/outbound/webhook_transport.h"
#include "jobs/job_service.h"
#include "jobs/webhook_signature.h"
#include "util/error.h"
#include "util/key_file.h"
#include "util/log.h"

namespace sonic::app {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string data_dir = "data";
  int workers = 1;
  int queue_size = 64;
  double max_upload_mb = 50;
  int sync_wait_s = 300;
  std::string public_url;
  double retention_h = 72;
  int janitor_interval_s = 60;
  double max_audio_s = 300;
  double max_image_mp = 40;
  std::string engine;
  int http_threads = 64;
  int sse_keepalive_s = 15;
  int shutdown_grace_s = 30;
  std::string web_dir;  // empty = the page embedded in the binary
  std::string log_level = "info";
  std::string log_file;
  std::string config_file;
  std::string port_file;
  bool no_cache = false;
  // Access control (http/auth.h, docs/auth.md).
  std::string auth = "none";
  bool insecure_no_auth = false;
  std::string jwt_secret_file;
  std::string jwt_public_key;
  std::string jwt_issuer;
  std::string jwt_audience;
  std::string jwt_admin_claim;
  std::string url_signing_key_file;
  int signed_url_ttl_s = 3600;
  std::string api_keys_file;
  std::string metrics_key_file;
  // Limits, proxies, browsers, TLS.
  double rate_limit_per_min = 10;
  double rate_limit_burst = 3;
  int max_active_jobs = 4;
  std::string trusted_proxy;
  std::string cors_origin;
  bool cors_allow_credentials = false;
  std::string tls_cert;
  std::string tls_key;
  // The HTTP transport's limits (docs/http-transport.md).
  int http_quick_threads = 4;
  int max_connections = 4096;
  int max_connections_per_client = 32;
  int max_headers = 100;
  int max_head_kb = 16;
  int head_timeout_s = 10;
  int keepalive_timeout_s = 5;
  int body_timeout_s = 30;
  double min_upload_kb_s = 4;
  int write_timeout_s = 30;
  // Scale-out over Redis Streams (docs/scaling.md).
  std::string redis;
  std::string redis_prefix = "sonic";
  double lease_s = 30;
  int max_deliveries = 3;
  double worker_url_ttl_h = 24;
  // Inputs by URL and webhooks (issue 15, docs/api.md).
  std::string url_allow;
  bool url_allow_http = false;
  double fetch_timeout_s = 60;
  double fetch_read_timeout_s = 10;
  std::string fetch_ca_file;
  std::string webhook_secret_file;
  double webhook_retry_period_s = 24 * 3600;
  double webhook_first_retry_s = 5;
  double webhook_timeout_s = 15;
  std::set<std::string> from_config_file;  // settings the config file gave (flag names)
  // External engines (docs/engine-protocol.md): flags, then the config file's list.
  std::vector<std::string> external_engines;
  nlohmann::json external_engines_json;
  // Bounded work per job, storage (issue 10, docs/jobs.md).
  double max_job_megapixel_frames = 15000;
  int job_timeout_s = 900;
  int max_full_frame_side = 2048;
  double min_free_mb = 512;
  double job_retention_h = 168;
};

// With auth on and no HS256 secret to derive it from, signed URLs need a key that survives
// restarts: one is made once in the data dir (mode 0600) unless --url-signing-key-file says.
std::string persistent_url_key(const std::string& data_dir) {
  auto path = std::filesystem::path(data_dir) / "url-signing.key";
  util::create_key_file_if_missing(path);
  return path.string();
}

// Settings read from the config file for every option not given as a flag or env var.
void apply_config_file(CLI::App& cmd, ServeOptions& o) {
  std::ifstream in(o.config_file);
  if (!in) throw Error(ErrorCode::invalid_config, "Cannot read the config file " + o.config_file + ".", "config-file");
  nlohmann::json file = nlohmann::json::parse(in, nullptr, false);
  if (!file.is_object())
    throw Error(ErrorCode::invalid_config, "The config file " + o.config_file + " is not a JSON object.", "config-file");
  using Setter = std::function<void(const nlohmann::json&)>;
  auto num = [](auto& field) { return Setter([&field](const nlohmann::json& v) { field = v.get<std::decay_t<decltype(field)>>(); }); };
  std::map<std::string, Setter> setters = {
      {"host", num(o.host)}, {"port", num(o.port)}, {"data-dir", num(o.data_dir)}, {"workers", num(o.workers)},
      {"queue-size", num(o.queue_size)}, {"max-upload-mb", num(o.max_upload_mb)}, {"sync-wait-s", num(o.sync_wait_s)},
      {"public-url", num(o.public_url)}, {"retention-h", num(o.retention_h)},
      {"janitor-interval-s", num(o.janitor_interval_s)}, {"max-audio-s", num(o.max_audio_s)},
      {"max-image-mp", num(o.max_image_mp)}, {"engine", num(o.engine)}, {"http-threads", num(o.http_threads)},
      {"sse-keepalive-s", num(o.sse_keepalive_s)}, {"shutdown-grace-s", num(o.shutdown_grace_s)},
      {"web-dir", num(o.web_dir)}, {"log-level", num(o.log_level)}, {"log-file", num(o.log_file)},
      {"port-file", num(o.port_file)}, {"no-cache", num(o.no_cache)}, {"auth", num(o.auth)},
      {"insecure-no-auth", num(o.insecure_no_auth)}, {"jwt-secret-file", num(o.jwt_secret_file)},
      {"jwt-public-key", num(o.jwt_public_key)}, {"jwt-issuer", num(o.jwt_issuer)},
      {"jwt-audience", num(o.jwt_audience)}, {"jwt-admin-claim", num(o.jwt_admin_claim)},
      {"url-signing-key-file", num(o.url_signing_key_file)}, {"signed-url-ttl-s", num(o.signed_url_ttl_s)},
      {"api-keys-file", num(o.api_keys_file)}, {"metrics-key-file", num(o.metrics_key_file)},
      {"rate-limit-per-min", num(o.rate_limit_per_min)}, {"rate-limit-burst", num(o.rate_limit_burst)},
      {"max-active-jobs", num(o.max_active_jobs)}, {"trusted-proxy", num(o.trusted_proxy)},
      {"cors-origin", num(o.cors_origin)}, {"cors-allow-credentials", num(o.cors_allow_credentials)},
      {"tls-cert", num(o.tls_cert)}, {"tls-key", num(o.tls_key)},
      {"http-quick-threads", num(o.http_quick_threads)}, {"max-connections", num(o.max_connections)},
      {"max-connections-per-client", num(o.max_connections_per_client)}, {"max-headers", num(o.max_headers)},
      {"max-head-kb", num(o.max_head_kb)}, {"head-timeout-s", num(o.head_timeout_s)},
      {"keepalive-timeout-s", num(o.keepalive_timeout_s)}, {"body-timeout-s", num(o.body_timeout_s)},
      {"min-upload-kb-s", num(o.min_upload_kb_s)}, {"write-timeout-s", num(o.write_timeout_s)},
      {"redis", num(o.redis)}, {"redis-prefix", num(o.redis_prefix)}, {"lease-s", num(o.lease_s)},
      {"max-deliveries", num(o.max_deliveries)}, {"worker-url-ttl-h", num(o.worker_url_ttl_h)},
      {"url-allow", num(o.url_allow)}, {"url-allow-http", num(o.url_allow_http)},
      {"fetch-timeout-s", num(o.fetch_timeout_s)}, {"fetch-read-timeout-s", num(o.fetch_read_timeout_s)},
      {"fetch-ca-file", num(o.fetch_ca_file)}, {"webhook-secret-file", num(o.webhook_secret_file)},
      {"webhook-retry-period-s", num(o.webhook_retry_period_s)},
      {"webhook-first-retry-s", num(o.webhook_first_retry_s)}, {"webhook-timeout-s", num(o.webhook_timeout_s)},
      {"external-engine", num(o.external_engines)},
      {"external-engines", Setter([&o](const nlohmann::json& v) { o.external_engines_json = v; })},
      {"max-job-megapixel-frames", num(o.max_job_megapixel_frames)}, {"job-timeout-s", num(o.job_timeout_s)},
      {"max-full-frame-side", num(o.max_full_frame_side)}, {"min-free-mb", num(o.min_free_mb)},
      {"job-retention-h", num(o.job_retention_h)}};
  for (auto it = file.begin(); it != file.end(); ++it) {
    std::string key = it.key();
    for (char& c : key)
      if (c == '_') c = '-';
    auto setter = setters.find(key);
    if (setter == setters.end())
      throw Error(ErrorCode::invalid_config, "Unknown setting '" + it.key() + "' in " + o.config_file + ".", it.key());
    if (key != "external-engines" && cmd.get_option("--" + key)->count() > 0) continue;  // a flag or env var wins
    try {
      setter->second(it.value());
      o.from_config_file.insert(key);
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorCode::invalid_config, "Setting '" + it.key() + "' in " + o.config_file + " has the wrong type.",
                  it.key());
    }
  }
}

int run_serve(CLI::App& cmd, ServeOptions o) {
  try {
    if (!o.config_file.empty()) apply_config_file(cmd, o);
  } catch (const Error& e) {
    std::cerr << "error (" << e.code_name() << "): " << e.message() << "\n";
    return 2;
  }
  log::init(log::parse_level(o.log_level), o.log_file);

  // Access control is settled before anything listens: a refusal exits 2 at once.
  std::shared_ptr<const http::Authenticator> auth;
  http::TrustedProxies proxies;
  http::CorsPolicy cors;
  try {
    http::AuthSettings as;
    as.mode = o.auth;
    if (const char* secret = std::getenv("SONIC_JWT_SECRET"); secret && o.jwt_secret_file.empty()) as.jwt_secret = secret;
    as.jwt_secret_file = o.jwt_secret_file;
    as.jwt_public_key_file = o.jwt_public_key;
    as.issuer = o.jwt_issuer;
    as.audience = o.jwt_audience;
    as.admin_claim = o.jwt_admin_claim;
    as.url_signing_key_file = o.url_signing_key_file;
    as.signed_url_ttl_s = o.signed_url_ttl_s;
    as.api_keys_file = o.api_keys_file;
    if (!o.metrics_key_file.empty()) as.metrics_key = http::read_secret_file(o.metrics_key_file, "metrics-key-file");
    else if (const char* key = std::getenv("SONIC_METRICS_KEY")) as.metrics_key = key;
    bool hs_secret = !as.jwt_secret.empty() || !as.jwt_secret_file.empty();
    if (as.mode != "none" && as.url_signing_key_file.empty() && !(as.mode == "jwt" && hs_secret))
      as.url_signing_key_file = persistent_url_key(o.data_dir);
    auth = std::make_shared<const http::Authenticator>(as);
    proxies = http::TrustedProxies(o.trusted_proxy);
    cors = http::CorsPolicy(o.cors_origin, o.cors_allow_credentials);
    if (o.rate_limit_per_min < 0 || o.rate_limit_burst < 1)
      throw Error(ErrorCode::invalid_config, "--rate-limit-per-min must be >= 0 (0 = off) and --rate-limit-burst >= 1.",
                  "rate-limit-per-min");
    if (o.tls_cert.empty() != o.tls_key.empty())
      throw Error(ErrorCode::invalid_config, "HTTPS needs both --tls-cert and --tls-key.",
                  o.tls_cert.empty() ? "tls-cert" : "tls-key");
    if (!auth->enabled() && !http::is_loopback_host(o.host)) {
      if (!o.insecure_no_auth)
        throw Error(ErrorCode::invalid_config,
                    "Refusing to serve " + o.host + " without authentication: anyone who can reach it would see "
                    "every job. Use --auth jwt (docs/auth.md), bind 127.0.0.1, or pass --insecure-no-auth.",
                    "auth");
      log::warn("serving without authentication on a non-loopback address (--insecure-no-auth)", {{"host", o.host}});
    }
    // The per-user limits guard a shared server. With auth off on a loopback address the one
    // user is the person at this machine (a local ComfyUI batch of 50 videos must not be
    // refused), so there they are off unless a flag, a SONIC_* variable or the config file
    // sets them. Auth on, or a non-loopback bind (--insecure-no-auth), keeps the defaults.
    if (!auth->enabled() && http::is_loopback_host(o.host)) {
      auto given = [&](const std::string& name) {
        return cmd.get_option("--" + name)->count() > 0 || o.from_config_file.count(name) > 0;
      };
      if (!given("rate-limit-per-min") && !given("rate-limit-burst")) o.rate_limit_per_min = 0;
      if (!given("max-active-jobs")) o.max_active_jobs = 0;
    }
  } catch (const Error& e) {
    log::error("serve refused", {{"code", e.code_name()}, {"error", e.message()}});
    std::cerr << "error (" << e.code_name() << "): " << e.message() << "\n";
    return 2;
  }

  // Block the shutdown signals in every thread; only the signal thread receives them.
  const sigset_t signals = block_stop_signals();  // a client that hangs up must not kill the server

  try {
    jobs::ServiceConfig sc;
    sc.data_dir = o.data_dir;
    sc.workers = o.redis.empty() ? std::max(1, o.workers) : std::max(0, o.workers);
    sc.queue_capacity = static_cast<std::size_t>(std::max(1, o.queue_size));
    sc.default_engine = o.engine;
    sc.limits.max_audio_seconds = o.max_audio_s;
    sc.limits.max_image_pixels = static_cast<std::int64_t>(o.max_image_mp * 1e6);
    sc.retention = std::chrono::seconds(static_cast<std::int64_t>(o.retention_h * 3600));
    sc.janitor_interval = std::chrono::seconds(std::max(1, o.janitor_interval_s));
    sc.cache = !o.no_cache;
    sc.isolate_clients = auth->enabled();
    sc.max_active_per_client = std::max(0, o.max_active_jobs);
    sc.version = SONIC_VERSION;
    if (!o.redis.empty()) {
      // With Redis, jobs go to remote workers; engine threads here only when --workers says.
      auto given = [&](const std::string& name) {
        return cmd.get_option("--" + name)->count() > 0 || o.from_config_file.count(name) > 0;
      };
      if (!given("workers")) sc.workers = 0;
      if (o.lease_s < 1) throw Error(ErrorCode::invalid_config, "--lease-s must be at least 1.", "lease-s");
      if (o.max_deliveries < 1)
        throw Error(ErrorCode::invalid_config, "--max-deliveries must be at least 1.", "max-deliveries");
      jobs::remote::RemoteConfig rc;
      rc.redis = jobs::remote::parse_redis_url(o.redis);
      rc.prefix = o.redis_prefix;
      rc.lease = std::chrono::milliseconds(static_cast<long>(o.lease_s * 1000));
      rc.max_deliveries = o.max_deliveries;
      rc.url_ttl = std::chrono::seconds(std::max(1L, static_cast<long>(o.worker_url_ttl_h * 3600)));
      rc.max_result_bytes = static_cast<std::uint64_t>(o.max_upload_mb * 1024 * 1024);
      sc.remote = rc;
    }
    sc.max_job_megapixel_frames = std::max(0.0, o.max_job_megapixel_frames);
    sc.job_timeout = std::chrono::seconds(std::max(0, o.job_timeout_s));
    sc.limits.max_full_frame_side = std::max(0, o.max_full_frame_side);
    sc.min_free_bytes = static_cast<std::uint64_t>(std::max(0.0, o.min_free_mb) * 1024 * 1024);
    sc.job_retention = std::chrono::seconds(static_cast<std::int64_t>(std::max(o.job_retention_h, o.retention_h) * 3600));

    http::HttpConfig hc;
    hc.host = o.host;
    hc.port = o.port;
    hc.public_base_url = o.public_url;
    hc.max_request_bytes = static_cast<std::uint64_t>(o.max_upload_mb * 1024 * 1024);
    hc.sync_wait = std::chrono::seconds(std::max(0, o.sync_wait_s));
    hc.sse_keepalive = std::chrono::seconds(std::max(1, o.sse_keepalive_s));
    hc.http_threads = o.http_threads;
    hc.web_dir = o.web_dir;
    hc.version = SONIC_VERSION;
    hc.auth = auth;
    hc.rate_limit_per_min = o.rate_limit_per_min;
    hc.rate_limit_burst = o.rate_limit_burst;
    hc.trusted_proxies = proxies;
    hc.cors = cors;
    hc.tls_cert_file = o.tls_cert;
    hc.tls_key_file = o.tls_key;
    hc.http_quick_threads = o.http_quick_threads;
    hc.max_connections = o.max_connections;
    hc.max_connections_per_client = o.max_connections_per_client;
    hc.max_headers = o.max_headers;
    hc.max_head_kb = o.max_head_kb;
    hc.head_timeout = std::chrono::seconds(std::max(1, o.head_timeout_s));
    hc.keepalive_timeout = std::chrono::seconds(std::max(1, o.keepalive_timeout_s));
    hc.body_timeout = std::chrono::seconds(std::max(1, o.body_timeout_s));
    hc.min_body_kb_per_s = std::max(0.0, o.min_upload_kb_s);
    hc.write_timeout = std::chrono::seconds(std::max(1, o.write_timeout_s));

    // The SSRF-safe outbound client, for inputs by URL and webhook deliveries.
    http::OutboundSettings os;
    os.allow = http::parse_networks(o.url_allow, "url-allow");
    os.allow_http = o.url_allow_http;
    auto ms = [](double s) { return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.001, s) * 1000)); };
    os.fetch_timeout = ms(o.fetch_timeout_s);
    os.read_timeout = ms(o.fetch_read_timeout_s);
    os.post_timeout = ms(o.webhook_timeout_s);
    os.ca_file = o.fetch_ca_file;
    os.user_agent = std::string("sonic-server/") + SONIC_VERSION;
    auto outbound = std::make_shared<const http::OutboundClient>(os);
    hc.outbound = outbound;
    std::filesystem::create_directories(o.data_dir);
    const char* secret = std::getenv("SONIC_WEBHOOK_SECRET");
    sc.webhooks.secret = secret && o.webhook_secret_file.empty() ? std::string(secret)
                                                                 : jobs::load_webhook_secret(o.data_dir, o.webhook_secret_file);
    sc.webhooks.transport = std::make_shared<http::OutboundWebhookTransport>(outbound, auth);
    sc.webhooks.retry_period = std::chrono::seconds(static_cast<std::int64_t>(std::max(1.0, o.webhook_retry_period_s)));
    sc.webhooks.first_retry = ms(o.webhook_first_retry_s);
    sc.webhooks.user_agent = os.user_agent;

    // External engines start loading their models now, while the rest comes up; the same
    // declarations work for `worker` and `generate`.
    std::vector<engine::external::EngineDeclaration> declarations =
        engine::external::engine_declarations_from_json(o.external_engines_json);
    for (const auto& text : o.external_engines) declarations.push_back(engine::external::parse_engine_declaration(text));
    engine::install_external_engines(declarations);
    struct EnginesStop {
      ~EnginesStop() { engine::stop_external_engines(); }
    } engines_stop;

    jobs::JobService service(sc);
    http::HttpServer server(hc, service);
    int port = server.bind();
    service.start();

    std::string url = std::string(o.tls_cert.empty() ? "http" : "https") + "://" + o.host + ":" + std::to_string(port);
    if (!o.port_file.empty()) {
      std::string tmp = o.port_file + ".tmp";
      std::ofstream(tmp) << port << "\n";
      std::rename(tmp.c_str(), o.port_file.c_str());
    }
    log::info("listening", {{"url", url}, {"port", port}, {"data_dir", o.data_dir}, {"workers", sc.workers},
                            {"queue_size", sc.queue_capacity}, {"max_upload_mb", o.max_upload_mb},
                            {"auth", auth->enabled() ? auth->algorithm() : "none"}, {"tls", !o.tls_cert.empty()},
                            {"rate_limit_per_min", o.rate_limit_per_min}, {"max_active_jobs", o.max_active_jobs}});
    std::cout << "sonic-server listening on " << url << std::endl;

    std::atomic<bool> done{false};
    std::atomic<int> received{0};
    std::thread signal_thread([&] {
      timespec slice{0, 200'000'000};
      while (!done) {
        int sig = sigtimedwait(&signals, nullptr, &slice);
        if (sig <= 0) continue;
        received = sig;
        log::info("shutdown requested", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        service.begin_shutdown();  // wakes sync waiters and SSE streams
        server.stop();
        return;
      }
    });
    bool ok = server.run();
    done = true;
    signal_thread.join();
    service.stop(std::chrono::seconds(std::max(0, o.shutdown_grace_s)));
    log::info("stopped", {{"clean", ok}});
    if (!o.port_file.empty()) std::remove(o.port_file.c_str());
    return ok || received ? 0 : 1;
  } catch (...) {
    return exit_status_for_current_error("serve failed", {ErrorCode::invalid_config});
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the HTTP API, the job queue and the engine workers");
  auto opt = [&](const std::string& flags, auto& field, const std::string& env, const std::string& help) {
    return cmd->add_option(flags, field, help)->envname(env)->capture_default_str();
  };
  opt("--host", o->host, "SONIC_HOST", "Address to listen on");
  opt("--port", o->port, "SONIC_PORT", "Port to listen on (0 = any free port)");
  opt("--data-dir", o->data_dir, "SONIC_DATA_DIR", "Folder for uploads/, outputs/ and the job database");
  opt("--workers", o->workers, "SONIC_WORKERS", "Engine workers (jobs run at once)");
  opt("--queue-size", o->queue_size, "SONIC_QUEUE_SIZE", "Jobs that may wait; more -> 429 queue_full");
  opt("--max-upload-mb", o->max_upload_mb, "SONIC_MAX_UPLOAD_MB", "Largest request body, enforced while reading");
  opt("--sync-wait-s", o->sync_wait_s, "SONIC_SYNC_WAIT_S", "How long POST /api/sonic/generate waits before 202");
  opt("--public-url", o->public_url, "SONIC_PUBLIC_URL", "Base of video_url (default: from the request's Host)");
  opt("--retention-h", o->retention_h, "SONIC_RETENTION_H", "Hours an output is kept");
  opt("--janitor-interval-s", o->janitor_interval_s, "SONIC_JANITOR_INTERVAL_S", "Seconds between file sweeps");
  opt("--max-audio-s", o->max_audio_s, "SONIC_MAX_AUDIO_S", "Longest accepted recording");
  opt("--max-image-mp", o->max_image_mp, "SONIC_MAX_IMAGE_MP", "Largest accepted image, megapixels");
  opt("--engine", o->engine, "SONIC_ENGINE", "Default engine (empty = classic)");
  opt("--http-threads", o->http_threads, "SONIC_HTTP_THREADS",
      "Uploads, SSE streams and downloads served at once (more -> 503 server_busy)");
  opt("--sse-keepalive-s", o->sse_keepalive_s, "SONIC_SSE_KEEPALIVE_S", "Seconds between SSE keep-alive comments");
  opt("--shutdown-grace-s", o->shutdown_grace_s, "SONIC_SHUTDOWN_GRACE_S",
      "Seconds running jobs get to finish on SIGTERM before they are requeued");
  opt("--web-dir", o->web_dir, "SONIC_WEB_DIR", "Serve the web page from this folder instead of the embedded copy");
  opt("--log-level", o->log_level, "SONIC_LOG_LEVEL", "debug | info | warn | error");
  opt("--log-file", o->log_file, "SONIC_LOG_FILE", "Also write the JSON log lines to this file");
  opt("--config-file", o->config_file, "SONIC_CONFIG", "JSON file of settings (keys = flag names)");
  opt("--port-file", o->port_file, "SONIC_PORT_FILE", "Write the bound port here once ready");
  opt("--auth", o->auth, "SONIC_AUTH", "none (loopback only) | jwt | apikey")
      ->check(CLI::IsMember({"none", "jwt", "apikey"}));
  cmd->add_flag("--insecure-no-auth", o->insecure_no_auth, "Allow --auth none on a non-loopback address")
      ->envname("SONIC_INSECURE_NO_AUTH");
  opt("--jwt-secret-file", o->jwt_secret_file, "SONIC_JWT_SECRET_FILE",
      "HS256 secret (>= 32 bytes) in a file; or the secret itself in SONIC_JWT_SECRET");
  opt("--jwt-public-key", o->jwt_public_key, "SONIC_JWT_PUBLIC_KEY", "PEM public key: RSA -> RS256, EC P-256 -> ES256");
  opt("--jwt-issuer", o->jwt_issuer, "SONIC_JWT_ISSUER", "Required iss claim (empty = not checked)");
  opt("--jwt-audience", o->jwt_audience, "SONIC_JWT_AUDIENCE", "Required aud claim (empty = not checked)");
  opt("--jwt-admin-claim", o->jwt_admin_claim, "SONIC_JWT_ADMIN_CLAIM",
      "CLAIM (true) or CLAIM=VALUE (in a string or list); empty = admin:true or scope has 'admin'");
  opt("--url-signing-key-file", o->url_signing_key_file, "SONIC_URL_SIGNING_KEY_FILE",
      "Key for signed download URLs (default: derived from the HS256 secret, else <data-dir>/url-signing.key)");
  opt("--signed-url-ttl-s", o->signed_url_ttl_s, "SONIC_SIGNED_URL_TTL_S", "Lifetime of a signed video_url");
  opt("--api-keys-file", o->api_keys_file, "SONIC_API_KEYS_FILE",
      "Hashed static API keys, '<sub> sha256:<hex> [admin]' per line (sonic-server apikey)");
  opt("--metrics-key-file", o->metrics_key_file, "SONIC_METRICS_KEY_FILE",
      "A bearer key for /metrics (or the key itself in SONIC_METRICS_KEY)");
  opt("--rate-limit-per-min", o->rate_limit_per_min, "SONIC_RATE_LIMIT_PER_MIN",
      "Generate requests a minute per user (per client address with auth off); 0 = off. "
      "Off by default with auth off on a loopback address");
  opt("--rate-limit-burst", o->rate_limit_burst, "SONIC_RATE_LIMIT_BURST", "Generate requests allowed at once");
  opt("--max-active-jobs", o->max_active_jobs, "SONIC_MAX_ACTIVE_JOBS",
      "Jobs one user may have queued + running; 0 = no cap. Off by default with auth off on a loopback address");
  opt("--trusted-proxy", o->trusted_proxy, "SONIC_TRUSTED_PROXY",
      "Reverse proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For/-Proto/-Host count");
  opt("--cors-origin", o->cors_origin, "SONIC_CORS_ORIGIN",
      "Other web origins allowed to call the API (comma-separated, or *); default same origin only");
  cmd->add_flag("--cors-allow-credentials", o->cors_allow_credentials,
                "Send Access-Control-Allow-Credentials to listed origins (never with *)")
      ->envname("SONIC_CORS_ALLOW_CREDENTIALS");
  opt("--tls-cert", o->tls_cert, "SONIC_TLS_CERT", "Serve HTTPS with this PEM certificate chain (with --tls-key)");
  opt("--tls-key", o->tls_key, "SONIC_TLS_KEY", "The PEM private key of --tls-cert");
  opt("--http-quick-threads", o->http_quick_threads, "SONIC_HTTP_QUICK_THREADS",
      "Threads for health, status and metadata requests");
  opt("--max-connections", o->max_connections, "SONIC_MAX_CONNECTIONS",
      "Open connections in all (lowered to the file-descriptor limit); more -> 503");
  opt("--max-connections-per-client", o->max_connections_per_client, "SONIC_MAX_CONNECTIONS_PER_CLIENT",
      "Open connections per client address (--trusted-proxy peers exempt); 0 = no cap; more -> 429");
  opt("--max-headers", o->max_headers, "SONIC_MAX_HEADERS", "Header fields per request; more -> 431");
  opt("--max-head-kb", o->max_head_kb, "SONIC_MAX_HEAD_KB", "KiB of request line + headers; more -> 431");
  opt("--head-timeout-s", o->head_timeout_s, "SONIC_HEAD_TIMEOUT_S",
      "Seconds for a whole request head to arrive; later -> 408 and close");
  opt("--keepalive-timeout-s", o->keepalive_timeout_s, "SONIC_KEEPALIVE_TIMEOUT_S",
      "Seconds an idle keep-alive connection is kept");
  opt("--body-timeout-s", o->body_timeout_s, "SONIC_BODY_TIMEOUT_S",
      "Seconds without a byte of a request body before 408 and close");
  opt("--min-upload-kb-s", o->min_upload_kb_s, "SONIC_MIN_UPLOAD_KB_S",
      "Average upload rate (KiB/s) required after the first 10 s; 0 = none");
  opt("--write-timeout-s", o->write_timeout_s, "SONIC_WRITE_TIMEOUT_S",
      "Seconds without progress writing a response before the connection is closed");
  opt("--url-allow", o->url_allow, "SONIC_URL_ALLOW",
      "Networks (IPs/CIDRs, comma-separated) that image_url, audio_url and webhook_url may reach although private, "
      "loopback or link-local");
  cmd->add_flag("--url-allow-http", o->url_allow_http, "Let input and webhook URLs be http:// as well as https://")
      ->envname("SONIC_URL_ALLOW_HTTP");
  opt("--fetch-timeout-s", o->fetch_timeout_s, "SONIC_FETCH_TIMEOUT_S", "Longest fetch of one input URL, redirects included");
  opt("--fetch-read-timeout-s", o->fetch_read_timeout_s, "SONIC_FETCH_READ_TIMEOUT_S",
      "Seconds without a byte from an input URL's server before the fetch fails");
  opt("--fetch-ca-file", o->fetch_ca_file, "SONIC_FETCH_CA_FILE",
      "PEM CA certificates trusted for https input and webhook URLs besides the system's");
  opt("--webhook-secret-file", o->webhook_secret_file, "SONIC_WEBHOOK_SECRET_FILE",
      "The whsec_ secret webhooks are signed with (or the secret in SONIC_WEBHOOK_SECRET); "
      "default: made once in <data-dir>/webhook-secret");
  opt("--webhook-retry-period-s", o->webhook_retry_period_s, "SONIC_WEBHOOK_RETRY_PERIOD_S",
      "How long a webhook delivery is retried");
  opt("--webhook-first-retry-s", o->webhook_first_retry_s, "SONIC_WEBHOOK_FIRST_RETRY_S",
      "Wait before a webhook's second attempt; it doubles for each further one (up to an hour)");
  opt("--webhook-timeout-s", o->webhook_timeout_s, "SONIC_WEBHOOK_TIMEOUT_S", "Longest webhook attempt");
  cmd->add_flag("--no-cache", o->no_cache, "Disable the result cache and in-flight dedup")->envname("SONIC_NO_CACHE");
  opt("--redis", o->redis, "SONIC_REDIS_URL",
      "redis://[user:password@]host:port/db: send jobs to `sonic-server worker` processes (docs/scaling.md); "
      "without --workers, none run here");
  opt("--redis-prefix", o->redis_prefix, "SONIC_REDIS_PREFIX", "Prefix of every Redis key (several deployments, one Redis)");
  opt("--lease-s", o->lease_s, "SONIC_LEASE_S",
      "Seconds a remote job's lease lasts unrenewed before another worker takes it over (same on every worker)");
  opt("--max-deliveries", o->max_deliveries, "SONIC_MAX_DELIVERIES",
      "Runs of one remote job before it is dead-lettered and fails as worker_crashed");
  opt("--worker-url-ttl-h", o->worker_url_ttl_h, "SONIC_WORKER_URL_TTL_H",
      "Hours a job message's signed file URLs stay valid (longer than a job waits in its stream and runs)");
  cmd->add_option("--external-engine", o->external_engines,
                  "An external engine, NAME=COMMAND ARGS (no shell) or a JSON object; repeatable "
                  "(docs/engine-protocol.md)");
  opt("--max-job-megapixel-frames", o->max_job_megapixel_frames, "SONIC_MAX_JOB_MEGAPIXEL_FRAMES",
      "Most output megapixels x frames one job may render (more -> 422 job_too_large); 0 = no budget");
  opt("--job-timeout-s", o->job_timeout_s, "SONIC_JOB_TIMEOUT_S",
      "Wall-clock limit of a running job (past it the job fails with job_timeout); 0 = none");
  opt("--max-full-frame-side", o->max_full_frame_side, "SONIC_MAX_FULL_FRAME_SIDE",
      "full_frame output is scaled down to fit this many pixels on its longer side; 0 = no cap");
  opt("--min-free-mb", o->min_free_mb, "SONIC_MIN_FREE_MB",
      "Below this much free space on the data disk /readyz fails and new jobs get 507; 0 = off");
  opt("--job-retention-h", o->job_retention_h, "SONIC_JOB_RETENTION_H",
      "Hours a finished job's row is kept (at least --retention-h); then it is deleted with its files");
  cmd->callback([o, cmd] { throw CLI::RuntimeError(run_serve(*cmd, *o)); });
}

}  // namespace sonic::app
