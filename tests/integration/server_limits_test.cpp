// Integration: the per-caller limits of POST /api/sonic/generate over real HTTP (issue 5,
// docs/auth.md): the token bucket (--rate-limit-per-min / --rate-limit-burst), keyed by the
// token's subject with auth on and by the client address with auth off (X-Forwarded-For
// only from --trusted-proxy peers), and the cap on a caller's active jobs
// (--max-active-jobs). Both answer 429 rate_limited with Retry-After; the limiter before any
// byte of the upload is stored, the cap when a new job would be queued (a join or a cache
// hit adds no work and passes), deleting the refused upload at once. Both are on by default
// only with auth on (or a non-loopback bind): with auth off on loopback the one user is the
// person at this machine, and a flag, SONIC_* variable or config-file setting turns them on.
//
// The limiter runs before the body is read, so most requests here are cheap: a text/plain
// body that passes the limiter and then fails 415. Only the cap tests run real jobs (a
// 60 s speech clip at 512 px, so they are still queued or running while the test works),
// and every job is cancelled before the server stops.
#include <ctime>
#include <set>

#include "http/auth.h"
#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

const std::string kSecret = "limits-test-secret-" + std::string(32, 's');

httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string token_for(const std::string& sub) {
  return http::mint_hs256_token(kSecret, sub, 600, false);
}

// A generate request that costs nothing: it passes the limits, then fails 415 (not multipart).
httplib::Result cheap_generate(httplib::Client& c, const httplib::Headers& headers = {}) {
  return c.Post("/api/sonic/generate", headers, "not an upload", "text/plain");
}

// The request got past both limits (and then failed for its body).
void expect_passed(const httplib::Result& r, const std::string& what = {}) {
  ASSERT_TRUE(r) << what;
  EXPECT_EQ(r->status, 415) << what << ": " << r->body;
  EXPECT_EQ(body_json(r)["code"], "unsupported_media_type") << what << ": " << r->body;
}

// A 429 rate_limited with an integer Retry-After in [min_s, max_s] and a message; returns
// the Retry-After (0 when missing).
int expect_limited(const httplib::Result& r, int min_s, int max_s, const std::string& what = {}) {
  EXPECT_TRUE(r) << what;
  if (!r) return 0;
  EXPECT_EQ(r->status, 429) << what << ": " << r->body;
  json body = body_json(r);
  EXPECT_EQ(body["code"], "rate_limited") << what << ": " << r->body;
  EXPECT_EQ(body["success"], false) << r->body;
  EXPECT_TRUE(body["error"].is_string() && !body["error"].get<std::string>().empty()) << r->body;
  std::string retry = r->get_header_value("Retry-After");
  bool digits =
      !retry.empty() && retry.size() < 6 &&
      std::all_of(retry.begin(), retry.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  EXPECT_TRUE(digits) << what << ": Retry-After '" << retry << "' is not an integer";
  if (!digits) return 0;
  int seconds = std::stoi(retry);
  EXPECT_GE(seconds, min_s) << what;
  EXPECT_LE(seconds, max_s) << what;
  return seconds;
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec))
    names.insert(entry.path().string());
  return names;
}

// Expects no file in `after` that was not in `before`.
void expect_no_new_files(const std::set<std::string>& before, const std::set<std::string>& after) {
  for (const auto& name : after) EXPECT_TRUE(before.count(name)) << "left behind: " << name;
}

// ---------------------------------------------------------------------------------------
// The token bucket

TEST(ServerRateLimit, TenAMinuteAllowsABurstOfThreeThenRefusesUntilATokenRefills) {
  ServerProcess server({"--rate-limit-per-min", "10", "--rate-limit-burst", "3"});
  auto c = server.client();
  for (int i = 0; i < 3; ++i)
    expect_passed(cheap_generate(*c), "burst request " + std::to_string(i + 1));
  int retry = expect_limited(cheap_generate(*c), 1, 6, "4th request");
  EXPECT_GE(retry, 5) << "one token comes back every 6 s at 10 a minute";

  // A refused real upload is not stored (the limiter runs before the body is read).
  auto before = files_in(server.data_dir() / "uploads");
  expect_limited(c->Post("/api/sonic/generate", quick_job()), 1, 6, "refused upload");
  expect_no_new_files(before, files_in(server.data_dir() / "uploads"));
  auto list = body_json(c->Get("/api/jobs"));
  EXPECT_EQ(list["total"], 0) << list.dump();

  std::this_thread::sleep_for(std::chrono::seconds(std::max(retry, 1)));
  expect_passed(cheap_generate(*c), "after Retry-After");
  expect_limited(cheap_generate(*c), 1, 6, "only one token came back");
}

