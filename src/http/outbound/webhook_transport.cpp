// Webhook POSTs through the outbound client (see webhook_transport.h).
#include "http/outbound/webhook_transport.h"

#include <ctime>

namespace sonic::http {

jobs::WebhookPostResult OutboundWebhookTransport::post(const std::string& url,
                                                       const std::vector<std::pair<std::string, std::string>>& headers,
                                                       const std::string& body, const std::atomic<bool>& stopping) {
  PostResult r = client_->post(url, headers, body, &stopping);
  jobs::WebhookPostResult out;
  out.status = r.status;
  out.error = r.error;
  out.permanent = r.refused;
  out.retry_after_s = r.retry_after_s;
  out.stopped = r.stopped;
  return out;
}

std::string OutboundWebhookTransport::video_url(const std::string& base_url, const std::string& output_file) const {
  std::string path = "/output/" + output_file;
  if (auth_ && auth_->enabled()) path += auth_->sign_path(path, static_cast<std::int64_t>(std::time(nullptr)));
  return base_url + path;
}

}  // namespace sonic::http
