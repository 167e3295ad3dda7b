// WebhookSender: job events → persisted, signed deliveries with back-off (see webhook_sender.h).
#include "jobs/webhook_sender.h"

#include <algorithm>
#include <ctime>

#include "util/error.h"
#include "util/log.h"

namespace sonic::jobs {

namespace {

using namespace std::chrono_literals;

std::string iso_time(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

std::string message_id() {
  std::string id = "msg_";
  for (char c : new_uuid())
    if (c != '-') id += c;
  return id;
}

}  // namespace

const std::vector<std::string>& webhook_event_names() {
  static const std::vector<std::string> names = {"started", "progress", "completed"};
  return names;
}

std::vector<std::string> parse_webhook_events(const nlohmann::json& value) {
  std::vector<std::string> items;
  auto bad = [] {
    return Error(ErrorCode::invalid_param,
                 "webhook_events is a list of started, progress and completed (a JSON array or comma-separated).",
                 "webhook_events");
  };
  if (value.is_null()) return {"completed"};
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    if (!text.empty() && text.front() == '[') return parse_webhook_events(nlohmann::json::parse(text, nullptr, false));
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t comma = text.find(',', start);
      std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) items.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else if (value.is_array()) {
    for (const auto& v : value) {
      if (!v.is_string()) throw bad();
      items.push_back(v.get<std::string>());
    }
  } else {
    throw bad();
  }
  if (items.empty()) return {"completed"};
  std::vector<std::string> out;
  for (const auto& name : webhook_event_names()) {
    if (std::find(items.begin(), items.end(), name) != items.end()) out.push_back(name);
  }
  for (const auto& item : items)
    if (std::find(out.begin(), out.end(), item) == out.end())
      throw Error(ErrorCode::invalid_param,
                  "Unknown webhook event '" + item.substr(0, 40) + "'; use started, progress and completed.",
                  "webhook_events");
  return out;
}

WebhookSender::WebhookSender(const std::filesystem::path& db_path, WebhookSettings settings,
                             std::function<std::optional<JobRecord>(const std::string&)> job)
    : settings_(std::move(settings)), job_(std::move(job)), store_(db_path) {
  if (!settings_.secret.empty() && settings_.transport) signer_ = std::make_unique<WebhookSigner>(settings_.secret);
}

WebhookSender::~WebhookSender() { stop(); }

void WebhookSender::start() {
  if (!enabled() || !threads_.empty()) return;
  int missed = 0;
  for (const auto& s : store_.completions_missed()) {
    if (auto job = job_(s.job_id)) {
      completed(s, *job);
      ++missed;
    }
  }
  if (missed) log::info("webhook completions queued after a restart", {{"count", missed}});
  stopping_ = false;
  for (int i = 0; i < std::max(1, settings_.senders); ++i) threads_.emplace_back([this] { send_loop(); });
}

void WebhookSender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

nlohmann::json WebhookSender::job_data(const WebhookSubscription& s, const JobRecord& job) const {
  nlohmann::json data = {{"job_id", job.id}, {"status", state_name(job.state)}};
  if (!s.base_url.empty()) {
    data["status_url"] = s.base_url + "/api/jobs/" + job.id;
    data["events_url"] = s.base_url + "/api/jobs/" + job.id + "/events";
  }
  return data;
}

void WebhookSender::queue(const WebhookSubscription& s, const std::string& event, const nlohmann::json& data) {
  WebhookDelivery d;
  d.id = message_id();
  d.subscription_id = s.id;
  d.job_id = s.job_id;
  d.url = s.url;
  d.event = event;
  d.created_ms = now_ms();
  d.payload = nlohmann::json{{"type", event}, {"timestamp", iso_time(d.created_ms)}, {"data", data}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  d.state = "pending";
  d.next_attempt_ms = d.created_ms;
  d.give_up_ms = d.created_ms + std::chrono::duration_cast<std::chrono::milliseconds>(settings_.retry_period).count();
  store_.add_delivery(d, event != "job.started");
  {
    std::lock_guard lock(mutex_);  // a sender between its check and its wait must not miss this
  }
  wake_.notify_all();
}

void WebhookSender::started(const WebhookSubscription& s, const JobRecord& job) {
  if (!s.wants("started") || !store_.mark_started(s.id)) return;
  nlohmann::json data = job_data(s, job);
  data["status"] = "running";
  data["attempt"] = job.attempts;
  if (job.started_ms) data["started_at_ms"] = job.started_ms;
  queue(s, "job.started", data);
}

void WebhookSender::completed(const WebhookSubscription& s, const JobRecord& job) {
  if (!store_.mark_completed(s.id) || !s.wants("completed")) return;
  nlohmann::json data = job_data(s, job);
  data["cached"] = job.cached;
  data["created_at_ms"] = job.created_ms;
  if (job.finished_ms) data["finished_at_ms"] = job.finished_ms;
  if (job.state == JobState::succeeded) {
    if (!job.output_file.empty() && !s.base_url.empty())
      data["video_url"] = settings_.transport->video_url(s.base_url, job.output_file);
    if (!job.result.is_null()) {
      data["result"] = job.result;
      data["result"].erase("output_path");  // a path on the server's disk is not the receiver's business
    }
  } else {
    data["error"] = {{"code", job.error_code}, {"message", job.error_message}};
    if (!job.error_field.empty()) data["error"]["field"] = job.error_field;
  }
  queue(s, "job.completed", data);
}

void WebhookSender::subscribe(const std::string& job_id, const std::string& url, const std::vector<std::string>& events,
                              const std::string& base_url) {
  if (!enabled()) throw Error(ErrorCode::invalid_param, "Webhooks are not enabled on this server.", "webhook_url");
  WebhookSubscription s;
  s.id = new_uuid();
  s.job_id = job_id;
  s.url = url;
  s.events = events;
  s.base_url = base_url;
  s.created_ms = now_ms();
  store_.add_subscription(s);
  // Catch up: the store decides who queues each message (mark_* succeeds once), so a job
  // event racing with this subscription sends it exactly once.
  auto job = job_(job_id);
  if (!job) return;
  if (job->state == JobState::running) started(s, *job);
  if (is_final(job->state)) {
    store_.mark_started(s.id);
    completed(s, *job);
  }
}

void WebhookSender::on_job_event(const std::string& job_id, const std::string& type, const nlohmann::json& data) {
  if (!enabled()) return;
  bool is_started = type == "status" && data.value("status", "") == "running";
  bool is_progress = type == "progress";
  bool is_final_event = type == "done" || type == "failed";
  if (!is_started && !is_progress && !is_final_event) return;
  try {
    auto subscriptions = store_.subscriptions(job_id);
    if (subscriptions.empty()) return;
    if (is_progress) {
      auto now = now_ms();
      for (const auto& s : subscriptions) {
        if (!s.wants("progress") || s.completed_sent) continue;
        if (!store_.take_progress_slot(s.id, now, settings_.progress_interval.count())) continue;
        nlohmann::json d = {{"job_id", job_id}, {"status", "running"}, {"stage", data.value("stage", "")},
                            {"progress", data.value("fraction", 0.0)}};
        if (data.contains("eta_s")) d["eta_s"] = data["eta_s"];
        if (!s.base_url.empty()) d["status_url"] = s.base_url + "/api/jobs/" + job_id;
        queue(s, "job.progress", d);
      }
      return;
    }
    auto job = job_(job_id);
    if (!job) return;
    for (const auto& s : subscriptions) {
      if (is_started) started(s, *job);
      else completed(s, *job);
    }
  } catch (const std::exception& e) {
    // A webhook problem must never fail the job that caused it.
    log::error("webhook queueing failed", {{"job_id", job_id}, {"event", type}, {"error", e.what()}});
  }
}

void WebhookSender::send_loop() {
  while (!stopping_) {
    std::optional<WebhookDelivery> next;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) break;
      auto wait = 1000ms;  // also picks up rows another process or a missed wake-up left
      try {
        auto now = now_ms();
        for (auto& d : store_.pending(64)) {
          if (in_flight_.count(d.id)) continue;
          if (d.next_attempt_ms <= now) {
            in_flight_.insert(d.id);
            next = std::move(d);
          } else {
            wait = std::min(wait, std::chrono::milliseconds(d.next_attempt_ms - now));
          }
          break;
        }
      } catch (const std::exception& e) {
        log::error("webhook queue unreadable", {{"error", e.what()}});
      }
      if (!next) {
        wake_.wait_for(lock, wait);
        continue;
      }
    }
    try {
      attempt(*next);
    } catch (const std::exception& e) {
      log::error("webhook attempt failed", {{"webhook_id", next->id}, {"error", e.what()}});
    }
    {
      std::lock_guard lock(mutex_);
      in_flight_.erase(next->id);
    }
    wake_.notify_all();
  }
}