TEST(ServerRateLimit, PerUserWithJwtAuth) {
  TempDir keys;
  write_file(keys / "secret", kSecret + "\n");
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (keys / "secret").string(),
                        "--rate-limit-per-min", "10", "--rate-limit-burst", "3"});
  auto c = server.client();
  for (int i = 0; i < 3; ++i)
    expect_passed(cheap_generate(*c, bearer(token_for("alice"))), "alice");
  expect_limited(cheap_generate(*c, bearer(token_for("alice"))), 1, 6, "alice's 4th");
  // Keyed by the subject, not the token: a fresh token of alice's is still limited.
  expect_limited(cheap_generate(*c, bearer(http::mint_hs256_token(kSecret, "alice", 60, false))), 1,
                 6, "alice with another token");
  // No token: authentication comes first (401, not 429).
  auto anonymous = cheap_generate(*c);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  for (int i = 0; i < 3; ++i) expect_passed(cheap_generate(*c, bearer(token_for("bob"))), "bob");
  expect_limited(cheap_generate(*c, bearer(token_for("bob"))), 1, 6, "bob's 4th");
}

TEST(ServerRateLimit, AuthOffKeysOnTheForwardedClientOnlyFromATrustedProxy) {
  ServerProcess server(
      {"--rate-limit-per-min", "10", "--rate-limit-burst", "1", "--trusted-proxy", "127.0.0.1"});
  auto c = server.client();
  auto xff = [](const std::string& v) { return httplib::Headers{{"X-Forwarded-For", v}}; };
  expect_passed(cheap_generate(*c, xff("198.51.100.1")), "first client");
  expect_limited(cheap_generate(*c, xff("198.51.100.1")), 1, 6, "first client again");
  expect_passed(cheap_generate(*c, xff("198.51.100.2")), "second client");
  expect_passed(cheap_generate(*c), "the proxy itself (no header)");
  expect_limited(cheap_generate(*c), 1, 6, "the proxy itself again");

  expect_passed(cheap_generate(*c, xff("1.2.3.4")), "1.2.3.4");
  // A chain ending in the trusted proxy keys on the client before it.
  expect_limited(cheap_generate(*c, xff("1.2.3.4, 127.0.0.1")), 1, 6, "1.2.3.4 via two proxies");
  // Whatever the client puts on the left does not give it a new bucket.
  expect_limited(cheap_generate(*c, xff("203.0.113.99, 1.2.3.4")), 1, 6, "spoofed left entry");
  expect_passed(cheap_generate(*c, xff("1.2.3.5, 127.0.0.1")), "1.2.3.5 via two proxies");
}

TEST(ServerRateLimit, AuthOffIgnoresForwardedForWithoutTrustedProxy) {
  ServerProcess server({"--rate-limit-per-min", "10", "--rate-limit-burst", "1"});
  auto c = server.client();
  expect_passed(cheap_generate(*c, {{"X-Forwarded-For", "198.51.100.1"}}));
  expect_limited(cheap_generate(*c, {{"X-Forwarded-For", "198.51.100.2"}}), 1, 6,
                 "another X-Forwarded-For from an untrusted peer");
  expect_limited(cheap_generate(*c), 1, 6, "no header");
}

// ---------------------------------------------------------------------------------------
// Which limits apply when no flag says (the server is started without the limit flags)

// Sets an environment variable for the server processes started while it lives.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

json limits_of(const ServerProcess& server) {
  return body_json(server.client()->Get("/api/limits"));
}

constexpr auto kServerDefaults = ServerProcess::Limits::server_defaults;

TEST(ServerDefaultLimits, AuthOffOnLoopbackRefusesNoBurst) {
  ServerProcess server({}, {}, kServerDefaults);
  json limits = limits_of(server);
  EXPECT_EQ(limits["rate_limit_per_min"], 0) << limits.dump();
  EXPECT_EQ(limits["max_active_jobs"], 0) << limits.dump();
  auto c = server.client();
  for (int i = 0; i < 20; ++i) expect_passed(cheap_generate(*c), "request " + std::to_string(i + 1));
}

TEST(ServerDefaultLimits, AuthOnAppliesTenAMinuteBurstThreeAndFourActiveJobs) {
  TempDir keys;
  write_file(keys / "secret", kSecret + "\n");
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (keys / "secret").string()}, {}, kServerDefaults);
  json limits = limits_of(server);
  EXPECT_EQ(limits["rate_limit_per_min"], 10) << limits.dump();
  EXPECT_EQ(limits["rate_limit_burst"], 3) << limits.dump();
  EXPECT_EQ(limits["max_active_jobs"], 4) << limits.dump();
  auto c = server.client();
  for (int i = 0; i < 3; ++i) expect_passed(cheap_generate(*c, bearer(token_for("carol"))), "carol");
  expect_limited(cheap_generate(*c, bearer(token_for("carol"))), 1, 6, "carol's 4th");
}

