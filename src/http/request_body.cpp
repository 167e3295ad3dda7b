// Request bodies shared by generate and the face check (see request_body.h).
#include "http/request_body.h"

#include <cctype>
#include <vector>

#include "http/wire/multipart.h"

namespace sonic::http {
namespace {

std::string limit_text(const ApiContext& api) {
  return std::to_string(api.config.max_request_bytes / (1024 * 1024)) + " MB";
}

}  // namespace

bool is_json(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type == "application/json";
}

void refuse_before_storing(ApiContext& api, Call& call) {
  Request& req = call.req;
  if (auto length = req.head.content_length; length && *length > api.config.max_request_bytes) {
    // Over the limit by its own account: nothing is stored. Read and drop it (anything over
    // twice the limit was refused unread) so the client gets to read this answer.
    if (!req.body().discard(2 * api.config.max_request_bytes)) call.res.close = true;
    throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text(api) + ".");
  }
  api.service.require_storage(req.head.content_length.value_or(0));  // 507 before a byte is stored
}

void read_upload(ApiContext& api, Call& call, UploadSink& sink, const std::string& boundary) {
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
  if (sink.too_large()) throw Error(ErrorCode::payload_too_large, "The request is larger than the limit of " + limit_text(api) + ".");
  if (sink.write_failed()) throw Error(ErrorCode::internal, "The server could not store the upload.");
  if (!whole) {
    const auto& e = reader.error();
    throw Error(ErrorCode::invalid_param, e ? e->message : "The upload is not valid multipart/form-data.",
                e ? e->field : std::string());
  }
}

json read_json_body(Call& call) {
  std::string text;
  std::vector<char> buffer(16 * 1024);
  while (std::size_t n = call.req.body().read(buffer.data(), buffer.size())) {
    text.append(buffer.data(), n);
    if (text.size() > kMaxJsonBody) {
      call.res.close = true;
      throw Error(ErrorCode::payload_too_large, "A JSON request body is limited to 64 KiB; send files as multipart/form-data.");
    }
  }
  call.bytes_in = text.size();
  json body = json::parse(text, nullptr, false);
  if (!body.is_object()) throw Error(ErrorCode::invalid_config, "The request body is not a JSON object.");
  return body;
}

}  // namespace sonic::http
