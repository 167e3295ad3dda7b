// WebhookSender: turns job events into signed webhook deliveries and sends them, retrying
// with exponential back-off (issue 15, docs/api.md "Webhooks").
//
//   subscribe()     a request's webhook_url + webhook_events on a job; catches up at once
//                   with what already happened (a cache hit is final before anyone could
//                   subscribe; a joined job may be running)
//   on_job_event()  JobEvents' observer: `status` running → job.started, `progress` →
//                   job.progress (at most one per progress_interval per subscription),
//                   `done`/`failed` → job.completed. Each becomes a pending row first
//                   (WebhookStore), so a restart loses nothing.
//   sender threads  take due deliveries, sign each attempt afresh (Standard Webhooks) and
//                   POST it through WebhookTransport, which http/ implements with its
//                   SSRF-safe client (jobs/ may not include an HTTP library). 2xx delivers;
//                   a timeout, a connection error, 429 or 5xx is retried after
//                   first_retry × 2^(n−1) (capped at max_retry_interval, at least a 429/503's
//                   Retry-After) until retry_period has passed since the event; any other
//                   answer (3xx, other 4xx) or a refused address fails it at once.
//
// Delivery is at least once: a crash during an attempt sends it again after the restart
// with the same webhook-id, which is what receivers deduplicate on. Messages of one
// subscription are not ordered by the network; the payload's `timestamp` orders them and a
// pending progress message is dropped once a newer one (or the completion) is queued.
//
// Threads: subscribe/on_job_event from HTTP and job threads; `senders` threads of its own,
// started by start() and joined by stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "jobs/job.h"
#include "jobs/webhook_signature.h"
#include "jobs/webhook_store.h"

namespace sonic::jobs {

// One POST's outcome as the transport saw it.
struct WebhookPostResult {
  int status = 0;           // the receiver's HTTP status; 0 = no answer
  std::string error;        // why there was no answer, or what was wrong with it
  bool permanent = false;   // never retry (an address the server may not reach, a redirect)
  int retry_after_s = 0;    // a 429/503's Retry-After, in seconds
  bool stopped = false;     // the server is stopping: not an attempt, try again after the restart
};

// What jobs/ needs from http/ to deliver webhooks.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // One POST to `url` (re-resolved and checked against the outbound rules every time),
  // no redirects followed, bounded by the transport's timeouts; returns early with
  // `stopped` when `stopping` turns true.
  virtual WebhookPostResult post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::string& body, const std::atomic<bool>& stopping) = 0;
  // The video's link for a payload (signed when auth is on), from the subscribing
  // request's base URL.
  virtual std::string video_url(const std::string& base_url, const std::string& output_file) const = 0;
};

struct WebhookSettings {
  std::string secret;                               // whsec_…; empty = webhooks off
  std::shared_ptr<WebhookTransport> transport;      // null = webhooks off
  std::chrono::seconds retry_period{24 * 3600};     // how long a delivery is retried
  std::chrono::milliseconds first_retry{5000};      // doubles each attempt
  std::chrono::milliseconds max_retry_interval{3600 * 1000};
  std::chrono::milliseconds progress_interval{500};  // at most one progress message per this
  int senders = 4;                                  // deliveries in flight at once
  std::string user_agent = "sonic-server";
};

// The names webhook_events may hold, in order.
const std::vector<std::string>& webhook_event_names();
// A webhook_events value: a JSON array of names, or a comma-separated list ("" = the
// default, ["completed"]). Error(invalid_param, field=webhook_events) for anything else.
std::vector<std::string> parse_webhook_events(const nlohmann::json& value);

class WebhookSender {
 public:
  // `job` reads a job's current record (the store's).
  WebhookSender(const std::filesystem::path& db_path, WebhookSettings settings,
                std::function<std::optional<JobRecord>(const std::string&)> job);
  ~WebhookSender();  // stop()
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  bool enabled() const { return signer_ != nullptr; }
  // Queues completions missed by a crash, then starts the sender threads.
  void start();
  // Stops the threads (an attempt in flight is abandoned and stays pending).
  void stop();

  void subscribe(const std::string& job_id, const std::string& url, const std::vector<std::string>& events,
                 const std::string& base_url);
  void on_job_event(const std::string& job_id, const std::string& type, const nlohmann::json& data);
  // GET /api/jobs/{id}/webhooks: the job's subscriptions and every delivery with its attempts.
  nlohmann::json log(const std::string& job_id) const;
  void forget_job(const std::string& job_id);
  // Drops finished deliveries older than retry_period + 7 days.
  void prune();

 private:
  void send_loop();
  void attempt(WebhookDelivery delivery);
  void queue(const WebhookSubscription& s, const std::string& event, const nlohmann::json& data);
  nlohmann::json job_data(const WebhookSubscription& s, const JobRecord& job) const;
  void started(const WebhookSubscription& s, const JobRecord& job);
  void completed(const WebhookSubscription& s, const JobRecord& job);

  WebhookSettings settings_;
  std::unique_ptr<WebhookSigner> signer_;
  std::function<std::optional<JobRecord>(const std::string&)> job_;
  WebhookStore store_;

  std::mutex mutex_;                  // in_flight_, and sleeping senders
  std::condition_variable wake_;
  std::set<std::string> in_flight_;   // delivery ids being attempted now
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;  // owned; joined in stop()
};

}  // namespace sonic::jobs
