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
#include "http/idempotency.h"
#include "http/request_body.h"
#include "http/upload_sink.h"
#include "http/url_inputs.h"
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

// The request's fields, from a multipart form or a JSON object, before any is checked.
struct GenerateFields {
  std::optional<std::string> image_url, audio_url, config_text, preset, engine, webhook_url;
  nlohmann::json config;          // a JSON body's `config` object (null = none)
  nlohmann::json webhook_events;  // string or array; null = default
};

// A JSON body (application/json): URLs instead of files, parameters as an object.
GenerateFields read_json_fields(Call& call) {
  json body = read_json_body(call);
  GenerateFields f;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    auto text_of = [&]() -> std::string {
      if (!v.is_string()) throw Error(ErrorCode::invalid_param, key + " must be a string.", key);
      return v.get<std::string>();
    };
    if (key == "image_url") f.image_url = text_of();
    else if (key == "audio_url") f.audio_url = text_of();
    else if (key == "preset") f.preset = text_of();
    else if (key == "engine") f.engine = text_of();
    else if (key == "webhook_url") f.webhook_url = text_of();
    else if (key == "webhook_events") f.webhook_events = v;
    else if (key == "config") {
      if (v.is_string()) f.config_text = v.get<std::string>();
      else if (v.is_object()) f.config = v;
      else throw Error(ErrorCode::invalid_config, "config must be a JSON object.", "config");
    } else if (key == "image" || key == "audio") {
      throw Error(ErrorCode::invalid_param, "A JSON body takes " + key + "_url; upload files as multipart/form-data.", key);
    } else {
      throw Error(ErrorCode::invalid_param, "Unknown field '" + key.substr(0, 64) + "' in the request body.", key);
    }
  }
  return f;
}

GenerateFields form_fields(UploadSink& sink) {
  GenerateFields f;
  f.image_url = sink.text("image_url");
  f.audio_url = sink.text("audio_url");
  f.config_text = sink.text("config");
  f.preset = sink.text("preset");
  f.engine = sink.text("engine");
  f.webhook_url = sink.text("webhook_url");
  if (auto events = sink.text("webhook_events")) f.webhook_events = *events;
  return f;
}

bool given(const std::optional<std::string>& v) { return v && !v->empty(); }

// What makes two requests "the same request" for Idempotency-Key: the inputs (bytes by
// their hash, URLs as written), every parameter as sent and the webhook.
std::string fingerprint(const GenerateFields& f, const std::optional<StoredUpload>& image,
                        const std::optional<StoredUpload>& audio) {
  json config = f.config;
  if (config.is_null() && given(f.config_text)) config = json::parse(*f.config_text, nullptr, false);
  json j = {{"image", image ? "sha256:" + image->sha256 : "url:" + f.image_url.value_or("")},
            {"audio", audio ? "sha256:" + audio->sha256 : "url:" + f.audio_url.value_or("")},
            {"config", config},
            {"preset", f.preset.value_or("")},
            {"engine", f.engine.value_or("")},
            {"webhook_url", f.webhook_url.value_or("")},
            {"webhook_events", f.webhook_events}};
  return jobs::sha256_hex(j.dump());
}

// The answer for a job just submitted (or replayed): the video, its error, or 202.
void answer(ApiContext& api, Call& call, const jobs::JobRecord& submitted, bool joined) {
  const jobs::JobRecord* job = &submitted;
  std::optional<jobs::JobRecord> waited;
  bool async = call.req.header("Prefer").find("respond-async") != std::string::npos;
  if (!jobs::is_final(job->state) && !async) {
    waited = api.service.wait_final(job->id, api.config.sync_wait);
    if (waited) job = &*waited;
  }
  if (job->state == jobs::JobState::succeeded) return send_json(call.res, 200, generate_success(api, call, *job));
  if (jobs::is_final(job->state)) return send_job_error(call, *job);
  json body = api.job_json(call, *job);
  json accepted = {{"success", true},          {"job_id", job->id},
                   {"status", body["status"]}, {"status_url", body["status_url"]},
                   {"events_url", body["events_url"]}, {"joined", joined}};
  call.res.set_header("Location", "/api/jobs/" + job->id);
  if (async) call.res.set_header("Preference-Applied", "respond-async");
  send_json(call.res, 202, accepted);
}

