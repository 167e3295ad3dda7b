// HttpServer: every route of DESIGN §5 on cpp-httplib. This file is the only one in the
// project that includes httplib.h; handlers translate between HTTP and JobService calls
// and never do media work beyond probing an upload's header.
//
// Request lifecycle: the pre-routing hook stamps a request id (X-Request-Id, taken from
// the client when it is sane, else made) and a start time in a thread_local context —
// cpp-httplib runs one request from pre-routing to the logger on one thread — the route
// wrapper records the route pattern and turns sonic::Error into the JSON error body, and
// the logger writes one JSON line and the metrics per request.
//
// Access (auth.h, docs/auth.md): every route is declared public, user or admin. With auth
// on, a user's jobs exist only for that user (and admins): another subject gets the same
// 404 as for an unknown id, so ids cannot be probed. Downloads take a signed URL (what
// video_url carries) or the owner's bearer token.
//
// Limits (docs/auth.md): generate takes a token from the caller's bucket (RateLimiter)
// before a byte of the upload is stored, and a new job must fit under the caller's cap of
// active jobs (JobService); both answer 429 rate_limited with Retry-After. The caller is
// the token's subject, or the client address (X-Forwarded-For only from --trusted-proxy
// peers) with auth off. CORS headers are added in pre-routing for allowed origins; OPTIONS
// answers preflights. Bodies: see kSmallBody and hang_up().
#include "http/http_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <charconv>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/params.h"
#include "http/header_text.h"
#include "jobs/admission.h"
#include "http/metrics.h"
#include "http/peer_socket.h"
#include "http/rate_limit.h"
#include "http/upload_sink.h"
#include "http/web_assets.h"
#include "media/probe.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::http {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct RequestContext {
  std::string request_id;
  std::string route = "unmatched";
  std::chrono::steady_clock::time_point start;
  std::uint64_t bytes_in = 0;
  double read_ms = 0;   // generate: until the upload was stored
  double probe_ms = 0;  // generate: content sniffing of both files
  std::optional<Identity> identity;  // auth on: who sent the request
  std::string client;                // the client's address (see client_address.h)
  bool close_connection = false;     // the body was not read to its end: hang up after answering
};
thread_local RequestContext t_request;

// metrics: an admin, or the --metrics-key-file key; open with auth off and no key.
enum class Access { public_route, user, admin, metrics };

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Request bodies. Only generate takes one (streamed to disk by UploadSink under
// max_request_bytes); every other route's body would be buffered in memory by cpp-httplib,
// so anything over kSmallBody there is refused before it is read. A generate body over the
// limit is read and dropped up to twice the limit, so a browser sees the 413 instead of a
// reset connection; beyond that the connection is closed without reading it.
constexpr std::uint64_t kSmallBody = 64 * 1024;

std::optional<std::uint64_t> content_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  std::string text = req.get_header_value("Content-Length");
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::numeric_limits<std::uint64_t>::max();
  return value;
}

// Marks the connection to be closed once this answer is written (see hang_up()): bytes of
// the body may still be on their way, and they must never be read as another request.
void close_after_response(httplib::Response& res) {
  res.set_header("Connection", "close");
  t_request.close_connection = true;
}

// Ends the connection of `req` after its answer was written: cpp-httplib 0.11 keeps a
// connection open after a handler says `Connection: close` and parses whatever follows as
// the next request — the rest of an unread body, which behind a proxy that reuses
// connections is request smuggling (see peer_socket.h). Runs only for refused bodies.
void hang_up(const httplib::Request& req) {
  if (!shut_down_connection(req.remote_addr, req.remote_port, req.local_port))
    log::warn("could not end a connection after refusing its body",
              {{"client", req.remote_addr}, {"port", req.remote_port}, {"request_id", t_request.request_id}});
}

bool is_upload_route(const httplib::Request& req) { return req.method == "POST" && req.path == "/api/sonic/generate"; }

bool sane_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json error_body(ErrorCode code, const std::string& message, const std::string& field) {
  json body = {{"success", false}, {"error", message}, {"code", code_name(code)}};
  if (!field.empty()) body["field"] = field;
  if (!t_request.request_id.empty()) body["request_id"] = t_request.request_id;
  return body;
}

void send_error(httplib::Response& res, const Error& e) {
  if (e.retry_after_s() > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s()));
  else if (e.code() == ErrorCode::queue_full || e.code() == ErrorCode::rate_limited) res.set_header("Retry-After", "5");
  else if (e.code() == ErrorCode::shutting_down) res.set_header("Retry-After", "10");
  send_json(res, e.http_status(), error_body(e.code(), e.message(), e.field()));
}