// A non-loopback bind without auth (--insecure-no-auth) is a shared server: defaults apply.
// ::ffff:127.0.0.1 is not a loopback address by name, yet only this machine reaches it.
TEST(ServerDefaultLimits, NonLoopbackBindWithoutAuthKeepsTheDefaults) {
  ServerProcess server({"--host", "::ffff:127.0.0.1", "--insecure-no-auth"}, {}, kServerDefaults);
  json limits = limits_of(server);
  EXPECT_EQ(limits["rate_limit_per_min"], 10) << limits.dump();
  EXPECT_EQ(limits["max_active_jobs"], 4) << limits.dump();
}

TEST(ServerDefaultLimits, AFlagVariableOrConfigFileTurnsThemOnWithAuthOff) {
  {
    ServerProcess server({"--rate-limit-per-min", "10"}, {}, kServerDefaults);
    json limits = limits_of(server);
    EXPECT_EQ(limits["rate_limit_per_min"], 10) << limits.dump();
    EXPECT_EQ(limits["max_active_jobs"], 0) << limits.dump();
    auto c = server.client();
    for (int i = 0; i < 3; ++i) expect_passed(cheap_generate(*c), "burst request " + std::to_string(i + 1));
    expect_limited(cheap_generate(*c), 1, 6, "4th request");
  }
  {
    ScopedEnv env("SONIC_MAX_ACTIVE_JOBS", "2");
    ServerProcess server({}, {}, kServerDefaults);
    json limits = limits_of(server);
    EXPECT_EQ(limits["max_active_jobs"], 2) << limits.dump();
    EXPECT_EQ(limits["rate_limit_per_min"], 0) << limits.dump();
  }
  {
    TempDir dir;
    write_file(dir / "sonic.json", R"({"rate-limit-burst": 2})");
    ServerProcess server({"--config-file", (dir / "sonic.json").string()}, {}, kServerDefaults);
    json limits = limits_of(server);
    EXPECT_EQ(limits["rate_limit_per_min"], 10) << limits.dump();
    EXPECT_EQ(limits["rate_limit_burst"], 2) << limits.dump();
    EXPECT_EQ(limits["max_active_jobs"], 0) << limits.dump();
  }
}

// ---------------------------------------------------------------------------------------
// The cap on active jobs (workers 1: the first job runs, the others wait in the queue)

class ServerActiveCap : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    media_ = new TempDir;
    // 60 s of speech (8 kHz FLAC, so an upload stays small): a job at 512 px runs for
    // several seconds even in a release build, so it is still active while a test works.
    auto speech = fixture("speech_en_5s.wav").string();
    run_ok("sox " + shell_quote(speech) + " -r 8000 " +
           shell_quote((*media_ / "speech_60s.flac").string()) + " repeat 11");
  }
  static void TearDownTestSuite() {
    delete media_;
    media_ = nullptr;
  }
  static httplib::MultipartFormDataItems long_job(int seed) {
    return {file_part("image", fixture("portrait.png"), "image/png"),
            file_part("audio", *media_ / "speech_60s.flac", "audio/flac"),
            text_part("config", json{{"min_resolution", 512}, {"seed", seed}}.dump())};
  }
  // An async submission that must be accepted (202); returns the job id.
  static std::string submit(httplib::Client& c, int seed, httplib::Headers headers = {},
                            bool joined = false) {
    headers.emplace("Prefer", "respond-async");
    auto r = c.Post("/api/sonic/generate", headers, long_job(seed));
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 202) << r->body;
    json body = body_json(r);
    EXPECT_EQ(body["joined"], joined) << r->body;
    return body.value("job_id", "");
  }
  static void cancel(httplib::Client& c, const std::string& id,
                     const httplib::Headers& headers = {}) {
    if (id.empty()) return;
    auto r = c.Post("/api/jobs/" + id + "/cancel", headers, "", "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  static std::string status_of(httplib::Client& c, const std::string& id,
                               const httplib::Headers& headers = {}) {
    auto r = c.Get("/api/jobs/" + id, headers);
    if (!r || r->status != 200) return "?";
    return body_json(r).value("status", "?");
  }
  // Waits until the job is final (after a cancel: at most a frame of work).
  static void wait_final(httplib::Client& c, const std::string& id,
                         const httplib::Headers& headers = {}) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string s = status_of(c, id, headers);
      if (s == "succeeded" || s == "failed" || s == "canceled") return;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "job " << id << " did not finish";
  }

  static TempDir* media_;
};
TempDir* ServerActiveCap::media_ = nullptr;

