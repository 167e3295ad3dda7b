// The lease scripts against a real redis-server: who may renew, post and finish a job entry,
// takeover by XAUTOCLAIM, dead letters, hand-back and cancel — each decision made by Redis
// atomically. Leases of 0 ms make "expired" immediate, so nothing here waits for a clock.
#include <gtest/gtest.h>

#include "jobs/remote/stream_leases.h"
#include "support/redis_process.h"

namespace sonic::jobs::remote {
namespace {

using namespace std::chrono_literals;
using test::RedisProcess;

class StreamLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis.running());
    leases.ensure_engine_group(redis.connection(), "classic");
    leases.ensure_events_group(redis.connection());
  }
  std::string add_job(const std::string& job) {
    return leases.add(redis.connection(), "classic", {{"job", job}, {"attempt", "1"}, {"payload", "{}"}});
  }
  long long pending() { return redis.command({"XPENDING", keys.jobs("classic"), kWorkersGroup})[0].as_integer(); }
  std::vector<Fields> events() {
    std::vector<Fields> out;
    for (const auto& e : redis.command({"XRANGE", keys.events(), "-", "+"}).elements) {
      Fields f;
      for (std::size_t i = 0; i + 1 < e[1].size(); i += 2) f.emplace_back(e[1][i].text(), e[1][i + 1].text());
      out.push_back(f);
    }
    return out;
  }
  static std::string get(const Fields& f, const std::string& key) {
    for (const auto& [k, v] : f)
      if (k == key) return v;
    return {};
  }

  RedisProcess redis;
  RedisKeys keys{"t"};
  StreamLeases leases{keys, 3};
};

TEST(RedisUrlTest, ParsesWhatOperatorsWrite) {
  auto u = parse_redis_url("redis://10.0.0.5:6380/2");
  EXPECT_EQ(u.host, "10.0.0.5");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 2);
  u = parse_redis_url("redis://sonic:s3cret@redis.internal");
  EXPECT_EQ(u.user, "sonic");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.display(), "redis://sonic:***@redis.internal:6379");
  u = parse_redis_url("redis://:pw@[::1]:7000");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.password, "pw");
  for (const char* bad : {"http://x:1", "rediss://x:1", "redis://", "redis://h:port", "redis://h:70000", "redis://h:1/x"}) {
    try {
      parse_redis_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_config) << bad;
      EXPECT_EQ(e.field(), "redis");
    }
  }
}

TEST_F(StreamLeasesTest, TheTakerHoldsTheLeaseAndFinishesAtomically) {
  std::string entry = add_job("job-1");
  auto held = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->entry_id, entry);
  EXPECT_EQ(held->job_id, "job-1");
  EXPECT_EQ(held->engine, "classic");
  EXPECT_EQ(held->delivery, 1);
  EXPECT_FALSE(leases.take_new(redis.connection(), {"classic"}, "w2", 10ms)) << "one entry, one taker";

  EXPECT_EQ(leases.renew(redis.connection(), *held), LeaseState::held);
  EXPECT_EQ(leases.post(redis.connection(), *held, StreamLeases::PostMode::start, {{"type", "started"}}), LeaseState::held);
  EXPECT_EQ(leases.post(redis.connection(), *held, StreamLeases::PostMode::progress, {{"type", "progress"}}),
            LeaseState::held);
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(leases.post(redis.connection(), *held, StreamLeases::PostMode::final, {{"type", "failed"}}), LeaseState::held);
  EXPECT_EQ(pending(), 0);
  EXPECT_FALSE(leases.exists(redis.connection(), "classic", entry)) << "a finished entry leaves the stream";
  auto ev = events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(get(ev[0], "type"), "started");
  EXPECT_EQ(get(ev[2], "type"), "failed");
  // After the end nothing more can be said about it.
  EXPECT_EQ(leases.renew(redis.connection(), *held), LeaseState::lost);
  EXPECT_EQ(leases.post(redis.connection(), *held, StreamLeases::PostMode::progress, {{"type", "progress"}}),
            LeaseState::lost);
  EXPECT_EQ(events().size(), 3u);
}

