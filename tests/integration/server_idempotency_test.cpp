// Integration: Idempotency-Key on POST /api/sonic/generate through the real binary.
// Negative cases first: a malformed key, the same key with another request (422), the same
// key while the first request is still being received (409, the first held mid-body on a
// raw socket), a failed first request that must not lock its key; then the replay (same
// job, Idempotent-Replayed: true, no second video) by form and by JSON, keys per user, a
// replay after a restart, and a key whose job was deleted.
#include <sstream>

#include "integration/raw_http.h"
#include "integration/server_process.h"

namespace sonic::test {
namespace {

httplib::Result post_with_key(httplib::Client& c, const std::string& key, const httplib::MultipartFormDataItems& items,
                              bool async = true) {
  httplib::Headers h = {{"Idempotency-Key", key}};
  if (async) h.emplace("Prefer", "respond-async");
  return c.Post("/api/sonic/generate", h, items);
}

std::string multipart(const std::string& boundary, const httplib::MultipartFormDataItems& items) {
  std::string body;
  for (const auto& item : items) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + item.name + "\"";
    if (!item.filename.empty()) body += "; filename=\"" + item.filename + "\"";
    body += "\r\n\r\n" + item.content + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

int outputs(const ServerProcess& s) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(s.data_dir() / "outputs")) n += e.path().extension() == ".mp4";
  return n;
}

class ServerIdempotency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--no-cache"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};
ServerProcess* ServerIdempotency::server_ = nullptr;

TEST_F(ServerIdempotency, MalformedKeysAreRefused) {
  auto c = server_->client();
  for (const std::string& key : {std::string(256, 'k'), std::string("\"unterminated"), std::string("\"a\"b"),
                                 std::string("\"\""), std::string("caf\xc3\xa9")}) {
    auto r = post_with_key(*c, key, quick_job(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << key << " " << r->body;
    EXPECT_EQ(body_json(r)["field"], "Idempotency-Key") << r->body;
  }
  RawConnection raw(server_->port());
  raw.send("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n"
           "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(raw.read_responses(1, 10s));
  EXPECT_EQ(raw.parse()[0].status, 400);
  EXPECT_EQ(raw.parse()[0].body_json()["field"], "Idempotency-Key");
}

TEST_F(ServerIdempotency, SameKeyDifferentRequestIsAConflict) {
  auto c = server_->client();
  auto r = post_with_key(*c, "conflict-1", quick_job(2));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  std::string id = body_json(r)["job_id"];
  for (const auto& other : {quick_job(3), quick_job(2, 0.5)}) {
    r = post_with_key(*c, "conflict-1", other);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;
    EXPECT_EQ(body_json(r)["code"], "idempotency_conflict");
    EXPECT_FALSE(r->has_header("Idempotent-Replayed"));
  }
  // Another key is another request.
  r = post_with_key(*c, "conflict-2", quick_job(3));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_NE(body_json(r)["job_id"], id);
  wait_job(*c, id);
  wait_job(*c, body_json(r)["job_id"]);
}

TEST_F(ServerIdempotency, SecondRequestWhileTheFirstIsReceivedIs409) {
  auto items = quick_job(4);
  const std::string boundary = "idempotency-test-boundary";
  const std::string body = multipart(boundary, items);
  RawConnection first(server_->port());
  first.send("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \"slow-1\"\r\nPrefer: respond-async\r\n"
             "Expect: 100-continue\r\nContent-Type: multipart/form-data; boundary=" + boundary +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  // 100 Continue comes when the route starts reading the body: the key is claimed by then.
  ASSERT_TRUE(first.read_responses(1, 30s));
  ASSERT_EQ(first.parse()[0].status, 100);
  first.send(body.substr(0, body.size() / 2));
  auto c = server_->client();
  auto r = post_with_key(*c, "slow-1", items);  // the bare form of the same key
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(body_json(r)["code"], "idempotency_in_progress");
  first.send(body.substr(body.size() / 2));
  ASSERT_TRUE(first.read_responses(2, 60s));
  RawResponse answer = first.parse()[1];
  ASSERT_EQ(answer.status, 202) << answer.body;
  std::string id = answer.body_json()["job_id"];
  r = post_with_key(*c, "slow-1", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(body_json(r)["job_id"], id);
  EXPECT_EQ(r->get_header_value("Idempotent-Replayed"), "true");
  wait_job(*c, id);
}

TEST_F(ServerIdempotency, AFailedFirstRequestDoesNotHoldTheKey) {
  auto c = server_->client();
  auto broken = quick_job(5);
  broken.erase(broken.begin() + 1);  // no audio
  auto r = post_with_key(*c, "retry-after-failure", broken);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = post_with_key(*c, "retry-after-failure", quick_job(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_FALSE(r->has_header("Idempotent-Replayed"));
  wait_job(*c, body_json(r)["job_id"]);
}

TEST_F(ServerIdempotency, ReplayAnswersTheSameJobAndMakesNoSecondVideo) {
  auto c = server_->client();
  const int before = outputs(*server_);
  auto r = post_with_key(*c, "replay-1", quick_job(6), false);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(r->has_header("Idempotent-Replayed"));
  json first = body_json(r);
  for (bool async : {false, true}) {
    r = post_with_key(*c, "replay-1", quick_job(6), async);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;  // the job is done: the video, even when async
    EXPECT_EQ(r->get_header_value("Idempotent-Replayed"), "true");
    EXPECT_EQ(body_json(r)["job_id"], first["job_id"]);
    EXPECT_EQ(body_json(r)["video_url"], first["video_url"]);
  }
  EXPECT_EQ(outputs(*server_), before + 1);  // --no-cache: a second request would make a second video
  // JSON bodies have keys too (their inputs by URL are refused here: no allow-list).
  r = c->Post("/api/sonic/generate", {{"Idempotency-Key", "replay-json"}},
              json{{"image_url", "https://127.0.0.1/a.png"}, {"audio_url", "https://127.0.0.1/a.wav"}}.dump(),
              "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["code"], "forbidden_url");
}

TEST_F(ServerIdempotency, KeysArePerUser) {
  TempDir keys;
  std::string lines;
  std::vector<std::string> tokens;
  for (const char* who : {"alice", "bob"}) {
    std::string out = run_ok(shell_quote(sonic_binary().string()) + " apikey --sub " + who);
    // The key to send, and the line for the keys file (stderr's advice is mixed in).
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("sk_", 0) == 0) tokens.push_back(line);
      if (line.rfind(std::string(who) + " sha256:", 0) == 0) lines += line + "\n";
    }
  }
  write_file(keys / "keys", lines);
  ServerProcess server({"--auth", "apikey", "--api-keys-file", (keys / "keys").string(), "--no-cache"});
  auto c = server.client();
  std::vector<std::string> ids;
  for (const auto& token : tokens) {
    auto r = c->Post("/api/sonic/generate",
                     {{"Idempotency-Key", "shared-key"}, {"Prefer", "respond-async"}, {"X-API-Key", token}}, quick_job(7));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_FALSE(r->has_header("Idempotent-Replayed"));
    ids.push_back(body_json(r)["job_id"]);
  }
  EXPECT_NE(ids[0], ids[1]);
}

TEST_F(ServerIdempotency, ReplaySurvivesARestartAndADeletedJobFreesItsKey) {
  TempDir data;
  std::string id;
  {
    ServerProcess server({"--no-cache"}, data / "d");
    auto c = server.client();
    auto r = post_with_key(*c, "restart-1", quick_job(8));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    id = body_json(r)["job_id"];
    wait_job(*c, id);
  }
  ServerProcess server({"--no-cache"}, data / "d");
  auto c = server.client();
  auto r = post_with_key(*c, "restart-1", quick_job(8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(body_json(r)["job_id"], id);
  r = post_with_key(*c, "restart-1", quick_job(9));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  ASSERT_EQ(c->Delete("/api/jobs/" + id)->status, 200);
  r = post_with_key(*c, "restart-1", quick_job(8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_FALSE(r->has_header("Idempotent-Replayed"));
  EXPECT_NE(body_json(r)["job_id"], id);
  wait_job(*c, body_json(r)["job_id"]);
}

}  // namespace
}  // namespace sonic::test
