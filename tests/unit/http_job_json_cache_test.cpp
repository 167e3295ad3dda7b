// JobJsonCache: a record's text is serialised once while that record object lives, and
// again for a new version of the row (a new object), never served stale.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/job_json_cache.h"

using namespace sonic;

namespace {

std::shared_ptr<const jobs::JobRecord> record(const std::string& id, double progress) {
  jobs::JobRecord r;
  r.id = id;
  r.progress = progress;
  r.stage = "render";
  return std::make_shared<const jobs::JobRecord>(r);
}

}  // namespace

TEST(JobJsonCache, TextIsTheRecordsJson) {
  http::JobJsonCache cache;
  auto r = record("a", 0.5);
  EXPECT_EQ(nlohmann::json::parse(*cache.text(r)), r->to_json());
}

TEST(JobJsonCache, SameRecordIsSerialisedOnce) {
  http::JobJsonCache cache;
  auto r = record("a", 0.5);
  EXPECT_EQ(cache.text(r).get(), cache.text(r).get());
}

TEST(JobJsonCache, ANewVersionOfTheRowIsSerialisedAgain) {
  http::JobJsonCache cache;
  auto old_version = record("a", 0.25);
  auto first = cache.text(old_version);
  auto new_version = record("a", 0.75);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(*cache.text(new_version))["progress"].get<double>(), 0.75);
  // The old record freed and a new one made (possibly at its address): still not stale.
  old_version.reset();
  new_version.reset();
  auto third = record("a", 1.0);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(*cache.text(third))["progress"].get<double>(), 1.0);
}

TEST(JobJsonCache, StaysBoundedWhenFull) {
  http::JobJsonCache cache(4);
  std::vector<std::shared_ptr<const jobs::JobRecord>> alive;
  for (int i = 0; i < 20; ++i) {
    alive.push_back(record("job" + std::to_string(i), i / 20.0));
    EXPECT_EQ(nlohmann::json::parse(*cache.text(alive.back()))["job_id"], "job" + std::to_string(i));
  }
  for (const auto& r : alive) EXPECT_EQ(nlohmann::json::parse(*cache.text(r)), r->to_json());
}