// Issue 13: a local ComfyUI batch queues many jobs at once from one address.
TEST_F(ServerActiveCap, AuthOffOnLoopbackQueuesMoreThanTheCapByDefault) {
  ServerProcess server({"--workers", "1"}, {}, kServerDefaults);
  auto c = server.client();
  std::vector<std::string> ids;
  for (int seed = 1; seed <= 6; ++seed) ids.push_back(submit(*c, seed));  // the cap with auth is 4
  for (const auto& id : ids) EXPECT_FALSE(id.empty());
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 6);
  for (const auto& id : ids) cancel(*c, id);
  for (const auto& id : ids)
    if (!id.empty()) wait_final(*c, id);
}

TEST_F(ServerActiveCap, ThirdActiveJobIsRefusedWithoutLeftoversAndCancelFreesASlot) {
  ServerProcess server({"--max-active-jobs", "2", "--workers", "1", "--rate-limit-per-min", "0"});
  auto c = server.client();
  std::string first = submit(*c, 1);
  std::string second = submit(*c, 2);
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());

  // The 3rd different job: refused, and its upload is not kept.
  auto uploads = server.data_dir() / "uploads";
  auto before = files_in(uploads);
  auto refused = c->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, long_job(3));
  expect_limited(refused, 1, 300, "3rd active job");
  expect_no_new_files(before, files_in(uploads));
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 2);

  cancel(*c, second);
  wait_final(*c, second);
  EXPECT_EQ(status_of(*c, second), "canceled");
  std::string fourth = submit(*c, 4);
  EXPECT_FALSE(fourth.empty());
  expect_limited(c->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, long_job(5)), 1, 300,
                 "at the cap again");

  cancel(*c, fourth);
  cancel(*c, first);
  wait_final(*c, fourth);
  wait_final(*c, first);
  std::string sixth = submit(*c, 6);  // no active jobs left: accepted
  EXPECT_FALSE(sixth.empty());
  cancel(*c, sixth);
  wait_final(*c, sixth);
  expect_no_new_files(before, files_in(uploads));
}

// docs: "Joining an identical in-flight job or a cache hit adds no work and is not capped."
TEST_F(ServerActiveCap, IdenticalResubmissionAtTheCapJoinsTheJob) {
  ServerProcess server({"--max-active-jobs", "1", "--workers", "1", "--rate-limit-per-min", "0"});
  auto c = server.client();
  std::string first = submit(*c, 1);
  ASSERT_FALSE(first.empty());
  expect_limited(c->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, long_job(2)), 1, 300,
                 "another job at the cap");
  std::string state = status_of(*c, first);
  EXPECT_TRUE(state == "running" || state == "queued")
      << "job 1 finished too soon for this test: " << state;
  // The same bytes and config as job 1: no new work, so not capped.
  std::string joined = submit(*c, 1, {}, true);
  EXPECT_EQ(joined, first);
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 1);
  cancel(*c, first);
  wait_final(*c, first);
}

TEST_F(ServerActiveCap, CacheHitAtTheCapIsAnswered) {
  ServerProcess server({"--max-active-jobs", "1", "--workers", "1", "--rate-limit-per-min", "0"});
  auto c = server.client();
  auto done = c->Post("/api/sonic/generate", quick_job(7));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  std::string running = submit(*c, 1);
  ASSERT_FALSE(running.empty());
  expect_limited(c->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, long_job(2)), 1, 300,
                 "a new job at the cap");
  // The finished job's exact request again: answered from the cache, no work to cap.
  auto hit = c->Post("/api/sonic/generate", quick_job(7));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, 200) << hit->body;
  cancel(*c, running);
  wait_final(*c, running);
}

TEST_F(ServerActiveCap, PerUserWithJwtAuth) {
  TempDir keys;
  write_file(keys / "secret", kSecret + "\n");
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (keys / "secret").string(),
                        "--max-active-jobs", "1", "--workers", "1", "--rate-limit-per-min", "0"});
  auto c = server.client();
  auto alice = bearer(token_for("alice"));
  auto bob = bearer(token_for("bob"));
  std::string alices = submit(*c, 1, alice);
  ASSERT_FALSE(alices.empty());
  auto another = [&](int seed, const httplib::Headers& who) {
    httplib::Headers headers = who;
    headers.emplace("Prefer", "respond-async");
    return c->Post("/api/sonic/generate", headers, long_job(seed));
  };
  expect_limited(another(2, alice), 1, 300, "alice at her cap");
  // The same bytes from bob are bob's own job (auth on: no joining another user's job), and
  // alice's jobs do not count against him.
  std::string bobs = submit(*c, 1, bob);
  EXPECT_FALSE(bobs.empty());
  EXPECT_NE(bobs, alices);
  expect_limited(another(3, bob), 1, 300, "bob at his cap");

  cancel(*c, bobs, bob);
  cancel(*c, alices, alice);
  wait_final(*c, bobs, bob);
  wait_final(*c, alices, alice);
}

}  // namespace
}  // namespace sonic::test
