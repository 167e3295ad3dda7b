// Integration: every failure path of an external engine through the real binary, with the
// real Sonic adapter over the stand-in's failure switches (and one engine that breaks the
// protocol on purpose): cancel mid-job within 2 s; a crash mid-job fails the job with
// engine_failed and the next job succeeds on the restarted process; a crash before any work
// is retried; a hang is killed after the stall timeout, and a hang that ignores a cancel
// after the cancel timeout; out of memory gives the clear sentence; no face is 422 no_face;
// junk, a flood and a missing `ready` mark the engine crashed with the reason while the
// other engines serve; no zombies, no leaked pipes, nothing left in the work folders.
#include <sstream>

#include "integration/server_external_engine_support.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

class ServerExternalEngineFailures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    markers_ = new TempDir();
    auto once = [](const char* name) { return (*markers_ / name).string(); };
    server_ = new ServerProcess({
        "--workers", "1", "--no-cache",
        "--external-engine", sonic_declaration("sonic", {{"FAKE_SONIC_STEP_DELAY_S", "0.15"}}),
        "--external-engine", sonic_declaration("crashy", {{"FAKE_SONIC_FAIL", "crash_mid"}, {"FAKE_SONIC_FAIL_ONCE", once("crash")}}),
        "--external-engine", sonic_declaration("crashstart", {{"FAKE_SONIC_FAIL", "crash_start"}, {"FAKE_SONIC_FAIL_ONCE", once("start")}}),
        "--external-engine", sonic_declaration("hangy", {{"FAKE_SONIC_FAIL", "hang_mid"}, {"FAKE_SONIC_FAIL_ONCE", once("hang")}},
                                               {{"stall_timeout_s", 8}}),
        "--external-engine", sonic_declaration("deaf", {{"FAKE_SONIC_FAIL", "hang_mid"}, {"FAKE_SONIC_FAIL_ONCE", once("deaf")}},
                                               {{"cancel_timeout_s", 1}}),
        "--external-engine", sonic_declaration("oom", {{"FAKE_SONIC_FAIL", "oom_mid"}}),
        "--external-engine", sonic_declaration("never", {{"FAKE_SONIC_NEVER_READY", "1"}}, {{"ready_timeout_s", 3}}),
        "--external-engine", misbehaving_declaration("junk", "junk"),
        "--external-engine", misbehaving_declaration("flood", "flood"),
    });
    auto c = server_->client();
    for (const char* name : {"sonic", "crashy", "crashstart", "hangy", "deaf", "oom"}) wait_engine_state(*c, name, "ready");
    pipes_at_start_ = pipes_of(server_->pid());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete markers_;
    markers_ = nullptr;
  }
  void TearDown() override { EXPECT_EQ(entries_in(server_->data_dir() / "tmp"), 0u); }

  static json run_to_end(httplib::Client& c, const std::string& engine, json extra = json::object()) {
    json queued = post_async(c, engine_job(engine, extra));
    return wait_job(c, queued["job_id"]);
  }
  static std::string wait_log(const std::string& text, std::chrono::seconds patience = 120s) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string log = server_->log_text();
      if (log.find(text) != std::string::npos) return log;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "the log never said: " << text;
    return {};
  }

  // The server's log lines about one engine (for failure messages).
  static std::string engine_lines(const std::string& engine) {
    std::string out, line;
    std::istringstream log(server_->log_text());
    while (std::getline(log, line))
      if (line.find("\"engine\":\"" + engine + "\"") != std::string::npos && line.find("\"msg\":\"request\"") == std::string::npos)
        out += line.substr(0, 400) + "\n";
    return out;
  }

  static ServerProcess* server_;
  static TempDir* markers_;
  static int pipes_at_start_;
};
ServerProcess* ServerExternalEngineFailures::server_ = nullptr;
TempDir* ServerExternalEngineFailures::markers_ = nullptr;
int ServerExternalEngineFailures::pipes_at_start_ = 0;

TEST_F(ServerExternalEngineFailures, CancelMidJobStopsWithinTwoSeconds) {
  auto c = server_->client();
  const int restarts = engine_info(*c, "sonic")["restarts"];
  json queued = post_async(*c, engine_job("sonic", {{"duration", 3.0}, {"inference_steps", 8}}));
  std::string id = queued["job_id"];
  wait_job_until(*c, id, [](const json& j) { return j["stage"] == "denoise"; });
  auto asked = std::chrono::steady_clock::now();
  auto r = c->Post("/api/jobs/" + id + "/cancel");
  ASSERT_TRUE(r);
  json job = wait_job(*c, id);
  auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(job["status"], "canceled") << job.dump();
  EXPECT_LT(took, 2s);
  // Honoured by the engine between steps: no kill, no restart.
  EXPECT_EQ(engine_info(*c, "sonic")["restarts"], restarts);
  EXPECT_EQ(run_to_end(*c, "sonic")["status"], "succeeded");
}

