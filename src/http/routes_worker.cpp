// The routes remote workers use (issue 12, docs/scaling.md), present with --redis:
//   GET /api/worker/jobs/{id}/inputs/{name}   a job's image or audio, by its signed URL
//   PUT /api/worker/jobs/{id}/result          the finished MP4 of one run of one attempt
//   GET /api/workers                          (admin) the live workers and what they run
// The signed URL is the workers' only credential (no token): file_urls.h says what it
// proves, and RedisDispatcher decides everything else (attempt, lease, second upload) —
// a refusal is 403. The upload is streamed to disk under --max-upload-mb, as client uploads are.
#include "http/api_context.h"
#include "util/log.h"

namespace sonic::http {
namespace {

jobs::remote::RedisDispatcher& remote(ApiContext& api) {
  auto* r = api.service.remote();
  if (!r) throw Error(ErrorCode::not_found, "This server does not dispatch to remote workers (start it with --redis).");
  return *r;
}

void input(ApiContext& api, Call& call) {
  std::string name = call.param("name");
  if (name != "image" && name != "audio") throw Error(ErrorCode::not_found, "No such input; use image or audio.");
  const Request& req = call.req;
  auto file = remote(api).open_input(call.param("id"),
                                     name == "image" ? jobs::remote::FileGrant::image : jobs::remote::FileGrant::audio,
                                     req.query_param("attempt").value_or(""), req.query_param("expires").value_or(""),
                                     req.query_param("sig").value_or(""));
  auto handle = std::make_shared<const ReadOnlyFile>(file.path.c_str());
  if (handle->fd() < 0) throw Error(ErrorCode::not_found, "The job's input file is gone.");
  call.res.status = 200;
  call.res.set_header("Content-Type", "application/octet-stream");
  call.res.set_header("Cache-Control", "no-store");
  call.res.body = {FileSlice{handle, 0, file.bytes}};
}

void result(ApiContext& api, Call& call) {
  const Request& req = call.req;
  jobs::remote::ResultUpload upload;
  upload.job_id = call.param("id");
  upload.attempt = req.query_param("attempt").value_or("");
  upload.expires = req.query_param("expires").value_or("");
  upload.sig = req.query_param("sig").value_or("");
  upload.worker = req.header("X-Sonic-Worker");
  upload.delivery = req.header("X-Sonic-Delivery");
  upload.result = req.header("X-Sonic-Result");
  upload.sha256 = req.header("X-Sonic-Sha256");
  upload.content_length = req.head.content_length;
  auto job = remote(api).accept_result(upload, [&call](char* out, std::size_t size) {
    std::size_t n = call.req.body().read(out, size);
    call.bytes_in += n;
    return n;
  });
  api.metrics.add_upload_bytes(call.bytes_in);
  send_json(call.res, 200, {{"success", true}, {"job_id", job.id}, {"status", jobs::state_name(job.state)}});
}

}  // namespace

void add_worker_routes(Router& router, ApiContext& api) {
  router.add({"GET", "/api/worker/jobs/{id}/inputs/{name}", Access::public_route, Lane::long_running, false,
              [&api](Call& call) { input(api, call); }, nullptr});
  router.add({"PUT", "/api/worker/jobs/{id}/result", Access::public_route, Lane::long_running, true,
              [&api](Call& call) { result(api, call); }, nullptr});
  router.add({"GET", "/api/workers", Access::admin, Lane::quick, false,
              [&api](Call& call) {
                auto* r = api.service.remote();
                send_json(call.res, 200,
                          r ? r->workers_json() : json{{"success", true}, {"workers", json::array()}, {"redis", nullptr}});
              },
              nullptr});
}

}  // namespace sonic::http
