// Health and metadata: GET /healthz (alive), /readyz (engine, storage, queue), /metrics
// (Prometheus text), /api/presets, /api/engines, /api/limits, /openapi.json. All on the
// quick lane, so slow uploads and streams never delay them.
#include "engine/params.h"
#include "http/api_context.h"

namespace sonic::http {

void add_admin_routes(Router& router, ApiContext& api) {
  auto get = [&router](const char* path, Access access, std::function<void(Call&)> handler) {
    router.add({"GET", path, access, Lane::quick, false, std::move(handler), nullptr});
  };
  get("/healthz", Access::public_route,
      [&api](Call& call) { send_json(call.res, 200, {{"status", "ok"}, {"version", api.config.version}}); });
  get("/readyz", Access::public_route, [&api](Call& call) {
    std::string why;
    json engines = api.service.engines_json()["engines"];
    if (api.service.ready(&why)) return send_json(call.res, 200, {{"ready", true}, {"engines", engines}});
    json body = error_body(call, api.service.accepting() ? ErrorCode::internal : ErrorCode::shutting_down,
                           "Not ready: " + why, "");
    body["ready"] = false;
    body["engines"] = engines;
    send_json(call.res, 503, body);
  });
  get("/metrics", Access::metrics, [&api](Call& call) {
    call.res.set_content(api.metrics.render(api.service.metrics()), "text/plain; version=0.0.4; charset=utf-8");
  });
  get("/api/presets", Access::public_route, [](Call& call) {
    json list = json::array();
    for (const auto& p : engine::presets())
      list.push_back({{"name", p.name}, {"description", p.description}, {"config", p.config}});
    send_json(call.res, 200, {{"success", true}, {"presets", list}});
  });
  get("/api/engines", Access::public_route,
      [&api](Call& call) { send_json(call.res, 200, api.service.engines_json()); });
  // What a client may send, so it can check before uploading (the page does).
  get("/api/limits", Access::public_route, [&api](Call& call) {
    const auto& sc = api.service.config();
    send_json(call.res, 200,
              {{"success", true},
               {"max_upload_bytes", api.config.max_request_bytes},
               {"max_audio_seconds", sc.limits.max_audio_seconds},
               {"max_image_pixels", sc.limits.max_image_pixels},
               {"rate_limit_per_min", api.config.rate_limit_per_min},
               {"rate_limit_burst", api.config.rate_limit_burst},
               {"max_active_jobs", sc.max_active_per_client},
               {"queue_size", api.service.queue_capacity()},
               {"retention_hours", static_cast<double>(sc.retention.count()) / 3600.0},
               {"wait", api.service.wait_estimate().to_json()}});
  });
  get("/openapi.json", Access::public_route, [](Call& call) { call.res.set_content(openapi_json(), "application/json"); });
}

}  // namespace sonic::http
