// Inputs by URL (image_url, audio_url): fetched through the SSRF-safe outbound client
// (outbound/outbound_client.h) into the request's UploadSink, as if uploaded, so they get
// the same byte budget, hashing, content sniffing and clean-up as uploaded files.
//
// Threads: the request's worker.
#pragma once

#include <string>

#include "http/api_context.h"
#include "http/upload_sink.h"

namespace sonic::http {

// Fetches `url` into `sink` as the file part `part` ("image" | "audio"); `field` names the
// request field in errors. Throws Error(invalid_param | forbidden_url | fetch_failed |
// payload_too_large, field).
void fetch_input(const ApiContext& api, UploadSink& sink, const std::string& part, const std::string& url,
                 const std::string& field);

// Checks a webhook_url now (scheme, every address it resolves to), so a URL the server
// will never deliver to is refused with the request. Throws like fetch_input.
void check_webhook_url(const ApiContext& api, const std::string& url);

}  // namespace sonic::http
