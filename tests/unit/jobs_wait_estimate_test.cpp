// Unit: the wait estimate the web page shows before Generate — the run-time fit from recent
// jobs and the simulation of the jobs ahead on the workers.
#include <gtest/gtest.h>

#include <cmath>

#include "jobs/wait_estimate.h"

namespace sonic::jobs {
namespace {

TEST(RecentRuns, NothingSeenMeansNoEstimate) {
  RecentRuns runs;
  RunTimeFit fit = runs.fit();
  EXPECT_EQ(fit.samples, 0u);
  WaitEstimate e = estimate_wait(fit, {0.5}, 3, 1);
  EXPECT_FALSE(e.queue_seconds.has_value());
  auto j = e.to_json();
  EXPECT_TRUE(j["run_seconds_fixed"].is_null());
  EXPECT_TRUE(j["run_seconds_per_audio_second"].is_null());
  EXPECT_TRUE(j["queue_seconds"].is_null());
  EXPECT_EQ(j["queued"], 3);
  EXPECT_EQ(j["running"], 1);
}

TEST(RecentRuns, FitsFixedCostPlusCostPerSecond) {
  RecentRuns runs;
  // run = 2 + 0.5 × video seconds
  for (double v : {4.0, 10.0, 20.0, 6.0}) runs.observe(2.0 + 0.5 * v, v);
  RunTimeFit fit = runs.fit();
  EXPECT_EQ(fit.samples, 4u);
  EXPECT_NEAR(fit.fixed_s, 2.0, 1e-9);
  EXPECT_NEAR(fit.per_video_second, 0.5, 1e-9);
  EXPECT_NEAR(fit.run_seconds(60), 32.0, 1e-9);
  EXPECT_NEAR(fit.mean_run_s, 2.0 + 0.5 * 10.0, 1e-9);
}

TEST(RecentRuns, TooFewOrTooAlikeIsAPlainRatio) {
  RecentRuns runs;
  runs.observe(3.0, 6.0);
  runs.observe(3.2, 6.0);
  runs.observe(2.8, 6.2);
  RunTimeFit fit = runs.fit();
  EXPECT_EQ(fit.fixed_s, 0.0);
  EXPECT_NEAR(fit.per_video_second, 9.0 / 18.2, 1e-9);
}

TEST(RecentRuns, NonsenseIsIgnoredAndOldRunsRollOff) {
  RecentRuns runs(3);
  runs.observe(0, 5);
  runs.observe(5, 0);
  runs.observe(-1, 5);
  runs.observe(std::nan(""), 5);
  EXPECT_EQ(runs.fit().samples, 0u);
  runs.observe(100, 10);  // an old slow run, pushed out by three fast ones
  for (int i = 0; i < 3; ++i) runs.observe(1, 10);
  RunTimeFit fit = runs.fit();
  EXPECT_EQ(fit.samples, 3u);
  EXPECT_NEAR(fit.mean_run_s, 1.0, 1e-9);
}

TEST(EstimateWait, IdleServerStartsAtOnce) {
  RunTimeFit fit{5, 1.0, 0.5, 4.0};
  WaitEstimate e = estimate_wait(fit, {}, 0, 2);
  ASSERT_TRUE(e.queue_seconds.has_value());
  EXPECT_EQ(*e.queue_seconds, 0.0);
}

TEST(EstimateWait, RunningAndQueuedJobsGoToTheFirstFreeWorker) {
  RunTimeFit fit{5, 0.0, 1.0, 10.0};  // every job takes 10 s on average
  // One worker: the running job has 75 % left (7.5 s), then two queued jobs of 10 s each.
  EXPECT_NEAR(*estimate_wait(fit, {0.25}, 2, 1).queue_seconds, 27.5, 1e-9);
  // Two workers: free at 7.5 and 0; the queued jobs take 0→10 and 7.5→17.5; next free at 10.
  EXPECT_NEAR(*estimate_wait(fit, {0.25}, 2, 2).queue_seconds, 10.0, 1e-9);
  // A progress outside 0–1 is clamped, and zero workers count as one.
  EXPECT_NEAR(*estimate_wait(fit, {1.7}, 0, 0).queue_seconds, 0.0, 1e-9);
  auto j = estimate_wait(fit, {0.25}, 2, 2).to_json();
  EXPECT_EQ(j["samples"], 5);
  EXPECT_EQ(j["workers"], 2);
  EXPECT_NEAR(j["queue_seconds"].get<double>(), 10.0, 1e-9);
}

}  // namespace
}  // namespace sonic::jobs