void WebhookSender::attempt(WebhookDelivery d) {
  const std::int64_t at_ms = now_ms();
  const std::string timestamp = std::to_string(at_ms / 1000);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"User-Agent", settings_.user_agent},
      {"webhook-id", d.id},
      {"webhook-timestamp", timestamp},
      {"webhook-signature", signer_->sign(d.id, at_ms / 1000, d.payload)}};
  auto started = std::chrono::steady_clock::now();
  WebhookPostResult r = settings_.transport->post(d.url, headers, d.payload, stopping_);
  if (r.stopped) return;  // stays pending; the next start sends it
  const std::int64_t now = now_ms();
  WebhookAttempt a;
  a.attempt = d.attempts + 1;
  a.at_ms = at_ms;
  a.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  a.status = r.status;
  d.attempts = a.attempt;
  d.last_status = r.status;
  bool ok = !r.permanent && r.status >= 200 && r.status <= 299;
  bool retry = !ok && !r.permanent && (r.status == 0 || r.status == 429 || (r.status >= 500 && r.status <= 599));
  std::string why = r.error;
  if (why.empty() && !ok) why = "HTTP " + std::to_string(r.status);
  if (ok) {
    d.state = "delivered";
    d.finished_ms = now;
    d.next_attempt_ms = 0;
  } else if (retry) {
    auto max_delay = settings_.max_retry_interval.count();
    std::int64_t delay = settings_.first_retry.count();
    for (int i = 1; i < d.attempts && delay < max_delay; ++i) delay *= 2;
    delay = std::min<std::int64_t>(delay, max_delay);
    if (r.retry_after_s > 0) delay = std::max<std::int64_t>(delay, std::min<std::int64_t>(r.retry_after_s * 1000LL, max_delay));
    if (now + delay > d.give_up_ms) {
      d.state = "failed";
      d.finished_ms = now;
      d.next_attempt_ms = 0;
      why += "; gave up after " + std::to_string(d.attempts) + (d.attempts == 1 ? " attempt" : " attempts");
    } else {
      d.next_attempt_ms = now + delay;
      a.next_attempt_ms = d.next_attempt_ms;
    }
  } else {
    d.state = "failed";
    d.finished_ms = now;
    d.next_attempt_ms = 0;
    if (r.status > 0 && !r.permanent) why += " (not retried: only timeouts, connection errors, 429 and 5xx are)";
  }
  a.error = ok ? std::string() : why;
  d.last_error = a.error;
  if (!store_.record_attempt(d, a)) return;  // superseded or deleted meanwhile
  log::info(ok ? "webhook delivered" : "webhook attempt failed",
            {{"webhook_id", d.id}, {"job_id", d.job_id}, {"event", d.event}, {"attempt", d.attempts},
             {"status", r.status}, {"error", a.error}, {"state", d.state}, {"duration_ms", a.duration_ms},
             {"next_attempt_ms", d.next_attempt_ms}});
}

