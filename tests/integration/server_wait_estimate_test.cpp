// Integration: GET /api/limits states the retention period and a wait estimate made from
// this server's own finished jobs, which the web page shows before Generate (issue 16).
#include "integration/server_process.h"

namespace sonic::test {
namespace {

TEST(ServerWaitEstimate, LimitsCarryRetentionAndAnEstimateFromRecentJobs) {
  ServerProcess server({"--retention-h", "36", "--workers", "1"});
  auto c = server.client();
  json limits = body_json(c->Get("/api/limits"));
  ASSERT_TRUE(limits.is_object());
  EXPECT_EQ(limits["retention_hours"], 36.0) << limits.dump();
  const json& before = limits["wait"];
  ASSERT_TRUE(before.is_object()) << limits.dump();
  // Nothing has run yet: no figure is made up.
  EXPECT_EQ(before["samples"], 0);
  EXPECT_TRUE(before["run_seconds_per_audio_second"].is_null()) << before.dump();
  EXPECT_TRUE(before["queue_seconds"].is_null()) << before.dump();
  EXPECT_EQ(before["workers"], 1);

  auto r = c->Post("/api/sonic/generate", quick_job(7, 1.0));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // A cache hit does not run the engine and must not count as a run.
  r = c->Post("/api/sonic/generate", quick_job(7, 1.0));
  ASSERT_TRUE(r);
  ASSERT_EQ(body_json(r)["cached"], true) << r->body;

  const json after = body_json(c->Get("/api/limits"))["wait"];
  EXPECT_EQ(after["samples"], 1) << after.dump();
  ASSERT_TRUE(after["run_seconds_per_audio_second"].is_number()) << after.dump();
  EXPECT_GT(after["run_seconds_per_audio_second"].get<double>(), 0.0);
  EXPECT_GE(after["run_seconds_fixed"].get<double>(), 0.0);
  // Idle again: a new job would start at once.
  EXPECT_EQ(after["queue_seconds"], 0.0) << after.dump();
  EXPECT_EQ(after["queued"], 0);
  EXPECT_EQ(after["running"], 0);
}

}  // namespace
}  // namespace sonic::test