void generate(ApiContext& api, Call& call) {
  Request& req = call.req;
  api.check_rate_limit(call);
  // Claimed before the body is read: a second request with the key while this one is
  // still arriving is 409 at once.
  // (A refused body is drained by http_server.cpp, so the client can read the 409.)
  std::optional<IdempotencyClaim> claim;
  if (auto key = idempotency_key(req)) claim.emplace(api.service.idempotency(), api.owner(call), *key);
  std::string why;
  auto boundary = wire::form_data_boundary(req.header("Content-Type"), why);
  bool json_body = is_json(req.header("Content-Type"));
  if (!boundary && !json_body) {
    if (!why.empty()) throw Error(ErrorCode::invalid_param, why, "Content-Type");
    throw Error(ErrorCode::unsupported_media_type,
                "Send multipart/form-data with the files 'image' and 'audio' (or image_url and audio_url; optionally "
                "'config', 'preset', 'webhook_url'), or a JSON object with image_url and audio_url.");
  }
  refuse_before_storing(api, call);
  UploadSink sink(api.service.uploads_dir(), api.config.max_request_bytes);
  GenerateFields fields;
  if (boundary) {
    read_upload(api, call, sink, *boundary);
    fields = form_fields(sink);
  } else {
    fields = read_json_fields(call);
  }

  auto image = sink.file("image");
  auto audio = sink.file("audio");
  if (image && given(fields.image_url))
    throw Error(ErrorCode::invalid_param, "Send the portrait as the file 'image' or as image_url, not both.", "image_url");
  if (audio && given(fields.audio_url))
    throw Error(ErrorCode::invalid_param, "Send the recording as the file 'audio' or as audio_url, not both.", "audio_url");
  if (!image && !given(fields.image_url))
    throw Error(ErrorCode::missing_file, "Send the portrait as the multipart file field 'image' (or its URL as image_url).", "image");
  if (!audio && !given(fields.audio_url))
    throw Error(ErrorCode::missing_file, "Send the voice recording as the multipart file field 'audio' (or its URL as audio_url).", "audio");

  const std::string print = fingerprint(fields, image, audio);
  if (claim && claim->earlier()) {
    if (claim->earlier()->fingerprint != print)
      throw Error(ErrorCode::idempotency_conflict,
                  "This Idempotency-Key was used for a different request; use a new key for a new video.",
                  "Idempotency-Key");
    if (auto job = api.service.get(claim->earlier()->job_id)) {
      call.res.set_header("Idempotent-Replayed", "true");
      return answer(api, call, *job, false);
    }
    claim->take_over();  // its job was deleted: this request makes a new one
  }

  const auto& limits = api.service.config().limits;
  engine::GenerationParams params;
  if (given(fields.preset)) params = engine::apply_config(params, engine::find_preset(*fields.preset).config, limits.max_audio_seconds);
  if (given(fields.config_text))
    params = engine::apply_config(params, engine::parse_config_text(*fields.config_text), limits.max_audio_seconds);
  if (fields.config.is_object()) params = engine::apply_config(params, fields.config, limits.max_audio_seconds);
  if (given(fields.engine)) params.engine = *fields.engine;

  std::vector<std::string> webhook_events;
  if (given(fields.webhook_url)) {
    webhook_events = jobs::parse_webhook_events(fields.webhook_events);
    if (!api.service.webhooks().enabled())
      throw Error(ErrorCode::invalid_param, "Webhooks are not enabled on this server.", "webhook_url");
    check_webhook_url(api, *fields.webhook_url);
  } else if (!fields.webhook_events.is_null()) {
    throw Error(ErrorCode::invalid_param, "webhook_events needs a webhook_url.", "webhook_events");
  }
  if (given(fields.image_url)) {
    fetch_input(api, sink, "image", *fields.image_url, "image_url");
    image = sink.file("image");
  }
  if (given(fields.audio_url)) {
    fetch_input(api, sink, "audio", *fields.audio_url, "audio_url");
    audio = sink.file("audio");
  }
  if (!image || !audio) throw Error(ErrorCode::internal, "A fetched input was not stored.");

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
  if (given(fields.webhook_url))
    api.service.webhooks().subscribe(outcome.job.id, *fields.webhook_url, webhook_events, api.base_url(call));
  if (claim) claim->complete(print, outcome.job.id);
  answer(api, call, outcome.job, outcome.joined);
}

}  // namespace

void add_generate_routes(Router& router, ApiContext& api) {
  router.add({"POST", "/api/sonic/generate", Access::user, Lane::long_running, true,
              [&api](Call& call) { generate(api, call); }, nullptr});
}

}  // namespace sonic::http
