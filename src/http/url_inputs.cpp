// Inputs by URL into the upload sink (see url_inputs.h).
#include "http/url_inputs.h"

#include "http/outbound/outbound_client.h"
#include "util/log.h"

namespace sonic::http {

namespace {
const OutboundClient& client(const ApiContext& api, const std::string& field) {
  if (!api.config.outbound)
    throw Error(ErrorCode::invalid_param, field + " is not enabled on this server.", field);
  return *api.config.outbound;
}
}  // namespace

void fetch_input(const ApiContext& api, UploadSink& sink, const std::string& part, const std::string& url,
                 const std::string& field) {
  const OutboundClient& c = client(api, field);
  if (!sink.begin_part(part, url)) {
    if (sink.write_failed()) throw Error(ErrorCode::internal, "The server could not store the fetched file.");
    throw Error(ErrorCode::invalid_param, "Send " + part + " as a file or as " + field + ", not both.", field);
  }
  std::uint64_t budget = api.config.max_request_bytes > sink.total_bytes() ? api.config.max_request_bytes - sink.total_bytes() : 0;
  auto started = std::chrono::steady_clock::now();
  FetchResult r = c.get(url, field, budget, [&](std::string_view data) { return sink.write(data.data(), data.size()); });
  sink.end_part();
  if (sink.write_failed()) throw Error(ErrorCode::internal, "The server could not store the fetched file.");
  // Without the query: presigned URLs carry their credentials there.
  log::info("input fetched", {{"field", field}, {"url", r.final_url.substr(0, r.final_url.find('?'))}, {"bytes", r.bytes}, {"redirects", r.redirects},
                              {"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
}

void check_webhook_url(const ApiContext& api, const std::string& url) { client(api, "webhook_url").check(url, "webhook_url"); }

}  // namespace sonic::http
