// POST /api/faces: the face check before a job (docs/api.md "Face check"). The picture comes
// as the multipart file `image` or as `image_url` (a form field or a JSON body), under the
// same limits, sniffing and SSRF rules as generate's; `config` and `preset` give the
// parameters the crops and face_index follow. The answer is engine::check_faces: every
// face with its box, confidence, warnings and the crop of each aspect_ratio. The picture is
// not kept; its detection is, by sha256, for the job that follows with the same picture.
// Long-running lane: a fetch, a decode and one detection (up to ~0.3 s on a 12 MP photo).
#include "engine/face_check.h"
#include "engine/params.h"
#include "http/api_context.h"
#include "http/request_body.h"
#include "http/upload_sink.h"
#include "http/url_inputs.h"
#include "http/wire/multipart.h"
#include "media/image.h"

namespace sonic::http {
namespace {

struct FaceFields {
  std::optional<std::string> image_url, config_text, preset;
  json config;  // a JSON body's `config` object (null = none)
};

FaceFields json_fields(Call& call) {
  json body = read_json_body(call);
  FaceFields f;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "image_url" || key == "preset") {
      if (!v.is_string()) throw Error(ErrorCode::invalid_param, key + " must be a string.", key);
      (key == "image_url" ? f.image_url : f.preset) = v.get<std::string>();
    } else if (key == "config") {
      if (v.is_string()) f.config_text = v.get<std::string>();
      else if (v.is_object()) f.config = v;
      else throw Error(ErrorCode::invalid_config, "config must be a JSON object.", "config");
    } else if (key == "image") {
      throw Error(ErrorCode::invalid_param, "A JSON body takes image_url; upload the picture as multipart/form-data.", key);
    } else {
      throw Error(ErrorCode::invalid_param, "Unknown field '" + key.substr(0, 64) + "' in the request body.", key);
    }
  }
  return f;
}

void faces(ApiContext& api, Call& call) {
  api.check_rate_limit(call);
  std::string why;
  auto boundary = wire::form_data_boundary(call.req.header("Content-Type"), why);
  const bool json_body = is_json(call.req.header("Content-Type"));
  if (!boundary && !json_body) {
    if (!why.empty()) throw Error(ErrorCode::invalid_param, why, "Content-Type");
    throw Error(ErrorCode::unsupported_media_type,
                "Send multipart/form-data with the file 'image' (or image_url; optionally 'config', 'preset'), or a "
                "JSON object with image_url.");
  }
  refuse_before_storing(api, call);
  UploadSink sink(api.service.uploads_dir(), api.config.max_request_bytes);
  FaceFields fields;
  if (boundary) {
    read_upload(api, call, sink, *boundary);
    fields.image_url = sink.text("image_url");
    fields.config_text = sink.text("config");
    fields.preset = sink.text("preset");
  } else {
    fields = json_fields(call);
  }
  auto image = sink.file("image");
  const bool by_url = fields.image_url && !fields.image_url->empty();
  if (image && by_url)
    throw Error(ErrorCode::invalid_param, "Send the picture as the file 'image' or as image_url, not both.", "image_url");
  if (!image && !by_url)
    throw Error(ErrorCode::missing_file, "Send the picture as the multipart file field 'image' (or its URL as image_url).",
                "image");

  const auto& limits = api.service.config().limits;
  engine::GenerationParams params;
  if (fields.preset && !fields.preset->empty())
    params = engine::apply_config(params, engine::find_preset(*fields.preset).config, limits.max_audio_seconds);
  if (fields.config_text && !fields.config_text->empty())
    params = engine::apply_config(params, engine::parse_config_text(*fields.config_text), limits.max_audio_seconds);
  if (fields.config.is_object()) params = engine::apply_config(params, fields.config, limits.max_audio_seconds);

  if (by_url) {
    fetch_input(api, sink, "image", *fields.image_url, "image_url");
    image = sink.file("image");
    if (!image) throw Error(ErrorCode::internal, "A fetched input was not stored.");
  }
  const cv::Mat picture = media::decode_image(image->path, limits);  // probes first: sniffing, pixel limit
  json answer = engine::check_faces(picture, image->sha256, params, limits);
  answer["success"] = true;
  answer["image_sha256"] = image->sha256;
  send_json(call.res, 200, answer);
}

}  // namespace

void add_face_routes(Router& router, ApiContext& api) {
  router.add({"POST", "/api/faces", Access::user, Lane::long_running, true, [&api](Call& call) { faces(api, call); },
              nullptr});
}

}  // namespace sonic::http
