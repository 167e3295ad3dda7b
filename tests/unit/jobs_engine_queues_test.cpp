// EngineQueues: each engine's workers see only that engine's jobs, per-user round robin
// holds within an engine, and the bound (queue_full) is on the total.
#include <gtest/gtest.h>

#include "jobs/engine_queues.h"

namespace sonic::jobs {
namespace {

using namespace std::chrono_literals;

TEST(EngineQueues, EachEngineHasItsOwnJobs) {
  EngineQueues q(10);
  q.add_engine("classic");
  q.add_engine("sonic");
  ASSERT_TRUE(q.push("sonic", "alice", "s1"));
  ASSERT_TRUE(q.push("classic", "alice", "c1"));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.size("sonic"), 1u);
  // A classic worker never takes the sonic job, even though it was first.
  EXPECT_EQ(q.pop("classic", 10ms), std::optional<std::string>("c1"));
  EXPECT_EQ(q.pop("classic", 10ms), std::nullopt);
  EXPECT_EQ(q.pop("sonic", 10ms), std::optional<std::string>("s1"));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.push("unknown", "alice", "x"));
}

TEST(EngineQueues, BoundIsOnTheTotalAndFairnessHoldsPerEngine) {
  EngineQueues q(3);
  q.add_engine("classic");
  q.add_engine("sonic");
  EXPECT_TRUE(q.push("sonic", "alice", "a1"));
  EXPECT_TRUE(q.push("sonic", "alice", "a2"));
  EXPECT_TRUE(q.push("sonic", "bob", "b1"));
  EXPECT_FALSE(q.push("classic", "carol", "c1"));         // full: 3 in all
  EXPECT_TRUE(q.push("classic", "carol", "c1", true));    // recovery may exceed it
  EXPECT_EQ(q.pop("sonic", 10ms), std::optional<std::string>("a1"));
  EXPECT_EQ(q.pop("sonic", 10ms), std::optional<std::string>("b1"));  // bob's turn before alice's second
  EXPECT_TRUE(q.remove("a2"));
  EXPECT_FALSE(q.remove("a2"));
  EXPECT_EQ(q.size(), 1u);
  q.close();
  EXPECT_EQ(q.pop("classic", 10ms), std::nullopt);
}

}  // namespace
}  // namespace sonic::jobs