TEST_F(ServerExternalEngineFailures, CrashMidJobFailsTheJobAndTheRestartedEngineServesTheNext) {
  auto c = server_->client();
  json failed = run_to_end(*c, "crashy");
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["error"]["code"], "engine_failed") << failed.dump();
  EXPECT_NE(failed["error"]["message"].get<std::string>().find("stopped while running this job"), std::string::npos);
  EXPECT_NE(failed["error"]["message"].get<std::string>().find("signal 6"), std::string::npos) << failed.dump();
  json next = run_to_end(*c, "crashy");
  EXPECT_EQ(next["status"], "succeeded") << next.dump();
  EXPECT_GE(engine_info(*c, "crashy")["restarts"].get<int>(), 1);
}

TEST_F(ServerExternalEngineFailures, CrashBeforeAnyWorkIsRetriedOnce) {
  auto c = server_->client();
  json job = run_to_end(*c, "crashstart");
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(engine_info(*c, "crashstart")["restarts"], 1);
  EXPECT_NE(server_->log_text().find("engine died before the job started; sending it again"), std::string::npos);
}

TEST_F(ServerExternalEngineFailures, HangIsKilledAfterTheStallTimeout) {
  auto c = server_->client();
  json failed = run_to_end(*c, "hangy");
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["error"]["code"], "engine_failed");
  EXPECT_NE(failed["error"]["message"].get<std::string>().find("sent nothing for 8 s"), std::string::npos)
      << failed.dump();
  json next = run_to_end(*c, "hangy");
  EXPECT_EQ(next["status"], "succeeded") << next.dump() << "\n" << engine_lines("hangy");
}

TEST_F(ServerExternalEngineFailures, ACancelTheEngineIgnoresKillsAndRestartsIt) {
  auto c = server_->client();
  json queued = post_async(*c, engine_job("deaf"));
  std::string id = queued["job_id"];
  // The engine is stuck now (its stderr line, as our log tags it).
  wait_log(R"x("engine":"deaf","level":"info","line":"stand-in Sonic: failing on purpose (hang)")x");
  auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Post("/api/jobs/" + id + "/cancel"));
  json job = wait_job(*c, id);
  EXPECT_EQ(job["status"], "canceled") << job.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 3s);  // cancel_timeout_s 1 + the kill
  wait_log("did not honour a cancel within 1 s");
  wait_engine_state(*c, "deaf", "ready");
  json next = run_to_end(*c, "deaf");
  EXPECT_EQ(next["status"], "succeeded") << next.dump();
}

TEST_F(ServerExternalEngineFailures, OutOfMemoryIsAClearSentence) {
  auto c = server_->client();
  json job = run_to_end(*c, "oom");
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["error"]["code"], "engine_failed");
  EXPECT_NE(job["error"]["message"].get<std::string>().find(
                "the GPU ran out of memory; try a lower min_resolution or shorter audio"),
            std::string::npos)
      << job.dump();
  EXPECT_EQ(engine_info(*c, "oom")["state"], "ready");  // the process survives it
}

TEST_F(ServerExternalEngineFailures, NoFaceIs422) {
  auto c = server_->client();
  TempDir dir;
  auto r = c->Post("/api/sonic/generate", engine_job("sonic", json::object(), faceless_picture(dir)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  json body = json::parse(r->body);
  EXPECT_EQ(body["code"], "no_face");
  EXPECT_EQ(body["field"], "image");
}

TEST_F(ServerExternalEngineFailures, BrokenEnginesAreCrashedWithTheReasonAndOthersServe) {
  auto c = server_->client();
  const std::pair<const char*, const char*> broken[] = {
      {"junk", "not JSON: 'Loading checkpoint shards"},
      {"flood", "over 65536 bytes"},
      {"never", "did not send 'ready' within 3 s"},
  };
  for (const auto& [name, reason] : broken) {
    json e = wait_engine_state(*c, name, "crashed");
    EXPECT_NE(e["reason"].get<std::string>().find(reason), std::string::npos) << e.dump();
    auto r = c->Post("/api/sonic/generate", engine_job(name));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    json body = json::parse(r->body);
    EXPECT_EQ(body["code"], "engine_unavailable");
    EXPECT_NE(body["error"].get<std::string>().find(reason), std::string::npos) << body.dump();
    EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  }
  // The default engine is fine, so the server is ready; /readyz names the broken ones.
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("not JSON"), std::string::npos);
  EXPECT_EQ(body_json(c->Post("/api/sonic/generate", quick_job(3)))["success"], true);
  EXPECT_EQ(run_to_end(*c, "sonic")["status"], "succeeded");
  std::string log = server_->log_text();
  EXPECT_NE(log.find("\"msg\":\"engine refused\""), std::string::npos);
}

// Last: after all the kills and restarts above.
TEST_F(ServerExternalEngineFailures, NoZombiesNoLeakedPipes) {
  int zombies = -1;
  auto children = children_of(server_->pid(), &zombies);
  EXPECT_EQ(zombies, 0);
  EXPECT_LE(children.size(), 9u);  // at most one process per declared engine
  // Three pipes per live engine process and one wake pipe per engine, whatever number of
  // restarts happened (the broken engines restart with back-off all along).
  const int pipes = pipes_of(server_->pid());
  EXPECT_LE(pipes, pipes_at_start_ + 3 * 3) << "pipes at start " << pipes_at_start_;
  EXPECT_LE(pipes, 9 * 3 + 9 * 2 + 4);
}

}  // namespace
}  // namespace sonic::test
