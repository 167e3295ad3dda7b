// WebhookStore on the job database (see webhook_store.h).
#include "jobs/webhook_store.h"

#include <algorithm>

#include "util/error.h"

namespace sonic::jobs {

namespace {

constexpr const char* kDeliveryColumns =
    "id, subscription_id, job_id, url, event, payload, state, attempts, next_attempt_ms, give_up_ms, created_ms,"
    " finished_ms, last_status, last_error";
constexpr const char* kSubscriptionColumns =
    "id, job_id, url, events, base_url, started_sent, completed_sent, last_progress_ms, created_ms";

std::string join_events(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) out += (out.empty() ? "" : ",") + e;
  return out;
}

std::vector<std::string> split_events(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

bool WebhookSubscription::wants(const std::string& event) const {
  return std::find(events.begin(), events.end(), event) != events.end();
}

WebhookStore::WebhookStore(const std::filesystem::path& db_path) : db_(db_path) {}

void WebhookStore::add_subscription(const WebhookSubscription& s) {
  auto held = db_.lock();
  SqlStatement st(db_, std::string("INSERT INTO webhook_subscriptions (") + kSubscriptionColumns +
                           ") VALUES (?,?,?,?,?,?,?,?,?)",
                  {s.id, s.job_id, s.url, join_events(s.events), s.base_url, std::int64_t{s.started_sent},
                   std::int64_t{s.completed_sent}, s.last_progress_ms, s.created_ms});
  st.step();
}

std::vector<WebhookSubscription> WebhookStore::query_subscriptions(const std::string& where,
                                                                   const std::vector<SqlValue>& args) const {
  auto held = db_.lock();
  SqlStatement st(db_, std::string("SELECT ") + kSubscriptionColumns + " FROM webhook_subscriptions " + where, args);
  std::vector<WebhookSubscription> out;
  while (st.step()) {
    WebhookSubscription s;
    s.id = st.text(0);
    s.job_id = st.text(1);
    s.url = st.text(2);
    s.events = split_events(st.text(3));
    s.base_url = st.text(4);
    s.started_sent = st.integer(5) != 0;
    s.completed_sent = st.integer(6) != 0;
    s.last_progress_ms = st.integer(7);
    s.created_ms = st.integer(8);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<WebhookSubscription> WebhookStore::subscriptions(const std::string& job_id) const {
  return query_subscriptions("WHERE job_id=? ORDER BY created_ms, id", {job_id});
}

std::vector<WebhookSubscription> WebhookStore::completions_missed() const {
  return query_subscriptions(
      "WHERE completed_sent=0 AND job_id IN (SELECT id FROM jobs WHERE state IN ('succeeded','failed','canceled'))"
      " ORDER BY created_ms",
      {});
}

bool WebhookStore::mark_started(const std::string& subscription_id) {
  auto held = db_.lock();
  SqlStatement st(db_, "UPDATE webhook_subscriptions SET started_sent=1 WHERE id=? AND started_sent=0", {subscription_id});
  st.step();
  return db_.changes() > 0;
}

bool WebhookStore::mark_completed(const std::string& subscription_id) {
  auto held = db_.lock();
  SqlStatement st(db_, "UPDATE webhook_subscriptions SET completed_sent=1 WHERE id=? AND completed_sent=0",
                  {subscription_id});
  st.step();
  return db_.changes() > 0;
}

bool WebhookStore::take_progress_slot(const std::string& subscription_id, std::int64_t now_ms, std::int64_t interval_ms) {
  auto held = db_.lock();
  SqlStatement st(db_,
                  "UPDATE webhook_subscriptions SET last_progress_ms=?1 WHERE id=?2 AND completed_sent=0"
                  " AND last_progress_ms<=?1-?3",
                  {now_ms, subscription_id, interval_ms});
  st.step();
  return db_.changes() > 0;
}

void WebhookStore::add_delivery(const WebhookDelivery& d, bool supersede_progress) {
  db_.transaction([&] {
    if (supersede_progress) {
      SqlStatement old(db_,
                       "UPDATE webhook_deliveries SET state='superseded', finished_ms=?2"
                       " WHERE subscription_id=?1 AND state='pending' AND event='job.progress'",
                       {d.subscription_id, d.created_ms});
      old.step();
    }
    SqlStatement st(db_, std::string("INSERT INTO webhook_deliveries (") + kDeliveryColumns +
                             ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    {d.id, d.subscription_id, d.job_id, d.url, d.event, d.payload, d.state, std::int64_t{d.attempts},
                     d.next_attempt_ms, d.give_up_ms, d.created_ms, d.finished_ms, std::int64_t{d.last_status},
                     d.last_error});
    st.step();
    return true;
  });
}

std::vector<WebhookDelivery> WebhookStore::query_deliveries(const std::string& where,
                                                            const std::vector<SqlValue>& args) const {
  auto held = db_.lock();
  SqlStatement st(db_, std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries " + where, args);
  std::vector<WebhookDelivery> out;
  while (st.step()) {
    WebhookDelivery d;
    d.id = st.text(0);
    d.subscription_id = st.text(1);
    d.job_id = st.text(2);
    d.url = st.text(3);
    d.event = st.text(4);
    d.payload = st.text(5);
    d.state = st.text(6);
    d.attempts = static_cast<int>(st.integer(7));
    d.next_attempt_ms = st.integer(8);
    d.give_up_ms = st.integer(9);
    d.created_ms = st.integer(10);
    d.finished_ms = st.integer(11);
    d.last_status = static_cast<int>(st.integer(12));
    d.last_error = st.text(13);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<WebhookDelivery> WebhookStore::pending(int limit) const {
  return query_deliveries("WHERE state='pending' ORDER BY next_attempt_ms, created_ms LIMIT ?", {std::int64_t{limit}});
}

std::optional<WebhookDelivery> WebhookStore::delivery(const std::string& id) const {
  auto rows = query_deliveries("WHERE id=?", {id});
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

bool WebhookStore::record_attempt(const WebhookDelivery& d, const WebhookAttempt& a) {
  return db_.transaction([&] {
    SqlStatement st(db_,
                    "UPDATE webhook_deliveries SET state=?2, attempts=?3, next_attempt_ms=?4, finished_ms=?5,"
                    " last_status=?6, last_error=?7 WHERE id=?1 AND state='pending'",
                    {d.id, d.state, std::int64_t{d.attempts}, d.next_attempt_ms, d.finished_ms,
                     std::int64_t{d.last_status}, d.last_error});
    st.step();
    if (db_.changes() == 0) return false;
    SqlStatement log(db_,
                     "INSERT OR REPLACE INTO webhook_attempts (delivery_id, attempt, at_ms, duration_ms, status, error,"
                     " next_attempt_ms) VALUES (?,?,?,?,?,?,?)",
                     {d.id, std::int64_t{a.attempt}, a.at_ms, a.duration_ms, std::int64_t{a.status}, a.error,
                      a.next_attempt_ms});
    log.step();
    return true;
  });
}

std::vector<WebhookDelivery> WebhookStore::deliveries(const std::string& job_id) const {
  return query_deliveries("WHERE job_id=? ORDER BY created_ms, rowid", {job_id});
}

std::vector<WebhookAttempt> WebhookStore::attempts(const std::string& delivery_id) const {
  auto held = db_.lock();
  SqlStatement st(db_,
                  "SELECT attempt, at_ms, duration_ms, status, error, next_attempt_ms FROM webhook_attempts"
                  " WHERE delivery_id=? ORDER BY attempt",
                  {delivery_id});
  std::vector<WebhookAttempt> out;
  while (st.step())
    out.push_back({static_cast<int>(st.integer(0)), st.integer(1), st.integer(2), static_cast<int>(st.integer(3)),
                   st.text(4), st.integer(5)});
  return out;
}

void WebhookStore::forget_job(const std::string& job_id) {
  db_.transaction([&] {
    SqlStatement a(db_,
                   "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE job_id=?)",
                   {job_id});
    a.step();
    SqlStatement d(db_, "DELETE FROM webhook_deliveries WHERE job_id=?", {job_id});
    d.step();
    SqlStatement s(db_, "DELETE FROM webhook_subscriptions WHERE job_id=?", {job_id});
    s.step();
    return true;
  });
}

int WebhookStore::prune(std::int64_t before_ms) {
  return db_.transaction([&] {
    const std::string old = "SELECT id FROM webhook_deliveries WHERE state<>'pending' AND finished_ms>0 AND finished_ms<?";
    SqlStatement a(db_, "DELETE FROM webhook_attempts WHERE delivery_id IN (" + old + ")", {before_ms});
    a.step();
    SqlStatement d(db_, "DELETE FROM webhook_deliveries WHERE state<>'pending' AND finished_ms>0 AND finished_ms<?",
                   {before_ms});
    d.step();
    return db_.changes();
  });
}

}  // namespace sonic::jobs
