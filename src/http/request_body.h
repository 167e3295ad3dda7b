// Request bodies of the routes that take pictures and recordings (generate, the face check):
// the multipart upload streamed into an UploadSink, a small JSON body, and the refusals that
// come before a byte is stored. One place, so both routes refuse the same bodies the same way
// (docs/api.md "Request bodies").
//
// Threads: the request's worker.
#pragma once

#include <string>

#include "http/api_context.h"
#include "http/upload_sink.h"

namespace sonic::http {

// A JSON body is limited to this; files go as multipart/form-data.
constexpr std::size_t kMaxJsonBody = 64 * 1024;

// True for `application/json` (parameters ignored, any case).
bool is_json(const std::string& content_type);

// Before anything is stored: a Content-Length over the request limit is 413 (the body is read
// and dropped so the client sees the answer, or the connection closes), and a data disk below
// its free-space threshold is 507.
void refuse_before_storing(ApiContext& api, Call& call);

// Streams the multipart body into `sink`. Throws the request's error (payload_too_large,
// invalid_param for a malformed form, internal when the disk write fails); sets res.close when
// the body was not read to its end.
void read_upload(ApiContext& api, Call& call, UploadSink& sink, const std::string& boundary);

// The whole body as a JSON object (at most kMaxJsonBody bytes, else payload_too_large and the
// connection closes). invalid_config when it is not a JSON object.
json read_json_body(Call& call);

}  // namespace sonic::http