nlohmann::json WebhookSender::log(const std::string& job_id) const {
  nlohmann::json subs = nlohmann::json::array();
  for (const auto& s : store_.subscriptions(job_id))
    subs.push_back({{"url", s.url}, {"events", s.events}, {"created_at_ms", s.created_ms}});
  nlohmann::json deliveries = nlohmann::json::array();
  for (const auto& d : store_.deliveries(job_id)) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& a : store_.attempts(d.id)) {
      nlohmann::json j = {{"attempt", a.attempt}, {"at_ms", a.at_ms}, {"duration_ms", a.duration_ms}, {"status", a.status}};
      if (!a.error.empty()) j["error"] = a.error;
      if (a.next_attempt_ms) j["next_attempt_at_ms"] = a.next_attempt_ms;
      attempts.push_back(j);
    }
    nlohmann::json j = {{"webhook_id", d.id},       {"event", d.event},     {"url", d.url},
                        {"state", d.state},         {"attempts", d.attempts}, {"created_at_ms", d.created_ms},
                        {"payload", nlohmann::json::parse(d.payload, nullptr, false)}, {"attempt_log", attempts}};
    if (d.state == "pending") j["next_attempt_at_ms"] = d.next_attempt_ms;
    if (d.finished_ms) j["finished_at_ms"] = d.finished_ms;
    if (d.last_status) j["last_status"] = d.last_status;
    if (!d.last_error.empty()) j["last_error"] = d.last_error;
    deliveries.push_back(j);
  }
  return {{"subscriptions", subs}, {"deliveries", deliveries}};
}

void WebhookSender::forget_job(const std::string& job_id) { store_.forget_job(job_id); }

void WebhookSender::prune() {
  auto keep = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.retry_period + std::chrono::hours(24 * 7));
  int n = store_.prune(now_ms() - keep.count());
  if (n) log::info("webhook deliveries pruned", {{"count", n}});
}

}  // namespace sonic::jobs
