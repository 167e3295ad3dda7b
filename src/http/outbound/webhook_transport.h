// The http/ side of webhooks: jobs::WebhookTransport on the SSRF-safe OutboundClient, and
// the video links payloads carry (signed like video_url when auth is on).
//
// Threads: any thread (the client's methods are const; the authenticator is immutable).
#pragma once

#include <memory>

#include "http/auth.h"
#include "http/outbound/outbound_client.h"
#include "jobs/webhook_sender.h"

namespace sonic::http {

class OutboundWebhookTransport : public jobs::WebhookTransport {
 public:
  OutboundWebhookTransport(std::shared_ptr<const OutboundClient> client, std::shared_ptr<const Authenticator> auth)
      : client_(std::move(client)), auth_(std::move(auth)) {}

  jobs::WebhookPostResult post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, const std::atomic<bool>& stopping) override;
  std::string video_url(const std::string& base_url, const std::string& output_file) const override;

 private:
  std::shared_ptr<const OutboundClient> client_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace sonic::http