// The error of a finished job as the API answers it (the job id included).
void send_job_error(httplib::Response& res, const jobs::JobRecord& job) {
  const ErrorCode code = parse_code(job.error_code).value_or(ErrorCode::internal);
  json body = error_body(code, job.error_message, job.error_field);
  body["code"] = job.error_code;  // keeps "interrupted", which is not a request error code
  body["job_id"] = job.id;
  body["status"] = jobs::state_name(job.state);
  send_json(res, http_status(code), body);
}

std::string file_extension(media::ImageFormat f) { return std::string(media::format_name(f)); }
std::string file_extension(media::AudioFormat f) {
  switch (f) {
    case media::AudioFormat::ogg_vorbis:
    case media::AudioFormat::ogg_opus: return "ogg";
    case media::AudioFormat::m4a_aac: return "m4a";
    default: return std::string(media::format_name(f));
  }
}

bool is_output_name(const std::string& name) {
  return name.size() == 40 && name.compare(36, 4, ".mp4") == 0 && jobs::is_uuid(std::string_view(name).substr(0, 36));
}

std::string content_type_for(const fs::path& p) {
  auto ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

// An open file shared by the content provider calls of one download.
struct OpenFile {
  int fd = -1;
  explicit OpenFile(const fs::path& p) : fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) {}
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
};

// The HTTPS server for --tls-cert/--tls-key: TLS 1.2 or newer, the chain and key loaded and
// checked against each other; Error(invalid_config) saying which file is wrong otherwise.
std::unique_ptr<httplib::Server> make_tls_server(const std::string& cert, const std::string& key) {
  if (cert.empty() || key.empty())
    throw Error(ErrorCode::invalid_config, "HTTPS needs both --tls-cert and --tls-key.", cert.empty() ? "tls-cert" : "tls-key");
  std::string problem;
  auto openssl_error = [] {
    char text[256] = {0};
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    ERR_clear_error();
    return std::string(text);
  };
  auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1) {
      problem = "Cannot use " + cert + " as the TLS certificate (PEM chain, server first): " + openssl_error();
      return false;
    }
    if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      // OpenSSL already compares a key of the certificate's kind with it here.
      bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
      problem = mismatch ? "The TLS key " + key + " does not belong to the certificate " + cert + "."
                         : "Cannot use " + key + " as the TLS private key (unencrypted PEM): " + openssl_error();
      ERR_clear_error();
      return false;
    }
    if (SSL_CTX_check_private_key(&ctx) != 1) {
      problem = "The TLS key " + key + " does not belong to the certificate " + cert + ".";
      return false;
    }
    return true;
  });
  if (!server->is_valid())
    throw Error(ErrorCode::invalid_config, problem.empty() ? "TLS could not be set up." : problem, "tls-cert");
  return server;
}

