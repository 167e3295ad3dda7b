// Unit: the bounded fair queue (round-robin between clients) and the per-job event logs
// that SSE streams read.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "jobs/fair_queue.h"
#include "jobs/job_events.h"

namespace sonic::jobs {
namespace {
using namespace std::chrono_literals;

TEST(FairQueue, RoundRobinBetweenClients) {
  FairQueue q(100);
  for (const char* id : {"b0", "b1", "b2", "b3", "b4"}) ASSERT_TRUE(q.push("batch", id));
  ASSERT_TRUE(q.push("single", "s0"));
  ASSERT_TRUE(q.push("other", "o0"));
  EXPECT_EQ(q.position("s0"), 1u);
  EXPECT_EQ(q.position("b1"), 3u);
  std::vector<std::string> order;
  while (auto id = q.pop(0ms)) order.push_back(*id);
  // One client's batch never starves the others: they get the 2nd and 3rd turns.
  EXPECT_EQ(order, (std::vector<std::string>{"b0", "s0", "o0", "b1", "b2", "b3", "b4"}));
}

TEST(FairQueue, BoundedRemovableClosable) {
  FairQueue q(2);
  EXPECT_TRUE(q.push("a", "1"));
  EXPECT_TRUE(q.push("b", "2"));
  EXPECT_FALSE(q.push("c", "3"));
  EXPECT_TRUE(q.push("c", "3", /*force=*/true));  // recovered jobs are never refused
  EXPECT_EQ(q.size(), 3u);
  EXPECT_TRUE(q.remove("2"));
  EXPECT_FALSE(q.remove("2"));
  EXPECT_FALSE(q.position("2"));
  EXPECT_EQ(q.pop(0ms), "1");
  EXPECT_EQ(q.pop(0ms), "3");
  EXPECT_FALSE(q.pop(10ms));
  auto waiter = std::async(std::launch::async, [&] { return q.pop(60s); });
  std::this_thread::sleep_for(20ms);
  q.close();
  EXPECT_FALSE(waiter.get());  // close() wakes a waiting worker at once
  EXPECT_FALSE(q.push("a", "4"));
}

TEST(JobEvents, NumberedResumableFinal) {
  JobEvents ev;
  std::uint64_t first = ev.append("j", "status", {{"s", "queued"}});
  EXPECT_GT(first, 1'000'000'000'000'000u);  // above any id of an earlier run (clock-based base)
  EXPECT_LT(first, 1ull << 53);              // exact in a JavaScript number
  EXPECT_EQ(ev.append("j", "progress", {{"f", 0.5}}), first + 1);
  auto batch = ev.wait("j", first, 0ms);
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].id, first + 1);
  EXPECT_FALSE(batch.finished);
  // An id from an earlier run (smaller than this run's base) replays the whole log.
  EXPECT_EQ(ev.wait("j", 57, 0ms).events.size(), 2u);

  auto later = std::async(std::launch::async, [&] { return ev.wait("j", first + 1, 60s); });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ev.append("j", "done", {}, true), first + 2);
  auto got = later.get();
  ASSERT_EQ(got.events.size(), 1u);
  EXPECT_EQ(got.events[0].type, "done");
  EXPECT_TRUE(got.finished);
  EXPECT_EQ(ev.append("j", "progress", {}), first + 2);  // nothing after the final event

  ev.seed("k", {{"status", {}}, {"failed", {}}}, true);
  auto seeded = ev.wait("k", 0, 0ms);
  EXPECT_EQ(seeded.events.size(), 2u);
  EXPECT_TRUE(seeded.finished);

  auto waiting = std::async(std::launch::async, [&] { return ev.wait("m", 0, 60s); });
  std::uint64_t m1 = ev.append("m", "status", {});
  EXPECT_EQ(waiting.get().events.size(), 1u);
  auto closing = std::async(std::launch::async, [&] { return ev.wait("m", m1, 60s); });
  std::this_thread::sleep_for(20ms);
  ev.close();
  EXPECT_TRUE(closing.get().closing);
}

}  // namespace
}  // namespace sonic::jobs
