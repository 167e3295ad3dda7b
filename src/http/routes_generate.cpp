// POST /api/sonic/generate: the upload (multipart/form-data streamed to disk by
// MultipartReader + UploadSink under the byte limit), validation, submission, and the
// seed-compatible wait for the video (docs/api.md).
//
// Bodies (docs/api.md "Request bodies"): a Content-Length over twice the limit is refused
// before a byte is read (http_server.cpp); up to twice the limit, a body over the limit is
// read and dropped so the client sees the 413; a chunked body is cut off where it passes
// the limit and the connection closes. Rate limit first, before the upload is stored.
#include <algorithm>
#include <filesystem>

#include "engine/params.h"
#include "http/api_context.h"
#include "http/upload_sink.h"
#include "http/wire/multipart.h"
#include "jobs/admission.h"
#include "media/probe.h"
#include "util/log.h"

namespace sonic::http {
namespace fs = std::filesystem;

namespace {

std::string file_extension(media::ImageFormat f) { return std::string(media::format_name(f)); }
std::string file_extension(media::AudioFormat f) {
  switch (f) {
    case media::AudioFormat::ogg_vorbis:
    case media::AudioFormat::ogg_opus: return "ogg";
    case media::AudioFormat::m4a_aac: return "m4a";
    default: return std::string(media::format_name(f));
  }
}

// 200 body of a finished generate request: the seed's fields first.
json generate_success(const ApiContext& api, const Call& call, const jobs::JobRecord& job) {
  json j = api.job_json(call, job);
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

// Streams the multipart body into `sink`. Throws the request's error; sets res.close when
// the body was not read to its end.
void read_upload(ApiContext& api, Call& call, UploadSink& sink, const std::string& boundary) {
  const std::string limit_text = std::to_string(api.config.max_request_bytes / (1024 * 1024)) + " MB";
  wire::MultipartReader reader(boundary, {[&](const wire::FormPart& part) { return sink.begin_part(part.name, part.filename); },
                                          [&](std::string_view data) { return sink.write(data.data(), data.size()); }});
  std::vector<char> buffer(64 * 1024);
  bool reading = true;
  while (reading) {
    std::size_t n = call.req.body().read(buffer.data(), buffer.size());
    if (n == 0) break;
    reading = reader.feed(std::string_view(buffer.data(), n));
  }
  bool whole = reading && reader.finish();
  sink.end_part();
  call.bytes_in = sink.total_bytes();
  api.metrics.add_upload_bytes(sink.total_bytes());
  if (!call.req.body().complete()) call.res.close = true;  // the rest cannot be another request
  if (sink.too_large()) throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text + ".");
  if (sink.write_failed()) throw Error(ErrorCode::internal, "The server could not store the upload.");
  if (!whole) {
    const auto& e = reader.error();
    throw Error(ErrorCode::invalid_param, e ? e->message : "The upload is not valid multipart/form-data.",
                e ? e->field : std::string());
  }
}

void generate(ApiContext& api, Call& call) {
  Request& req = call.req;
  api.check_rate_limit(call);
  std::string why;
  auto boundary = wire::form_data_boundary(req.header("Content-Type"), why);
  if (!boundary) {
    if (!why.empty()) throw Error(ErrorCode::invalid_param, why, "Content-Type");
    throw Error(ErrorCode::unsupported_media_type,
                "Send multipart/form-data with the files 'image' and 'audio' (and optionally 'config', 'preset').");
  }
  const std::string limit_text = std::to_string(api.config.max_request_bytes / (1024 * 1024)) + " MB";
  if (auto length = req.head.content_length; length && *length > api.config.max_request_bytes) {
    // Over the limit by its own account: nothing is stored. Read and drop it (anything over
    // twice the limit was refused unread) so the client gets to read this answer.
    if (!req.body().discard(2 * api.config.max_request_bytes)) call.res.close = true;
    throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text + ".");
  }
  api.service.require_storage(req.head.content_length.value_or(0));  // 507 before a byte is stored
  UploadSink sink(api.service.uploads_dir(), api.config.max_request_bytes);
  read_upload(api, call, sink, *boundary);

  auto image = sink.file("image");
  if (!image) throw Error(ErrorCode::missing_file, "Send the portrait as the multipart file field 'image'.", "image");
  auto audio = sink.file("audio");
  if (!audio) throw Error(ErrorCode::missing_file, "Send the voice recording as the multipart file field 'audio'.", "audio");

  const auto& limits = api.service.config().limits;
  engine::GenerationParams params;
  if (auto preset = sink.text("preset"); preset && !preset->empty())
    params = engine::apply_config(params, engine::find_preset(*preset).config, limits.max_audio_seconds);
  if (auto config_text = sink.text("config"); config_text && !config_text->empty())
    params = engine::apply_config(params, engine::parse_config_text(*config_text), limits.max_audio_seconds);
  if (auto engine_name = sink.text("engine"); engine_name && !engine_name->empty()) params.engine = *engine_name;

  jobs::JobSpec spec;
  spec.client = api.owner(call);
  spec.request_id = call.request_id;
  spec.params = params;
  spec.image_sha256 = image->sha256;
  spec.audio_sha256 = audio->sha256;
  auto probe_start = std::chrono::steady_clock::now();
  call.read_ms = std::chrono::duration<double, std::milli>(probe_start - call.start).count();

  // Identical bytes were probed when the cached job ran: a cache hit skips probing.
  std::optional<jobs::SubmitOutcome> cached = api.service.submit_if_cached(spec);
  jobs::SubmitOutcome outcome;
  if (cached) {
    outcome = *cached;
  } else {
    jobs::Admission admitted = jobs::admit(image->path, audio->path, params, api.service.config());
    const media::ImageInfo& image_info = admitted.image;
    const media::AudioInfo& audio_info = admitted.audio;
    call.probe_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - probe_start).count();
    std::string stem = jobs::new_uuid();
    spec.image_file = stem + "-image." + file_extension(image_info.format);
    spec.audio_file = stem + "-audio." + file_extension(audio_info.format);
    sink.release("image", spec.image_file);
    sink.release("audio", spec.audio_file);
    try {
      outcome = api.service.submit(spec);
    } catch (...) {
      std::error_code ec;
      fs::remove(api.service.uploads_dir() / spec.image_file, ec);
      fs::remove(api.service.uploads_dir() / spec.audio_file, ec);
      throw;
    }
  }

  const jobs::JobRecord* job = &outcome.job;
  std::optional<jobs::JobRecord> waited;
  bool async = req.header("Prefer").find("respond-async") != std::string::npos;
  if (!jobs::is_final(job->state) && !async) {
    waited = api.service.wait_final(job->id, api.config.sync_wait);
    if (waited) job = &*waited;
  }
  if (job->state == jobs::JobState::succeeded) return send_json(call.res, 200, generate_success(api, call, *job));
  if (jobs::is_final(job->state)) return send_job_error(call, *job);
  json body = api.job_json(call, *job);
  json accepted = {{"success", true},          {"job_id", job->id},
                   {"status", body["status"]}, {"status_url", body["status_url"]},
                   {"events_url", body["events_url"]}, {"joined", outcome.joined}};
  call.res.set_header("Location", "/api/jobs/" + job->id);
  if (async) call.res.set_header("Preference-Applied", "respond-async");
  send_json(call.res, 202, accepted);
}

}  // namespace

void add_generate_routes(Router& router, ApiContext& api) {
  router.add({"POST", "/api/sonic/generate", Access::user, Lane::long_running, true,
              [&api](Call& call) { generate(api, call); }, nullptr});
}

}  // namespace sonic::http