std::string header_first_value(const httplib::Request& req, const char* name) {
  const std::string value = req.get_header_value(name);
  const auto items = comma_items(value);
  return items.empty() ? std::string() : std::string(items.front());
}

}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  jobs::JobService& service;
  std::unique_ptr<httplib::Server> server_owner;
  httplib::Server& server;
  HttpMetrics metrics;
  RateLimiter limiter;

  Impl(HttpConfig c, jobs::JobService& s)
      : config(std::move(c)),
        service(s),
        server_owner(tls() ? make_tls_server(config.tls_cert_file, config.tls_key_file)
                           : std::make_unique<httplib::Server>()),
        server(*server_owner),
        limiter(config.rate_limit_per_min, config.rate_limit_burst) {}

  bool tls() const { return !config.tls_cert_file.empty() || !config.tls_key_file.empty(); }
  bool auth_on() const { return config.auth && config.auth->enabled(); }

  // Sets t_request.identity, or throws unauthorized (401 + WWW-Authenticate) / forbidden.
  void authorize(const httplib::Request& req, httplib::Response& res, Access access) {
    if (access == Access::public_route) return;
    if (access == Access::metrics) {
      bool has_key = config.auth && config.auth->has_metrics_key();
      if (has_key && config.auth->metrics_key_matches(req.get_header_value("Authorization"))) return;
      if (!auth_on() && !has_key) return;
      if (!auth_on()) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"sonic-server metrics\"");
        throw Error(ErrorCode::unauthorized, "Send Authorization: Bearer <the metrics key>.");
      }
      access = Access::admin;
    }
    if (!auth_on()) return;
    AuthFailure failure;
    auto identity = config.auth->authenticate(req.get_header_value("Authorization"), unix_now(), failure,
                                              req.get_header_value("X-API-Key"));
    if (!identity) {
      std::string challenge = "Bearer realm=\"sonic-server\"";
      if (failure.token_present) challenge += ", error=\"invalid_token\"";
      res.set_header("WWW-Authenticate", challenge);
      throw Error(ErrorCode::unauthorized, failure.description);
    }
    if (access == Access::admin && !identity->admin) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"sonic-server\", error=\"insufficient_scope\"");
      throw Error(ErrorCode::forbidden, "This needs an admin token.");
    }
    t_request.identity = std::move(identity);
  }

  // The owner recorded on new jobs and used for "own jobs": the token's subject, or the
  // client address when auth is off.
  std::string owner(const httplib::Request&) const {
    return t_request.identity ? t_request.identity->subject : t_request.client;
  }

  // Generate's rate limit, checked before the upload is read: the caller's token bucket.
  // Error(rate_limited) with Retry-After. (The cap on active jobs is JobService::submit's:
  // only once the upload is hashed is it known whether the request joins a job in flight
  // or hits the cache, which add no work and are not capped.)
  void check_limits(const httplib::Request& req) {
    std::string key = (t_request.identity ? "sub:" : "ip:") + owner(req);
    if (auto wait = limiter.take(key)) {
      int retry = std::max(1, static_cast<int>(std::ceil(*wait)));
      std::ostringstream rate;
      rate << config.rate_limit_per_min;
      throw Error(ErrorCode::rate_limited, "Too many videos requested: the limit is " + rate.str() +
                                               " a minute; retry in " + std::to_string(retry) + " s.")
          .with_retry_after(retry);
    }
  }

  // The job if this request may see it; another user's job answers like an unknown id.
  jobs::JobRecord visible_job(const std::string& id) const {
    auto job = service.get(id);
    bool hidden = job && auth_on() && t_request.identity && !t_request.identity->admin &&
                  job->client != t_request.identity->subject;
    if (!job || hidden) throw Error(ErrorCode::not_found, "No job with id " + id + ".");
    return *job;
  }

  // Wraps a handler: checks access, records the route label and turns exceptions into
  // JSON errors.
  template <typename Fn>
  httplib::Server::Handler route(std::string label, Access access, Fn fn) {
    return [this, label, access, fn](const httplib::Request& req, httplib::Response& res) {
      t_request.route = label;
      try {
        authorize(req, res, access);
        fn(req, res);
      } catch (const Error& e) {
        send_error(res, e);
      } catch (const std::exception& e) {
        log::error("handler failed", {{"route", label}, {"error", e.what()}, {"request_id", t_request.request_id}});
        send_error(res, Error(ErrorCode::internal, "Internal error; the request id identifies it in the logs."));
      }
    };
  }

  std::string base_url(const httplib::Request& req) const {
    if (!config.public_base_url.empty()) {
      std::string b = config.public_base_url;
      while (!b.empty() && b.back() == '/') b.pop_back();
      return b;
    }
    std::string host = req.get_header_value("Host");
    std::string scheme = tls() ? "https" : "http";
    if (config.trusted_proxies.trusted(req.remote_addr)) {
      std::string proto = header_first_value(req, "X-Forwarded-Proto");
      if (proto == "https" || proto == "http") scheme = proto;
      std::string forwarded_host = header_first_value(req, "X-Forwarded-Host");
      if (!forwarded_host.empty()) host = forwarded_host;
    }
    if (host.empty() || host.find_first_of(" /\\\"<>") != std::string::npos)
      host = config.host + ":" + std::to_string(req.local_port);
    return scheme + "://" + host;
  }

  json job_json(const httplib::Request& req, const jobs::JobRecord& job) const {
    json j = job.to_json();
    j["success"] = true;
    std::string base = base_url(req);
    j["status_url"] = base + "/api/jobs/" + job.id;
    j["events_url"] = base + "/api/jobs/" + job.id + "/events";
    if (job.state == jobs::JobState::succeeded && !job.output_expired && !job.output_file.empty()) {
      std::string path = "/output/" + job.output_file;
      j["video_url"] = base + path + (auth_on() ? config.auth->sign_path(path, unix_now()) : "");
      j["output_path"] = fs::absolute(service.outputs_dir() / job.output_file).string();
    }
    return j;
  }

  // 200 body of a finished generate request: the seed's fields first.
  json generate_success(const httplib::Request& req, const jobs::JobRecord& job) const {
    json j = job_json(req, job);
    json out = {{"success", true},
                {"video_url", j.value("video_url", "")},
                {"output_path", j.value("output_path", "")},
                {"job_id", job.id},
                {"status", "succeeded"},
                {"cached", job.cached},
                {"status_url", j["status_url"]},
                {"events_url", j["events_url"]},
                {"params", job.params}};
    if (job.result.is_object()) {
      for (const char* key : {"duration", "width", "height", "fps", "frames", "engine", "engine_version"})
        if (job.result.contains(key)) out[key] = job.result[key];
      out["result"] = job.result;
      out["result"]["output_path"] = out["output_path"];
    }
    return out;
  }

  void generate(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    if (!req.is_multipart_form_data())
      throw Error(ErrorCode::unsupported_media_type,
                  "Send multipart/form-data with the files 'image' and 'audio' (and optionally 'config', 'preset').");
    std::string limit_text = std::to_string(config.max_request_bytes / (1024 * 1024)) + " MB";
    if (auto length = content_length(req); length && *length > config.max_request_bytes) {
      // Over the limit by its own account: nothing is stored. Read and drop it (pre-routing
      // already closed the connection on anything over twice the limit) so the client
      // gets to read this answer.
      bool whole = reader([](const httplib::MultipartFormData&) { return true; },
                          [](const char*, std::size_t) { return true; });
      if (!whole) close_after_response(res);
      throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text + ".");
    }
    service.require_storage(content_length(req).value_or(0));  // 507 before a byte is stored
    UploadSink sink(service.uploads_dir(), config.max_request_bytes);
    bool ok = reader([&](const httplib::MultipartFormData& part) { return sink.begin_part(part.name, part.filename); },
                     [&](const char* data, std::size_t size) { return sink.write(data, size); });
    sink.end_part();
    t_request.bytes_in = sink.total_bytes();
    metrics.add_upload_bytes(sink.total_bytes());
    if (sink.too_large() || res.status == 413 || !ok) {
      // The rest of the body was not read: this connection cannot carry another request.
      close_after_response(res);
    }
    if (sink.too_large() || res.status == 413)
      throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text + ".");
    if (sink.write_failed()) throw Error(ErrorCode::internal, "The server could not store the upload.");
    if (!ok) {
      res.status = -1;
      throw Error(ErrorCode::invalid_param,
                  "The upload is not valid multipart/form-data (cut off, or a file field sent twice).");
    }

    auto image = sink.file("image");
    if (!image) throw Error(ErrorCode::missing_file, "Send the portrait as the multipart file field 'image'.", "image");
    auto audio = sink.file("audio");
    if (!audio) throw Error(ErrorCode::missing_file, "Send the voice recording as the multipart file field 'audio'.", "audio");

    const auto& limits = service.config().limits;
    engine::GenerationParams params;
    if (auto preset = sink.text("preset"); preset && !preset->empty())
      params = engine::apply_config(params, engine::find_preset(*preset).config, limits.max_audio_seconds);
    if (auto config_text = sink.text("config"); config_text && !config_text->empty())
      params = engine::apply_config(params, engine::parse_config_text(*config_text), limits.max_audio_seconds);
    if (auto engine_name = sink.text("engine"); engine_name && !engine_name->empty()) params.engine = *engine_name;

    jobs::JobSpec spec;
    spec.client = owner(req);
    spec.request_id = t_request.request_id;
    spec.params = params;
    spec.image_sha256 = image->sha256;
    spec.audio_sha256 = audio->sha256;
    auto probe_start = std::chrono::steady_clock::now();
    t_request.read_ms = std::chrono::duration<double, std::milli>(probe_start - t_request.start).count();

    // Identical bytes were probed when the cached job ran: a cache hit skips probing.
    std::optional<jobs::SubmitOutcome> cached = service.submit_if_cached(spec);
    jobs::SubmitOutcome outcome;
    if (cached) {
      outcome = *cached;
    } else {
      jobs::Admission admitted = jobs::admit(image->path, audio->path, params, service.config());
      const media::ImageInfo& image_info = admitted.image;
      const media::AudioInfo& audio_info = admitted.audio;
      t_request.probe_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - probe_start).count();
      std::string stem = jobs::new_uuid();
      spec.image_file = stem + "-image." + file_extension(image_info.format);
      spec.audio_file = stem + "-audio." + file_extension(audio_info.format);
      sink.release("image", spec.image_file);
      sink.release("audio", spec.audio_file);
      try {
        outcome = service.submit(spec);
      } catch (...) {
        std::error_code ec;
        fs::remove(service.uploads_dir() / spec.image_file, ec);
        fs::remove(service.uploads_dir() / spec.audio_file, ec);
        throw;
      }
    }

    const jobs::JobRecord* job = &outcome.job;
    std::optional<jobs::JobRecord> waited;
    bool async = req.get_header_value("Prefer").find("respond-async") != std::string::npos;
    if (!jobs::is_final(job->state) && !async) {
      waited = service.wait_final(job->id, config.sync_wait);
      if (waited) job = &*waited;
    }
    if (job->state == jobs::JobState::succeeded) return send_json(res, 200, generate_success(req, *job));
    if (jobs::is_final(job->state)) return send_job_error(res, *job);
    json body = job_json(req, *job);
    json accepted = {{"success", true},          {"job_id", job->id},
                     {"status", body["status"]}, {"status_url", body["status_url"]},
                     {"events_url", body["events_url"]}, {"joined", outcome.joined}};
    res.set_header("Location", "/api/jobs/" + job->id);
    if (async) res.set_header("Preference-Applied", "respond-async");
    send_json(res, 202, accepted);
  }

  // With auth on: a valid signature (video_url), or the owner's / an admin's bearer token.
  // Without either the answer is 403 whether or not the file exists (no existence oracle);
  // another user's token gets the 404 of an unknown file.
  void authorize_output(const httplib::Request& req, const std::string& name) {
    if (!auth_on()) return;
    std::string path = "/output/" + name;
    if (req.has_param("sig") &&
        config.auth->verify_signed_path(path, req.get_param_value("expires"), req.get_param_value("sig"), unix_now()))
      return;
    AuthFailure failure;
    auto identity = config.auth->authenticate(req.get_header_value("Authorization"), unix_now(), failure,
                                              req.get_header_value("X-API-Key"));
    if (!identity)
      throw Error(ErrorCode::forbidden, req.has_param("sig") ? "The download link is invalid or has expired."
                                                             : "Downloads need a signed link (video_url) or a token.");
    if (!identity->admin && !(is_output_name(name) && service.output_owned_by(name, identity->subject)))
      throw Error(ErrorCode::not_found, "No such output file.");
  }

  void output(const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    authorize_output(req, name);
    auto not_found = [] { return Error(ErrorCode::not_found, "No such output file."); };
    if (!is_output_name(name)) throw not_found();
    fs::path path = service.outputs_dir() / name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw not_found();
    auto file = std::make_shared<OpenFile>(path);
    if (file->fd < 0) throw not_found();
    auto size = static_cast<std::size_t>(st.st_size);
    std::string etag = "\"" + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
                       std::to_string(st.st_mtim.tv_nsec) + "\"";
    res.set_header("ETag", etag);
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("Cache-Control", "private, max-age=3600");
    std::string inm = req.get_header_value("If-None-Match");
    if (!inm.empty() && (inm == etag || inm == "*" || inm.find(etag) != std::string::npos)) {
      res.status = 304;
      return;
    }
    for (const auto& [first, last] : req.ranges) {
      bool valid = first >= 0 ? static_cast<std::size_t>(first) < size && (last < 0 || last >= first) : last > 0;
      if (!valid || size == 0) {
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        send_json(res, 416, error_body(ErrorCode::invalid_param, "The requested range is outside the file.", "Range"));
        return;
      }
    }
    res.status = req.ranges.empty() ? 200 : 206;
    // cpp-httplib applies the Range to this full-length provider (offsets are 64-bit).
    res.set_content_provider(size, "video/mp4", [file](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
      std::vector<char> buf(std::min<std::size_t>(length, 256 * 1024));
      ssize_t n = ::pread(file->fd, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n <= 0) return false;
      return sink.write(buf.data(), static_cast<std::size_t>(n));
    });
  }

  void events(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    std::uint64_t after = 0;
    std::string last = req.get_header_value("Last-Event-ID");
    if (last.empty() && req.has_param("last_event_id")) last = req.get_param_value("last_event_id");
    if (!last.empty()) {
      try {
        after = std::stoull(last);
      } catch (const std::exception&) {
        throw Error(ErrorCode::invalid_param, "Last-Event-ID must be a number.", "Last-Event-ID");
      }
    }
    visible_job(id);
    service.events(id, after, 0ms);  // Error(not_found) before any byte is sent
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    struct Cursor {
      std::uint64_t after;
      bool sent_retry = false;
    };
    auto cursor = std::make_shared<Cursor>(Cursor{after});
    auto keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(config.sse_keepalive);
    res.status = 200;
    res.set_chunked_content_provider(
        "text/event-stream", [this, id, cursor, keepalive](std::size_t, httplib::DataSink& sink) {
          std::string out;
          if (!cursor->sent_retry) {
            out += "retry: 2000\n\n";
            cursor->sent_retry = true;
          }
          jobs::EventBatch batch;
          try {
            batch = service.events(id, cursor->after, keepalive);
          } catch (const Error&) {
            batch.known = false;  // deleted meanwhile
          }
          for (const auto& ev : batch.events) {
            out += "id: " + std::to_string(ev.id) + "\nevent: " + ev.type + "\ndata: " + ev.data.dump() + "\n\n";
            cursor->after = ev.id;
          }
          bool end = !batch.known || batch.finished;
          if (!end && batch.closing) {
            out += "event: shutdown\ndata: " +
                   json{{"job_id", id}, {"message", "The server is restarting; reconnect with Last-Event-ID."}}.dump() +
                   "\n\n";
            end = true;
          }
          if (out.empty()) out = ": keep-alive\n\n";
          if (!sink.write(out.data(), out.size())) return false;  // client gone: costs nothing more
          if (end) sink.done();
          return true;
        });
  }

  void install_routes() {
    server.Post("/api/sonic/generate",
                [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                  t_request.route = "/api/sonic/generate";
                  try {
                    try {
                      authorize(req, res, Access::user);
                      check_limits(req);
                    } catch (const Error&) {
                      // Read (and drop) a small body so the client can read the 401/429 instead
                      // of a reset; a larger one is cut off: refused uploads must not cost us.
                      std::size_t drained = 0;
                      constexpr std::size_t kDrainLimit = 2 * 1024 * 1024;
                      auto drop = [&](const char*, std::size_t n) { return (drained += n) <= kDrainLimit; };
                      bool whole = req.is_multipart_form_data()
                                       ? reader([](const httplib::MultipartFormData&) { return true; }, drop)
                                       : reader(drop);
                      if (!whole) close_after_response(res);
                      throw;
                    }
                    generate(req, res, reader);
                  } catch (const Error& e) {
                    send_error(res, e);
                  } catch (const std::exception& e) {
                    log::error("generate failed", {{"error", e.what()}, {"request_id", t_request.request_id}});
                    send_error(res, Error(ErrorCode::internal, "Internal error; the request id identifies it in the logs."));
                  }
                });
    server.Get("/api/jobs", route("/api/jobs", Access::user, [this](const httplib::Request& req, httplib::Response& res) {
      int offset = 0, limit = 20;
      try {
        if (req.has_param("offset")) offset = std::stoi(req.get_param_value("offset"));
        if (req.has_param("limit")) limit = std::stoi(req.get_param_value("limit"));
      } catch (const std::exception&) {
        throw Error(ErrorCode::invalid_param, "offset and limit must be integers.", "limit");
      }
      if (offset < 0) throw Error(ErrorCode::invalid_param, "offset must be 0 or more.", "offset");
      if (limit < 1 || limit > 100) throw Error(ErrorCode::invalid_param, "limit must be 1 to 100.", "limit");
      // An admin's list is everyone's jobs.
      std::string client = t_request.identity && t_request.identity->admin ? "" : owner(req);
      json list = json::array();
      for (const auto& job : service.list(client, offset, limit)) list.push_back(job_json(req, job));
      send_json(res, 200, {{"success", true}, {"jobs", list}, {"total", service.count(client)},
                           {"offset", offset}, {"limit", limit}});
    }));
    server.Get("/api/jobs/([^/]+)/events", route("/api/jobs/{id}/events", Access::user, [this](auto& req, auto& res) { events(req, res); }));
    server.Get("/api/jobs/([^/]+)", route("/api/jobs/{id}", Access::user, [this](const httplib::Request& req, httplib::Response& res) {
      send_json(res, 200, job_json(req, visible_job(req.matches[1])));
    }));
    server.Post("/api/jobs/([^/]+)/cancel",
                route("/api/jobs/{id}/cancel", Access::user, [this](const httplib::Request& req, httplib::Response& res) {
                  visible_job(req.matches[1]);
                  send_json(res, 200, job_json(req, service.cancel(req.matches[1])));
                }));
    server.Delete("/api/jobs/([^/]+)", route("/api/jobs/{id}", Access::user, [this](const httplib::Request& req, httplib::Response& res) {
      visible_job(req.matches[1]);
      service.remove(req.matches[1]);
      send_json(res, 200, {{"success", true}, {"job_id", std::string(req.matches[1])}, {"deleted", true}});
    }));
    server.Get("/output/(.*)", route("/output/{name}", Access::public_route, [this](auto& req, auto& res) { output(req, res); }));
    server.Get("/api/presets", route("/api/presets", Access::public_route, [](const httplib::Request&, httplib::Response& res) {
      json list = json::array();
      for (const auto& p : engine::presets())
        list.push_back({{"name", p.name}, {"description", p.description}, {"config", p.config}});
      send_json(res, 200, {{"success", true}, {"presets", list}});
    }));
    server.Get("/api/engines", route("/api/engines", Access::public_route, [this](const httplib::Request&, httplib::Response& res) {
      json list = json::array();
      std::string default_name;
      for (const auto& e : service.engines()) {
        list.push_back({{"name", e.name}, {"version", e.version}, {"description", e.description},
                        {"default", e.is_default}, {"parameters", e.parameters.to_json()}});
        if (e.is_default) default_name = e.name;
      }
      send_json(res, 200, {{"success", true}, {"engines", list}, {"default", default_name}});
    }));
    // What a client may send, so it can check before uploading (the page does).
    server.Get("/api/limits", route("/api/limits", Access::public_route, [this](const httplib::Request&, httplib::Response& res) {
      const auto& sc = service.config();
      send_json(res, 200, {{"success", true},
                           {"max_upload_bytes", config.max_request_bytes},
                           {"max_audio_seconds", sc.limits.max_audio_seconds},
                           {"max_image_pixels", sc.limits.max_image_pixels},
                           {"rate_limit_per_min", config.rate_limit_per_min},
                           {"rate_limit_burst", config.rate_limit_burst},
                           {"max_active_jobs", sc.max_active_per_client},
                           {"queue_size", service.queue_capacity()}});
    }));
    server.Get("/healthz", route("/healthz", Access::public_route, [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}, {"version", config.version}});
    }));
    server.Get("/readyz", route("/readyz", Access::public_route, [this](const httplib::Request&, httplib::Response& res) {
      std::string why;
      if (service.ready(&why)) return send_json(res, 200, {{"ready", true}});
      json body = error_body(service.accepting() ? ErrorCode::internal : ErrorCode::shutting_down, "Not ready: " + why, "");
      body["ready"] = false;
      send_json(res, 503, body);
    }));
    server.Get("/metrics", route("/metrics", Access::metrics, [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(service.metrics()), "text/plain; version=0.0.4; charset=utf-8");
    }));
    // CORS preflight (and plain OPTIONS): an allowed origin asking for allowed methods and
    // headers gets 204 with the CORS headers; any other origin gets 403 and none of them.
    server.Options(".*", route("OPTIONS", Access::public_route, [this](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", std::string(CorsPolicy::kMethods));
      std::string origin = req.get_header_value("Origin");
      std::string method = req.get_header_value("Access-Control-Request-Method");
      if (origin.empty() || method.empty()) {
        res.status = 204;
        return;
      }
      if (!config.cors.allows(origin))
        throw Error(ErrorCode::forbidden, "Origin " + origin + " may not call this API (see --cors-origin).", "Origin");
      if (!CorsPolicy::method_allowed(method))
        throw Error(ErrorCode::forbidden, "Method " + method + " is not allowed here.", "Access-Control-Request-Method");
      std::string headers = req.get_header_value("Access-Control-Request-Headers");
      if (!CorsPolicy::headers_allowed(headers))
        throw Error(ErrorCode::forbidden, "A requested header is not allowed: " + headers + ".",
                    "Access-Control-Request-Headers");
      res.set_header("Access-Control-Allow-Methods", std::string(CorsPolicy::kMethods));
      res.set_header("Access-Control-Allow-Headers", std::string(CorsPolicy::kRequestHeaders));
      res.set_header("Access-Control-Max-Age", "600");
      res.status = 204;
    }));
    server.Get("/openapi.json", route("/openapi.json", Access::public_route, [](const httplib::Request&, httplib::Response& res) {
      res.set_content(openapi_json(), "application/json");
    }));
    server.Get("/", route("/", Access::public_route, [this](const httplib::Request&, httplib::Response& res) { static_file(res, "index.html"); }));
    server.Get("/([A-Za-z0-9_-]+\\.(?:html|js|css|svg|png|ico))",
               route("/{asset}", Access::public_route, [this](const httplib::Request& req, httplib::Response& res) {
                 static_file(res, req.matches[1]);
               }));
  }

  // The web page: embedded in the binary (web_assets.h); --web-dir serves a folder instead
  // (for editing the page without rebuilding).
  void static_file(httplib::Response& res, const std::string& name) {
    if (!config.web_dir.empty()) {
      fs::path p = config.web_dir / name;
      if (fs::is_symlink(p) || !fs::is_regular_file(p)) throw Error(ErrorCode::not_found, "No such page.");
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      res.set_content(ss.str(), content_type_for(p));
      return;
    }
    const WebAsset* asset = find_web_asset("/" + name);
    if (!asset) throw Error(ErrorCode::not_found, "No such page.");
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  }

  // Before any byte of a body is read: too large for its route (see kSmallBody) -> 413 and
  // the connection is closed unread. True when answered.
  bool refuse_body(const httplib::Request& req, httplib::Response& res) {
    auto length = content_length(req);
    bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    std::string message;
    if (is_upload_route(req)) {
      if (!length || *length <= 2 * config.max_request_bytes) return false;
      t_request.route = "/api/sonic/generate";
      message = "The request is larger than the limit of " +
                std::to_string(config.max_request_bytes / (1024 * 1024)) + " MB.";
    } else {
      if (!chunked && (!length || *length <= kSmallBody)) return false;
      message = "Only POST /api/sonic/generate takes a request body of this size.";
    }
    close_after_response(res);
    send_json(res, 413, error_body(ErrorCode::payload_too_large, message, ""));
    return true;
  }

  void install_hooks() {
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      t_request = RequestContext{};
      t_request.start = std::chrono::steady_clock::now();
      std::string id = req.get_header_value("X-Request-Id");
      t_request.request_id = sane_request_id(id) ? id : jobs::new_uuid();
      res.set_header("X-Request-Id", t_request.request_id);
      t_request.client =
          config.trusted_proxies.client_address(req.remote_addr, req.get_header_value("X-Forwarded-For"));
      std::string origin = req.get_header_value("Origin");
      if (!origin.empty() && config.cors.enabled()) {
        res.set_header("Vary", "Origin");
        if (config.cors.allows(origin)) {
          res.set_header("Access-Control-Allow-Origin", config.cors.allow_origin_value(origin));
          res.set_header("Access-Control-Expose-Headers", std::string(CorsPolicy::kExposedHeaders));
          if (config.cors.allow_credentials()) res.set_header("Access-Control-Allow-Credentials", "true");
        }
      }
      return refuse_body(req, res) ? httplib::Server::HandlerResponse::Handled
                                   : httplib::Server::HandlerResponse::Unhandled;
    });
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                     httplib::Response& res) {
      if (req.method.empty()) {  // not parsed as HTTP: pre-routing never ran for it
        t_request = RequestContext{};
        t_request.request_id = jobs::new_uuid();
        res.set_header("X-Request-Id", t_request.request_id);
      }
      if (!res.body.empty() || res.has_header("Content-Length") || res.status == 304 || res.status == 416)
        return httplib::Server::HandlerResponse::Unhandled;
      if (!res.has_header("X-Request-Id") && !t_request.request_id.empty())
        res.set_header("X-Request-Id", t_request.request_id);
      json body;
      if (res.status == 404)
        body = error_body(ErrorCode::not_found, "No route for " + req.method + " " + req.path + ".", "");
      else if (res.status == 413)
        body = error_body(ErrorCode::payload_too_large, "The request body is larger than the limit.", "");
      else if (res.status == 405 || res.status == 400 || res.status == 414)
        body = error_body(ErrorCode::invalid_param, "The request is not valid HTTP for this route.", "");
      else
        body = error_body(ErrorCode::internal, "Internal error.", "");
      res.set_content(body.dump(), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const Error& e) {
        send_error(res, e);
      } catch (const std::exception& e) {
        send_error(res, Error(ErrorCode::internal, "Internal error."));
        log::error("unhandled exception", {{"error", e.what()}});
      }
    });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (t_request.close_connection) hang_up(req);  // the answer is written: now hang up
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_request.start).count();
      if (t_request.start.time_since_epoch().count() == 0) seconds = 0;
      metrics.observe(t_request.route, req.method, res.status, seconds);
      std::size_t bytes = res.body.empty() ? res.content_length_ : res.body.size();
      log::info("request", {{"method", req.method}, {"route", t_request.route}, {"path", req.path},
                            {"status", res.status}, {"bytes", bytes}, {"bytes_in", t_request.bytes_in},
                            {"latency_ms", seconds * 1000.0}, {"request_id", res.get_header_value("X-Request-Id")},
                            {"client", t_request.client.empty() ? req.remote_addr : t_request.client},
                            {"sub", t_request.identity ? json(t_request.identity->subject) : json(nullptr)}});
      if (t_request.read_ms > 0)
        log::debug("request phases", {{"request_id", res.get_header_value("X-Request-Id")},
                                      {"read_ms", t_request.read_ms}, {"probe_ms", t_request.probe_ms}});
    });
  }
};

