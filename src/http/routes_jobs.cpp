// The job routes: GET /api/jobs (own jobs, paged), GET /api/jobs/{id},
// GET /api/jobs/{id}/events (Server-Sent Events), POST /api/jobs/{id}/cancel,
// DELETE /api/jobs/{id} (docs/api.md). Status routes run on the quick lane; an event
// stream holds a long-lane thread until its final event, a shutdown or a gone client.
#include "http/api_context.h"

namespace sonic::http {

using namespace std::chrono_literals;

namespace {

int integer_param(const Request& req, const char* name, int fallback) {
  auto text = req.query_param(name);
  if (!text) return fallback;
  try {
    std::size_t used = 0;
    int value = std::stoi(*text, &used);
    if (used != text->size()) throw std::invalid_argument(name);
    return value;
  } catch (const std::exception&) {
    throw Error(ErrorCode::invalid_param, "offset and limit must be integers.", name);
  }
}

void list_jobs(ApiContext& api, Call& call) {
  int offset = integer_param(call.req, "offset", 0);
  int limit = integer_param(call.req, "limit", 20);
  if (offset < 0) throw Error(ErrorCode::invalid_param, "offset must be 0 or more.", "offset");
  if (limit < 1 || limit > 100) throw Error(ErrorCode::invalid_param, "limit must be 1 to 100.", "limit");
  // An admin's list is everyone's jobs.
  std::string client = call.identity && call.identity->admin ? "" : api.owner(call);
  // Assembled as text from each record's cached serialisation (job_json_cache.h).
  std::string body = R"({"success":true,"jobs":[)";
  bool first = true;
  for (const auto& job : api.service.list_records(client, offset, limit)) {
    if (!first) body += ',';
    first = false;
    body += api.job_json_text(call, job);
  }
  body += "],\"total\":" + std::to_string(api.service.count(client)) + ",\"offset\":" + std::to_string(offset) +
          ",\"limit\":" + std::to_string(limit) + "}";
  send_json_text(call.res, 200, std::move(body));
}

void events(ApiContext& api, Call& call) {
  std::string id = call.param("id");
  std::uint64_t after = 0;
  std::string last = call.req.header("Last-Event-ID");
  if (last.empty()) last = call.req.query_param("last_event_id").value_or("");
  if (!last.empty()) {
    try {
      std::size_t used = 0;
      after = std::stoull(last, &used);
      if (used != last.size()) throw std::invalid_argument("Last-Event-ID");
    } catch (const std::exception&) {
      throw Error(ErrorCode::invalid_param, "Last-Event-ID must be a number.", "Last-Event-ID");
    }
  }
  api.visible_job(call, id);
  api.service.events(id, after, 0ms);  // Error(not_found) before any byte is sent
  call.res.status = 200;
  call.res.set_header("Content-Type", "text/event-stream");
  call.res.set_header("Cache-Control", "no-cache");
  call.res.set_header("X-Accel-Buffering", "no");
  auto keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(api.config.sse_keepalive);
  call.res.stream = [&api, id, after, keepalive](StreamSink& sink) {
    std::uint64_t cursor = after;
    if (!sink.write("retry: 2000\n\n")) return;
    while (true) {
      jobs::EventBatch batch;
      try {
        batch = api.service.events(id, cursor, keepalive);
      } catch (const Error&) {
        batch.known = false;  // deleted meanwhile
      }
      std::string out;
      for (const auto& ev : batch.events) {
        out += "id: " + std::to_string(ev.id) + "\nevent: " + ev.type + "\ndata: " + ev.data.dump() + "\n\n";
        cursor = ev.id;
      }
      bool end = !batch.known || batch.finished;
      if (!end && batch.closing) {
        out += "event: shutdown\ndata: " +
               json{{"job_id", id}, {"message", "The server is restarting; reconnect with Last-Event-ID."}}.dump() +
               "\n\n";
        end = true;
      }
      if (out.empty()) out = ": keep-alive\n\n";
      if (!sink.write(out)) return;  // client gone: costs nothing more
      if (end) return;
    }
  };
}

}  // namespace

void add_job_routes(Router& router, ApiContext& api) {
  router.add({"GET", "/api/jobs", Access::user, Lane::quick, false, [&api](Call& call) { list_jobs(api, call); }, nullptr});
  router.add({"GET", "/api/jobs/{id}/events", Access::user, Lane::long_running, false,
              [&api](Call& call) { events(api, call); }, nullptr});
  router.add({"GET", "/api/jobs/{id}", Access::user, Lane::quick, false,
              [&api](Call& call) { send_json(call.res, 200, api.job_json(call, api.visible_job(call, call.param("id")))); },
              nullptr});
  router.add({"POST", "/api/jobs/{id}/cancel", Access::user, Lane::quick, false,
              [&api](Call& call) {
                api.visible_job(call, call.param("id"));
                send_json(call.res, 200, api.job_json(call, api.service.cancel(call.param("id"))));
              },
              nullptr});
  router.add({"DELETE", "/api/jobs/{id}", Access::user, Lane::quick, false,
              [&api](Call& call) {
                std::string id = call.param("id");
                api.visible_job(call, id);
                api.service.remove(id);
                send_json(call.res, 200, {{"success", true}, {"job_id", id}, {"deleted", true}});
              },
              nullptr});
}

}  // namespace sonic::http