TEST_F(StreamLeasesTest, ATakeoverSilencesTheFormerHolder) {
  add_job("job-2");
  auto first = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(first);
  // A lease of 0 ms has run out at once: w2 takes the entry over.
  auto second = leases.take_over(redis.connection(), "classic", "w2", 0ms);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->entry_id, first->entry_id);
  EXPECT_EQ(second->delivery, 2);
  EXPECT_EQ(second->job_id, "job-2");
  EXPECT_EQ(redis.command({"HGET", keys.stats(), "takeovers"}).as_integer(), 1);
  auto owner = leases.owner(redis.connection(), "classic", first->entry_id);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->first, "w2");
  EXPECT_EQ(owner->second, 2);

  // The zombie: its renewal, its events, its hand-back and its final post are all refused.
  EXPECT_EQ(leases.renew(redis.connection(), *first), LeaseState::lost);
  EXPECT_EQ(leases.post(redis.connection(), *first, StreamLeases::PostMode::progress, {{"type", "progress"}}),
            LeaseState::lost);
  EXPECT_EQ(leases.post(redis.connection(), *first, StreamLeases::PostMode::final, {{"type", "succeeded"}}),
            LeaseState::lost);
  EXPECT_FALSE(leases.release(redis.connection(), *first, {{"type", "released"}}));
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(pending(), 1) << "the zombie's final post must not acknowledge the entry";

  // The same consumer name with an older delivery count is a zombie too.
  HeldEntry stale = *second;
  stale.delivery = 1;
  EXPECT_EQ(leases.renew(redis.connection(), stale), LeaseState::lost);
  EXPECT_EQ(leases.renew(redis.connection(), *second), LeaseState::held);
}

TEST_F(StreamLeasesTest, ARenewedLeaseIsNotTakenOver) {
  add_job("job-3");
  auto held = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(held);
  ASSERT_EQ(leases.renew(redis.connection(), *held), LeaseState::held);
  EXPECT_FALSE(leases.take_over(redis.connection(), "classic", "w2", 60s)) << "renewed moments ago";
  EXPECT_EQ(leases.renew(redis.connection(), *held), LeaseState::held);
}

TEST_F(StreamLeasesTest, AnEntryDeliveredTooOftenIsDeadLettered) {
  std::string entry = add_job("job-4");
  auto held = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(held);
  ASSERT_TRUE(leases.take_over(redis.connection(), "classic", "w2", 0ms));  // delivery 2
  auto third = leases.take_over(redis.connection(), "classic", "w3", 0ms);   // delivery 3
  ASSERT_TRUE(third);
  EXPECT_EQ(third->delivery, 3);
  // A fourth delivery would be one more than allowed: dead letter instead.
  EXPECT_FALSE(leases.take_over(redis.connection(), "classic", "w4", 0ms));
  EXPECT_EQ(pending(), 0);
  EXPECT_FALSE(leases.exists(redis.connection(), "classic", entry));
  auto dead = redis.command({"XRANGE", keys.dead(), "-", "+"});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(field_value(dead[0][1], "job"), "job-4");
  EXPECT_EQ(field_value(dead[0][1], "deliveries"), "3");
  EXPECT_EQ(field_value(dead[0][1], "engine"), "classic");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(get(ev[0], "type"), "dead");
  EXPECT_EQ(get(ev[0], "job"), "job-4");
  EXPECT_EQ(get(ev[0], "attempt"), "1");
  EXPECT_EQ(redis.command({"HGET", keys.stats(), "dead_letters"}).as_integer(), 1);
  EXPECT_EQ(leases.renew(redis.connection(), *third), LeaseState::lost);
}

TEST_F(StreamLeasesTest, TheServerDeadLettersTheLastDeliveryWhenNoWorkerIsLeft) {
  add_job("job-5");
  ASSERT_TRUE(leases.take_new(redis.connection(), {"classic"}, "w1", 100ms));
  ASSERT_TRUE(leases.take_over(redis.connection(), "classic", "w2", 0ms));
  EXPECT_EQ(leases.reap_dead(redis.connection(), "classic", 0ms), 0) << "two deliveries: a third is still allowed";
  ASSERT_TRUE(leases.take_over(redis.connection(), "classic", "w3", 0ms));
  EXPECT_EQ(leases.reap_dead(redis.connection(), "classic", 60s), 0) << "the third run's lease is still fresh";
  EXPECT_EQ(leases.reap_dead(redis.connection(), "classic", 0ms), 1);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(redis.integer({"XLEN", keys.dead()}), 1);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(get(ev[0], "type"), "dead");
  EXPECT_EQ(get(ev[0], "worker"), "server");
}

