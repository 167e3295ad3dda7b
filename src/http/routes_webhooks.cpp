// GET /api/jobs/{id}/webhooks: a job's webhook subscriptions and every delivery with its
// attempts (status, error, timing, the next try), so an app can see why a webhook did not
// arrive (docs/api.md "Webhooks"). Same access as the job itself; quick lane (two queries).
#include "http/api_context.h"

namespace sonic::http {

void add_webhook_routes(Router& router, ApiContext& api) {
  router.add({"GET", "/api/jobs/{id}/webhooks", Access::user, Lane::quick, false,
              [&api](Call& call) {
                std::string id = call.param("id");
                api.visible_job(call, id);
                json log = api.service.webhooks().log(id);
                send_json(call.res, 200,
                          {{"success", true},
                           {"job_id", id},
                           {"subscriptions", log["subscriptions"]},
                           {"deliveries", log["deliveries"]}});
              },
              nullptr});
}

}  // namespace sonic::http
