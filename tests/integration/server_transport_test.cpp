// Integration: the HTTP transport's rules (issue 10 point 1, docs/http-transport.md) over
// raw sockets against the real binary.
//
// Negative cases first: framing a proxy could read differently (duplicate or negative
// Content-Length, Content-Length with Transfer-Encoding, unknown codings, obs-fold, bare
// LF, a bad or missing Host, other HTTP versions) is refused with 400/505 JSON and the
// connection closes, and a complete request written after it is never answered; a body the
// route does not read (CL.0 on every route and method, refused generates) is read as a body
// or the connection closes — the request hidden in it, which would delete a job, never
// runs; a head of 1,000,000 header lines is cut at the head limit (431) without the server
// growing. Then what must keep working: pipelining, HEAD, HTTP/1.0, Expect: 100-continue,
// 404 and 405 + Allow.
#include "integration/raw_http.h"

namespace sonic::test {
namespace {

// The job every hidden request tries to delete.
std::string g_victim;

std::string hidden_delete() { return "DELETE /api/jobs/" + g_victim + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

class ServerTransport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--max-upload-mb", "2"});
    auto r = server_->client()->Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, quick_job(7));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    g_victim = body_json(r)["job_id"];
    wait_job(*server_->client(), g_victim);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  // The victim survived every hidden DELETE.
  void TearDown() override {
    auto r = server_->client()->Get("/api/jobs/" + g_victim);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "a hidden request deleted the job: " << r->body;
  }
  static int port() { return server_->port(); }
  static ServerProcess* server_;
};
ServerProcess* ServerTransport::server_ = nullptr;

// One refusal with `status` and `code`, Connection: close, a request id, then the end of
// the connection — and nothing answered after it.
void expect_refusal(const RawExchange& ex, int status, const std::string& code, const std::string& what) {
  ASSERT_EQ(ex.responses.size(), 1u) << what << ":\n" << ex.raw;
  const auto& r = ex.responses[0];
  EXPECT_EQ(r.status, status) << what << ":\n" << ex.raw;
  json body = r.body_json();
  EXPECT_EQ(body["code"], code) << what << ": " << r.body;
  EXPECT_EQ(body["success"], false) << what;
  EXPECT_TRUE(body["request_id"].is_string() && !body["request_id"].get<std::string>().empty()) << what;
  EXPECT_EQ(r.header("Connection"), "close") << what;
  EXPECT_TRUE(ex.closed) << what << ": the connection stayed open";
}

// ---------------------------------------------------------------------------------------
// Framing that could mean two things is refused.

TEST_F(ServerTransport, ConflictingOrMalformedFramingIs400AndCloses) {
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  struct Case {
    const char* what;
    std::string head;
  } cases[] = {
      {"two Content-Length, same value", get + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
      {"two Content-Length, different", get + "Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello"},
      {"Content-Length -1", get + "Content-Length: -1\r\n\r\n"},
      {"Content-Length +5", get + "Content-Length: +5\r\n\r\nhello"},
      {"Content-Length list", get + "Content-Length: 5, 5\r\n\r\nhello"},
      {"Content-Length 19 digits", get + "Content-Length: 1000000000000000000\r\n\r\n"},
      {"Content-Length empty", get + "Content-Length: \r\n\r\n"},
      {"Content-Length hex", get + "Content-Length: 0x5\r\n\r\nhello"},
      {"CL + TE", get + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE + CL", get + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      {"TE gzip", get + "Transfer-Encoding: gzip\r\n\r\n"},
      {"TE chunked twice in a list", get + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
      {"TE gzip, chunked", get + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"TE identity", get + "Transfer-Encoding: identity\r\n\r\n"},
      {"TE empty", get + "Transfer-Encoding: \r\n\r\n"},
      {"two TE fields", get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE on HTTP/1.0", "POST /api/sonic/generate HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"obs-fold", get + "X-Folded: a\r\n b\r\n\r\n"},
      {"space before colon", get + "Content-Length : 5\r\n\r\nhello"},
      {"bare LF in a field", get + "X-A: b\n\r\n"},
      {"bare LF request line", "GET /healthz HTTP/1.1\nHost: x\r\n\r\n"},
      {"NUL in a value", get + std::string("X-A: a\0b\r\n\r\n", 12)},
      {"CR in a value", get + "X-A: a\rb\r\n\r\n"},
      {"no Host on 1.1", "GET /healthz HTTP/1.1\r\n\r\n"},
      {"two Host fields", get + "Host: y\r\n\r\n"},
      {"bad Host", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n"},
      {"Host with a path", "GET /healthz HTTP/1.1\r\nHost: x/y\r\n\r\n"},
      {"double space", "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"absolute-form", "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"* outside OPTIONS", "GET * HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"method not a token", "GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"lower-case version", "GET /healthz http/1.1\r\nHost: x\r\n\r\n"},
      {"chunk size not hex", "DELETE /api/jobs/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
  };
  for (const auto& c : cases) {
    auto ex = raw_exchange(port(), c.head + hidden_delete());
    int status = std::string(c.what) == "chunk size not hex" ? 413 : 400;
    expect_refusal(ex, status, status == 413 ? "payload_too_large" : "bad_request", c.what);
  }
}

TEST_F(ServerTransport, OtherHttpVersionsAre505) {
  for (const std::string version : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"}) {
    auto ex = raw_exchange(port(), "GET /healthz " + version + "\r\nHost: x\r\n\r\n" + hidden_delete());
    expect_refusal(ex, 505, "bad_request", version);
  }
}

TEST_F(ServerTransport, TargetOver8KiBIs414) {
  auto ex = raw_exchange(port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n" + hidden_delete());
  expect_refusal(ex, 414, "bad_request", "9000-byte target");
  // Just under the limit is a normal 404.
  ex = raw_exchange(port(), "GET /" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u) << ex.raw.substr(0, 300);
  EXPECT_EQ(ex.responses[0].status, 404);
}

TEST_F(ServerTransport, UnknownExpectationIs417) {
  auto ex = raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n" + hidden_delete());
  expect_refusal(ex, 417, "bad_request", "Expect: 200-ok");
}

TEST_F(ServerTransport, TooManyHeadersOrTooLargeAHeadIs431) {
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "X-H" + std::to_string(i) + ": v\r\n";
  auto ok = raw_exchange(port(), head + hundred + "Connection: close\r\n\r\n");  // 100 fields with Host... 101
  ASSERT_EQ(ok.responses.size(), 1u);
  EXPECT_EQ(ok.responses[0].status, 431) << "Host + 99 + Connection = 101 fields";
  ok = raw_exchange(port(), head + hundred + "\r\n");  // exactly 100
  ASSERT_EQ(ok.responses.size(), 1u);
  EXPECT_EQ(ok.responses[0].status, 200) << "100 fields are allowed";
  auto big = raw_exchange(port(), head + "X-Big: " + std::string(17 * 1024, 'b') + "\r\n\r\n" + hidden_delete());
  expect_refusal(big, 431, "headers_too_large", "17 KiB field");
}

TEST_F(ServerTransport, AMillionHeadersAreCutAtTheLimitWithoutMemoryGrowth) {
  long before = server_->rss_kb();
  ASSERT_GT(before, 0);
  RawConnection c(port());
  ASSERT_TRUE(c.ok());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += "X-Flood-" + std::to_string(i) + ": y\r\n";
  std::size_t sent = 0;
  for (int i = 0; i < 1000; ++i) {  // 1,000,000 lines, ~17 MB, as far as the server takes them
    std::size_t n = c.send(batch);
    sent += n;
    if (n < batch.size()) break;
  }
  c.send("\r\n");
  EXPECT_TRUE(c.closed_within(5000ms)) << "the server kept reading the flood";
  auto responses = c.parse();
  ASSERT_EQ(responses.size(), 1u) << c.received();
  EXPECT_EQ(responses[0].status, 431);
  EXPECT_EQ(responses[0].body_json()["code"], "headers_too_large");
  EXPECT_LT(sent, 17'000'000u) << "the whole flood was accepted";
  long after = server_->rss_kb();
  EXPECT_LT(after - before, 8 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
}

// ---------------------------------------------------------------------------------------
// CL.0: a body no route reads is a body, never the next request.

TEST_F(ServerTransport, ABodyOnEveryBodilessRouteIsReadAsABodyNotARequest) {
  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  struct Case {
    std::string method, path;
    int status;
  } cases[] = {
      {"GET", "/healthz", 200},          {"HEAD", "/healthz", 200},
      {"GET", "/readyz", 200},           {"GET", "/api/jobs", 200},
      {"GET", "/api/jobs/" + g_victim, 200}, {"GET", "/api/jobs/" + g_victim + "/events", 200},
      {"GET", "/api/presets", 200},
      {"GET", "/api/engines", 200},      {"GET", "/api/limits", 200},
      {"GET", "/metrics", 200},          {"GET", "/openapi.json", 200},
      {"GET", "/", 200},                 {"OPTIONS", "/api/jobs", 204},
      {"OPTIONS", "*", 204},             {"DELETE", "/api/jobs/" + unknown, 404},
      {"POST", "/api/jobs/" + unknown + "/cancel", 404}, {"GET", "/output/" + unknown + ".mp4", 404},
      {"GET", "/no/such/route", 404},    {"PUT", "/healthz", 405},
  };
  const std::string hidden = hidden_delete();
  for (const auto& c : cases) {
    std::string what = c.method + " " + c.path;
    RawConnection conn(port());
    ASSERT_TRUE(conn.ok());
    conn.answers_to_head(c.method == "HEAD" ? 1 : 0);
    conn.send(c.method + " " + c.path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(hidden.size()) +
              "\r\n\r\n" + hidden);
    ASSERT_TRUE(conn.read_responses(1, 5000ms)) << what << ":\n" << conn.received();
    // The connection is still usable: framing was kept, the body was skipped.
    conn.send("GET /api/jobs/" + g_victim + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(conn.read_responses(2, 5000ms)) << what << ":\n" << conn.received();
    auto responses = conn.parse();
    ASSERT_EQ(responses.size(), 2u) << what;
    EXPECT_EQ(responses[0].status, c.status) << what << ":\n" << conn.received();
    EXPECT_EQ(responses[1].status, 200) << what << ": the job is gone:\n" << conn.received();
    EXPECT_EQ(responses[1].body_json()["job_id"], g_victim) << what;
  }
}

TEST_F(ServerTransport, ARefusedGenerateNeverRunsTheRequestHiddenInItsBody) {
  const std::string hidden = hidden_delete();
  // 415: not multipart; the small body is read as the body.
  RawConnection c(port());
  c.send("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(hidden.size()) + "\r\n\r\n" + hidden);
  c.read_until_closed(1500ms);
  auto responses = c.parse();
  ASSERT_EQ(responses.size(), 1u) << c.received();
  EXPECT_EQ(responses[0].status, 415);
  // 413: announced far over the limit (2 MB here): refused unread, the connection closes.
  auto ex = raw_exchange(port(), "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                                 "boundary=b\r\nContent-Length: 900000000\r\n\r\n" + hidden);
  expect_refusal(ex, 413, "payload_too_large", "900 MB announced");
  // A body on a route that takes none, over 64 KiB: refused unread.
  ex = raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + hidden);
  expect_refusal(ex, 413, "payload_too_large", "100 kB on /healthz");
}

TEST(ServerTransportAuth, UnauthorizedAndRateLimitedGeneratesNeverRunTheHiddenRequest) {
  TempDir keys;
  auto key_lines = [] {
    CommandResult r = run(shell_quote(sonic_binary().string()) + " apikey --sub alice 2>/dev/null");
    return r.output;
  }();
  std::string key = key_lines.substr(0, key_lines.find('\n'));
  std::string rest = key_lines.substr(key_lines.find('\n') + 1);
  write_file(keys / "keys", rest.substr(0, rest.find('\n')) + "\n");
  ServerProcess server({"--auth", "apikey", "--api-keys-file", (keys / "keys").string(), "--rate-limit-per-min", "1",
                        "--rate-limit-burst", "1"});
  auto c = server.client();
  auto r = c->Post("/api/sonic/generate", {{"X-API-Key", key}, {"Prefer", "respond-async"}}, quick_job(3));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  std::string victim = body_json(r)["job_id"];
  const std::string hidden = "DELETE /api/jobs/" + victim + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\n\r\n";
  auto post = [&](const std::string& credentials) {
    return "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\n" + credentials +
           "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: " + std::to_string(hidden.size()) +
           "\r\n\r\n" + hidden;
  };
  for (const auto& [what, request, status] :
       {std::tuple<std::string, std::string, int>{"no key (401)", post(""), 401},
        {"over the rate (429)", post("X-API-Key: " + key + "\r\n"), 429}}) {
    RawConnection conn(server.port());
    conn.send(request);
    conn.read_until_closed(1500ms);
    auto responses = conn.parse();
    ASSERT_EQ(responses.size(), 1u) << what << ":\n" << conn.received();
    EXPECT_EQ(responses[0].status, status) << what << ":\n" << conn.received();
  }
  auto job = c->Get("/api/jobs/" + victim, {{"X-API-Key", key}});
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, 200) << "the hidden DELETE ran: " << job->body;
  c->Post("/api/jobs/" + victim + "/cancel", {{"X-API-Key", key}}, "", "text/plain");
}

// ---------------------------------------------------------------------------------------
// What keeps working.

TEST_F(ServerTransport, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/jobs/" + g_victim +
         " HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/jobs/00000000-0000-4000-8000-000000000000/cancel HTTP/1.1\r\n"
         "Host: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_responses(4, 5000ms)) << c.received();
  auto r = c.parse();
  EXPECT_EQ(r[0].body_json()["status"], "ok");
  EXPECT_EQ(r[1].body_json()["job_id"], g_victim);
  EXPECT_EQ(r[2].status, 404);
  EXPECT_EQ(r[3].body_json()["ready"], true);
  EXPECT_FALSE(c.closed());
}

TEST_F(ServerTransport, ChunkedBodiesAreDecodedAndTheConnectionKept) {
  // A chunked body on the upload route with extensions and a trailer, then another request.
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{}\r\n--b--\r\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size() - 10);
  RawConnection c(port());
  c.send("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
         "Transfer-Encoding: Chunked\r\n\r\n" + std::string(size) + ";ext=1\r\n" + body.substr(0, body.size() - 10) +
         "\r\na\r\n" + body.substr(body.size() - 10) + "\r\n0\r\nX-Trailer: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_responses(2, 5000ms)) << c.received();
  auto r = c.parse();
  EXPECT_EQ(r[0].status, 400);
  EXPECT_EQ(r[0].body_json()["code"], "missing_file") << r[0].body;
  EXPECT_EQ(r[1].status, 200);
}

TEST_F(ServerTransport, HeadAnswersTheHeadersOfGetWithoutABody) {
  RawConnection c(port());
  c.answers_to_head(1);
  c.send("HEAD /api/presets HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_responses(1, 3000ms));
  auto head = c.parse()[0];
  EXPECT_EQ(head.status, 200);
  std::string length = head.header("Content-Length");
  EXPECT_FALSE(length.empty());
  // The next bytes are the next answer, not a body.
  c.send("GET /api/presets HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_responses(2, 3000ms)) << c.received();
  auto get = c.parse()[1];
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(std::to_string(get.body.size()), length);
}

TEST_F(ServerTransport, Http10ClosesUnlessAskedToKeepAlive) {
  auto ex = raw_exchange(port(), "GET /healthz HTTP/1.0\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u) << ex.raw;
  EXPECT_EQ(ex.responses[0].status, 200);
  EXPECT_TRUE(ex.closed);
  RawConnection c(port());
  c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(c.read_responses(1, 3000ms));
  EXPECT_EQ(c.parse()[0].header("Connection"), "keep-alive");
  c.send("GET /readyz HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(c.read_responses(2, 3000ms)) << c.received();
  EXPECT_TRUE(c.closed_within(3000ms));
}

TEST_F(ServerTransport, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{}\r\n--b--\r\n";
  RawConnection c(port());
  c.send("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
         "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  ASSERT_TRUE(c.read_responses(1, 3000ms)) << "no 100 Continue: " << c.received();
  EXPECT_EQ(c.parse()[0].status, 100);
  c.send(body);
  ASSERT_TRUE(c.read_responses(2, 5000ms)) << c.received();
  EXPECT_EQ(c.parse()[1].status, 400);
  EXPECT_EQ(c.parse()[1].body_json()["code"], "missing_file");
}

TEST_F(ServerTransport, UnknownPathIs404AndAnotherMethodIs405WithAllow) {
  auto ex = raw_exchange(port(), "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u);
  EXPECT_EQ(ex.responses[0].status, 405);
  EXPECT_EQ(ex.responses[0].header("Allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(ex.responses[0].body_json()["code"], "method_not_allowed");
  ex = raw_exchange(port(), "GET /api/sonic/generate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u);
  EXPECT_EQ(ex.responses[0].status, 405);
  EXPECT_EQ(ex.responses[0].header("Allow"), "OPTIONS, POST");
  ex = raw_exchange(port(), "GET /api/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u);
  EXPECT_EQ(ex.responses[0].status, 404);
  EXPECT_EQ(ex.responses[0].body_json()["code"], "not_found");
  EXPECT_EQ(ex.responses[0].header("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(ex.responses[0].header("Date").empty());
}

}  // namespace
}  // namespace sonic::test