TEST_F(StreamLeasesTest, CancelStopsARunAndAJobNotYetStarted) {
  add_job("job-6");
  add_job("job-7");
  auto running = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(running);
  redis.command({"SET", keys.cancel("job-6"), "1", "EX", "60"});
  EXPECT_EQ(leases.renew(redis.connection(), *running), LeaseState::canceled);
  EXPECT_EQ(leases.post(redis.connection(), *running, StreamLeases::PostMode::final, {{"type", "canceled"}}),
            LeaseState::held);

  redis.command({"SET", keys.cancel("job-7"), "1", "EX", "60"});
  auto next = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job_id, "job-7");
  EXPECT_EQ(leases.post(redis.connection(), *next, StreamLeases::PostMode::start, {{"type", "started"}}),
            LeaseState::canceled);
  EXPECT_EQ(pending(), 0) << "a canceled job is acknowledged, not run";
  EXPECT_EQ(redis.integer({"XLEN", keys.jobs("classic")}), 0);
}

TEST_F(StreamLeasesTest, WithdrawRemovesOnlyAnEntryNobodyHasTaken) {
  std::string taken = add_job("job-8");
  ASSERT_TRUE(leases.take_new(redis.connection(), {"classic"}, "w1", 100ms));
  std::string waiting = add_job("job-9");
  EXPECT_FALSE(leases.withdraw(redis.connection(), "classic", taken));
  EXPECT_TRUE(leases.exists(redis.connection(), "classic", taken));
  EXPECT_TRUE(leases.withdraw(redis.connection(), "classic", waiting));
  EXPECT_FALSE(leases.exists(redis.connection(), "classic", waiting));
  EXPECT_FALSE(leases.take_new(redis.connection(), {"classic"}, "w2", 10ms));
}

TEST_F(StreamLeasesTest, AReleasedEntryStartsAgainWithAFreshDeliveryCount) {
  std::string entry = add_job("job-10");
  auto held = leases.take_new(redis.connection(), {"classic"}, "w1", 100ms);
  ASSERT_TRUE(held);
  ASSERT_TRUE(leases.take_over(redis.connection(), "classic", "w2", 0ms));
  auto second = leases.take_over(redis.connection(), "classic", "w3", 0ms);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->delivery, 3);
  auto fresh = leases.release(redis.connection(), *second, {{"type", "released"}, {"job", "job-10"}});
  ASSERT_TRUE(fresh);
  EXPECT_NE(*fresh, entry);
  EXPECT_FALSE(leases.exists(redis.connection(), "classic", entry));
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(get(ev[0], "new_entry"), *fresh);
  auto again = leases.take_new(redis.connection(), {"classic"}, "w4", 100ms);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->entry_id, *fresh);
  EXPECT_EQ(again->delivery, 1) << "a hand-back is not a crash";
  EXPECT_EQ(again->job_id, "job-10");
}

TEST_F(StreamLeasesTest, StreamsOfOtherEnginesAreNotRead) {
  leases.ensure_engine_group(redis.connection(), "gpu");
  leases.add(redis.connection(), "gpu", {{"job", "g"}, {"attempt", "1"}});
  EXPECT_FALSE(leases.take_new(redis.connection(), {"classic"}, "cpu-worker", 20ms));
  auto g = leases.take_new(redis.connection(), {"classic", "gpu"}, "gpu-worker", 100ms);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->engine, "gpu");
}

TEST(RedisConnectionTest, ReconnectsAfterRedisRestarts) {
  RedisProcess redis;
  ASSERT_TRUE(redis.running());
  RedisConnection c(parse_redis_url(redis.url()), "reconnect-test", 2s);
  c.command({"SET", "k", "v"});
  EXPECT_EQ(c.connections(), 1u);
  redis.shutdown();
  EXPECT_THROW(c.command({"GET", "k"}), RedisUnavailable);
  EXPECT_FALSE(c.connected());
  EXPECT_THROW(c.command({"GET", "k"}), RedisUnavailable) << "nobody listens";
  ASSERT_TRUE(redis.restart());
  EXPECT_EQ(c.command({"GET", "k"}).text(), "v") << "AOF kept the write; the connection came back by itself";
  EXPECT_EQ(c.connections(), 2u);
  try {
    c.command({"XGROUP", "CREATE", "nostream", "g", "0"});
    ADD_FAILURE() << "an error reply must throw";
  } catch (const RedisReplyError& e) {
    EXPECT_NE(e.text().find("ERR"), std::string::npos) << e.text();
  }
  EXPECT_TRUE(c.connected()) << "an error reply leaves the connection usable";
  auto replies = c.pipeline({{"SET", "a", "1"}, {"INCR", "a"}, {"GET", "a"}});
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[2].text(), "2");
}

}  // namespace
}  // namespace sonic::jobs::remote
