// WebhookStore: webhook subscriptions, deliveries and their attempts in the job database
// (tables of kMigrations step 2), so every delivery survives a restart and each job's
// delivery log can be shown (GET /api/jobs/{id}/webhooks).
//
// A subscription is one request's `webhook_url` + `webhook_events` on one job (a request
// that joins a job in flight adds its own). A delivery is one message (`webhook-id`) to
// one subscription, retried until delivered, refused or out of time; each try is an
// attempt row. States: pending → delivered | failed; a pending `job.progress` message is
// `superseded` by the subscription's next progress or completion (an old progress figure
// is worth nothing once a newer one exists).
//
// Threads: any thread (SqliteDb's mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jobs/sqlite_db.h"

namespace sonic::jobs {

struct WebhookSubscription {
  std::string id;
  std::string job_id;
  std::string url;
  std::vector<std::string> events;  // started, progress, completed
  std::string base_url;             // of the request that subscribed: links in payloads
  bool started_sent = false;
  bool completed_sent = false;
  std::int64_t last_progress_ms = 0;
  std::int64_t created_ms = 0;

  bool wants(const std::string& event) const;
};

struct WebhookDelivery {
  std::string id;  // webhook-id, "msg_<32 hex>"
  std::string subscription_id;
  std::string job_id;
  std::string url;
  std::string event;    // job.started | job.progress | job.completed
  std::string payload;  // the exact body that is signed and sent
  std::string state;    // pending | delivered | failed | superseded
  int attempts = 0;
  std::int64_t next_attempt_ms = 0;
  std::int64_t give_up_ms = 0;  // no attempt is scheduled after this
  std::int64_t created_ms = 0;
  std::int64_t finished_ms = 0;
  int last_status = 0;
  std::string last_error;
};

struct WebhookAttempt {
  int attempt = 0;
  std::int64_t at_ms = 0;
  std::int64_t duration_ms = 0;
  int status = 0;  // HTTP status; 0 = no answer
  std::string error;
  std::int64_t next_attempt_ms = 0;  // 0 = none
};

class WebhookStore {
 public:
  explicit WebhookStore(const std::filesystem::path& db_path);

  void add_subscription(const WebhookSubscription& s);
  std::vector<WebhookSubscription> subscriptions(const std::string& job_id) const;
  // Subscriptions whose job is final but whose completion was never queued (a crash
  // between the job's last write and the delivery's).
  std::vector<WebhookSubscription> completions_missed() const;
  // Marks what a subscription has been sent; false when someone else marked it first.
  bool mark_started(const std::string& subscription_id);
  bool mark_completed(const std::string& subscription_id);
  // Sets last_progress_ms to `now_ms` when the last one is at least `interval_ms` old.
  bool take_progress_slot(const std::string& subscription_id, std::int64_t now_ms, std::int64_t interval_ms);

  // Inserts a pending delivery; pending progress deliveries of its subscription become
  // superseded when `supersede_progress`.
  void add_delivery(const WebhookDelivery& d, bool supersede_progress);
  // Pending deliveries, soonest first.
  std::vector<WebhookDelivery> pending(int limit) const;
  std::optional<WebhookDelivery> delivery(const std::string& id) const;
  // Records one attempt and the delivery's new state in one transaction. False when the
  // delivery is gone or no longer pending (superseded, job deleted).
  bool record_attempt(const WebhookDelivery& after, const WebhookAttempt& attempt);
  std::vector<WebhookDelivery> deliveries(const std::string& job_id) const;
  std::vector<WebhookAttempt> attempts(const std::string& delivery_id) const;
  // A job was deleted: its subscriptions, deliveries and attempts go too.
  void forget_job(const std::string& job_id);
  // Finished deliveries (and their attempts) older than `before_ms`.
  int prune(std::int64_t before_ms);

 private:
  std::vector<WebhookDelivery> query_deliveries(const std::string& where, const std::vector<SqlValue>& args) const;
  std::vector<WebhookSubscription> query_subscriptions(const std::string& where, const std::vector<SqlValue>& args) const;
  SqliteDb db_;
};

}  // namespace sonic::jobs
