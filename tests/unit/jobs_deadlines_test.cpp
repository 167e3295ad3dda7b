// Unit: JobDeadlines (--job-timeout-s, issue 10): a job past its limit has its token
// canceled and is reported as expired; a job that ended before is left alone; no limit
// means no thread and no cancellation.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "jobs/job_deadlines.h"

namespace sonic::jobs {
namespace {

using namespace std::chrono_literals;

// The deadline thread gives no event to wait on: poll the token, bounded.
bool canceled_within(const engine::CancelToken& token, std::chrono::seconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (!token.canceled() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return token.canceled();
}

TEST(JobDeadlines, CancelsAJobPastItsLimitAndSaysSo) {
  JobDeadlines deadlines(50ms);
  auto late = std::make_shared<engine::CancelToken>();
  auto ended = std::make_shared<engine::CancelToken>();
  deadlines.arm("late", late);
  deadlines.arm("ended", ended);  // same limit, so its deadline passes with the other's
  deadlines.disarm("ended");
  EXPECT_FALSE(deadlines.expired("late"));
  ASSERT_TRUE(canceled_within(*late, 30s));
  EXPECT_TRUE(deadlines.expired("late"));
  EXPECT_FALSE(ended->canceled());
  EXPECT_FALSE(deadlines.expired("ended"));
  deadlines.disarm("late");
  EXPECT_FALSE(deadlines.expired("late"));
}

TEST(JobDeadlines, ALaterJobGetsItsOwnFullLimit) {
  JobDeadlines deadlines(200ms);
  auto first = std::make_shared<engine::CancelToken>();
  deadlines.arm("first", first);
  ASSERT_TRUE(canceled_within(*first, 30s));
  auto second = std::make_shared<engine::CancelToken>();
  const auto armed = std::chrono::steady_clock::now();
  deadlines.arm("second", second);
  ASSERT_TRUE(canceled_within(*second, 30s));
  EXPECT_GE(std::chrono::steady_clock::now() - armed, 200ms);  // never before its own deadline
}

TEST(JobDeadlines, ZeroMeansNoLimit) {
  JobDeadlines deadlines(0ms);
  auto token = std::make_shared<engine::CancelToken>();
  deadlines.arm("job", token);
  EXPECT_FALSE(deadlines.expired("job"));
  EXPECT_FALSE(token->canceled());
}

}  // namespace
}  // namespace sonic::jobs