HttpServer::HttpServer(HttpConfig config, jobs::JobService& service)
    : impl_(std::make_unique<Impl>(std::move(config), service)) {
  auto& svr = impl_->server;
  int threads = std::max(4, impl_->config.http_threads);
  // cpp-httplib's API takes ownership of a raw pointer here; it deletes the pool itself.
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // Generate's own limit is UploadSink's; this one only bounds what is read and dropped.
  svr.set_payload_max_length(2 * impl_->config.max_request_bytes);
  svr.set_keep_alive_max_count(1000);
  svr.set_keep_alive_timeout(5);
  svr.set_read_timeout(30);
  svr.set_write_timeout(30);
  svr.set_tcp_nodelay(true);
  svr.set_socket_options([](int sock) {
    int yes = 1;  // SO_REUSEADDR only: two servers must never share a port by accident
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
  impl_->install_hooks();
  impl_->install_routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto& c = impl_->config;
  int port = c.port;
  if (port == 0) port = impl_->server.bind_to_any_port(c.host);
  else if (!impl_->server.bind_to_port(c.host, port)) port = -1;
  if (port <= 0)
    throw Error(ErrorCode::internal, "Cannot listen on " + c.host + ":" + std::to_string(c.port) +
                                         " (in use, or not an address of this machine).");
  c.port = port;
  return port;
}

bool HttpServer::run() { return impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace sonic::http
