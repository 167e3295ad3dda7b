// Integration: inputs by URL (image_url / audio_url) through the real binary, negative
// cases first. Every server-side request forgery the issue names is refused with the
// allow flag off — loopback, 10.x, 169.254.169.254, [::1], [::ffff:127.0.0.1], a DNS name
// that resolves to loopback (localhost), and a redirect to each — and a sentinel server on
// 127.0.0.1 proves no request reached it. Then the fetch itself against real loopback
// servers made reachable by --url-allow: plain, chunked, redirected, over HTTPS with a
// CA of the test's own, and every way a fetch can fail (status, too many redirects, a
// stalled or dripping server, a lying length, an endless body, not an image).
#include "integration/python_server.h"
#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

httplib::Result post_json(httplib::Client& c, const json& body, httplib::Headers headers = {}) {
  headers.emplace("Prefer", "respond-async");
  return c.Post("/api/sonic/generate", headers, body.dump(), "application/json");
}

json job_body(const std::string& image_url, const std::string& audio_url) {
  return {{"image_url", image_url},
          {"audio_url", audio_url},
          {"config", {{"duration", 0.5}, {"min_resolution", 256}}}};
}

std::size_t uploads_left(const ServerProcess& s) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(s.data_dir() / "uploads")) {
    (void)e;
    ++n;
  }
  return n;
}

class ServerUrlInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    files_dir_ = new TempDir();
    fs::copy_file(fixture("portrait.png"), *files_dir_ / "portrait.png");
    fs::copy_file(fixture("speech_en_5s.wav"), *files_dir_ / "speech.wav");
    write_file(*files_dir_ / "notes.png", std::string(2000, 'x'));
    // The allowed server lives on 127.0.0.2; the sentinel on 127.0.0.1 must never be reached.
    files_ = new PythonServer({"files", "--host", "127.0.0.2", "--dir", files_dir_->path().string()});
    sentinel_ = new PythonServer({"files", "--host", "127.0.0.1", "--dir", files_dir_->path().string()});
    guarded_ = new ServerProcess({"--url-allow-http"});
    allowed_ = new ServerProcess({"--url-allow", "127.0.0.2", "--url-allow-http", "--fetch-read-timeout-s", "1",
                                  "--fetch-timeout-s", "4", "--max-upload-mb", "3"});
  }
  static void TearDownTestSuite() {
    delete guarded_;
    delete allowed_;
    delete files_;
    delete sentinel_;
    delete files_dir_;
  }
  static std::string files_url(const std::string& path) { return "http://127.0.0.2:" + std::to_string(files_->port()) + path; }
  static std::string sentinel_port() { return std::to_string(sentinel_->port()); }

  static TempDir* files_dir_;
  static PythonServer* files_;
  static PythonServer* sentinel_;
  static ServerProcess* guarded_;
  static ServerProcess* allowed_;
};
TempDir* ServerUrlInputs::files_dir_ = nullptr;
PythonServer* ServerUrlInputs::files_ = nullptr;
PythonServer* ServerUrlInputs::sentinel_ = nullptr;
ServerProcess* ServerUrlInputs::guarded_ = nullptr;
ServerProcess* ServerUrlInputs::allowed_ = nullptr;

// With no --url-allow, every internal address is refused before any connection.
TEST_F(ServerUrlInputs, InternalAddressesAreRefusedWithoutTheAllowFlag) {
  auto c = guarded_->client();
  const std::string p = sentinel_port();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://127.0.0.1:" + p + "/portrait.png", "loopback"},
      {"http://10.0.0.1/portrait.png", "private network"},
      {"http://169.254.169.254/latest/meta-data/", "link-local"},
      {"http://[::1]:" + p + "/portrait.png", "loopback"},
      {"http://[::ffff:127.0.0.1]:" + p + "/portrait.png", "loopback"},
      {"http://localhost:" + p + "/portrait.png", "loopback"},
      {"http://2130706433:" + p + "/portrait.png", "loopback"},  // 127.0.0.1 as one number
      {"http://0.0.0.0:" + p + "/portrait.png", "this network"},
      {"http://[fd00:ec2::254]/latest/meta-data/", "unique local"},
      {"http://192.168.1.1/portrait.png", "private network"},
      {"http://[64:ff9b::7f00:1]:" + p + "/portrait.png", "NAT64"},
  };
  for (const auto& [url, kind] : cases) {
    auto r = post_json(*c, job_body(url, files_url("/speech.wav")));
    ASSERT_TRUE(r) << url;
    EXPECT_EQ(r->status, 422) << url << " " << r->body;
    json b = body_json(r);
    EXPECT_EQ(b["code"], "forbidden_url") << url << " " << r->body;
    EXPECT_EQ(b["field"], "image_url") << url;
    EXPECT_NE(b.value("error", "").find(kind), std::string::npos) << url << " " << r->body;
  }
  // The same refusals for audio_url and webhook_url.
  auto r = post_json(*c, job_body(files_url("/portrait.png"), "http://[::1]:" + p + "/speech.wav"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["field"], "image_url") << r->body;  // image first: 127.0.0.2 is not allowed here either
  EXPECT_TRUE(sentinel_->requests().empty()) << "a refused URL reached the sentinel";
  EXPECT_EQ(uploads_left(*guarded_), 0u);
  EXPECT_EQ(body_json(c->Get("/api/jobs"))["total"], 0);
}

// An allowed server redirecting to an internal address: every hop is checked again.
TEST_F(ServerUrlInputs, RedirectsToInternalAddressesAreRefused) {
  auto c = allowed_->client();
  const std::string p = sentinel_port();
  for (const std::string& target :
       {"http://127.0.0.1:" + p + "/portrait.png", std::string("http://10.0.0.1/portrait.png"),
        std::string("http://169.254.169.254/latest/meta-data/"), "http://[::1]:" + p + "/portrait.png",
        "http://[::ffff:127.0.0.1]:" + p + "/portrait.png", "http://localhost:" + p + "/portrait.png"}) {
    auto r = post_json(*c, job_body(files_url("/redirect?to=" + target), files_url("/speech.wav")));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 422) << target << " " << r->body;
    EXPECT_EQ(body_json(r)["code"], "forbidden_url") << target << " " << r->body;
  }
  EXPECT_TRUE(sentinel_->requests().empty()) << "a redirect reached the sentinel";
  EXPECT_EQ(uploads_left(*allowed_), 0u);
}

TEST_F(ServerUrlInputs, WebhookUrlToAnInternalAddressIsRefused) {
  auto c = allowed_->client();
  json body = job_body(files_url("/portrait.png"), files_url("/speech.wav"));
  body["webhook_url"] = "http://127.0.0.1:" + sentinel_port() + "/hook";
  auto r = post_json(*c, body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(body_json(r)["code"], "forbidden_url");
  EXPECT_EQ(body_json(r)["field"], "webhook_url");
  body["webhook_url"] = "http://169.254.169.254/hook";
  r = post_json(*c, body);
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["code"], "forbidden_url") << r->body;
  EXPECT_TRUE(sentinel_->requests().empty());
}

TEST_F(ServerUrlInputs, PlainHttpNeedsItsFlagAndUrlsAreChecked) {
  ServerProcess https_only({"--url-allow", "127.0.0.2"});
  auto c = https_only.client();
  auto r = post_json(*c, job_body(files_url("/portrait.png"), files_url("/speech.wav")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(body_json(r)["code"], "forbidden_url");
  EXPECT_NE(body_json(r).value("error", "").find("https://"), std::string::npos) << r->body;
  // Malformed URLs: 400 naming the field.
  for (const std::string& bad : {std::string("ftp://example.com/a.png"), std::string("/portrait.png"),
                                 std::string("https://user:pass@example.com/a.png"), std::string("https:///a.png"),
                                 std::string("https://exa mple.com/a.png"), std::string("https://example.com:99999/")}) {
    r = post_json(*c, job_body(bad, "https://example.com/a.wav"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " " << r->body;
    EXPECT_EQ(body_json(r)["field"], "image_url") << bad;
  }
  // A file and a URL for the same input.
  r = c->Post("/api/sonic/generate", {file_part("image", fixture("portrait.png")), text_part("image_url", files_url("/portrait.png")),
                                      file_part("audio", fixture("speech_en_5s.wav"))});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["field"], "image_url");
}

TEST_F(ServerUrlInputs, FetchFailuresSayWhy) {
  auto c = allowed_->client();
  struct Case {
    std::string path;
    int status;
    std::string code;
    std::string words;
  };
  const std::vector<Case> cases = {
      {"/status/404", 422, "fetch_failed", "HTTP 404"},
      {"/missing.png", 422, "fetch_failed", "HTTP 404"},
      {"/chain/4/portrait.png", 422, "fetch_failed", "more than 3 redirects"},
      {"/stall", 422, "fetch_failed", "no byte came"},
      {"/drip/portrait.png", 422, "fetch_failed", "longer than 4 s"},
      {"/lying-length/notes.png", 422, "fetch_failed", "closed before the end"},
      {"/huge", 413, "payload_too_large", "limit"},
      {"/huge-length", 413, "payload_too_large", "limit"},
      {"/notes.png", 415, "unsupported_media_type", ""},
  };
  for (const auto& k : cases) {
    auto r = post_json(*c, job_body(files_url(k.path), files_url("/speech.wav")));
    ASSERT_TRUE(r) << k.path;
    EXPECT_EQ(r->status, k.status) << k.path << " " << r->body;
    json b = body_json(r);
    EXPECT_EQ(b["code"], k.code) << k.path << " " << r->body;
    if (k.code != "unsupported_media_type") {
      EXPECT_EQ(b["field"], "image_url") << k.path;
    }
    EXPECT_NE(b.value("error", "").find(k.words), std::string::npos) << k.path << " " << r->body;
  }
  auto r = post_json(*c, job_body("http://127.0.0.2:1/portrait.png", files_url("/speech.wav")));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["code"], "fetch_failed") << r->body;
  EXPECT_NE(body_json(r).value("error", "").find("refused"), std::string::npos) << r->body;
  EXPECT_EQ(uploads_left(*allowed_), 0u) << "a failed fetch left a file behind";
}

TEST_F(ServerUrlInputs, JobFromUrlsRedirectsAndChunkedBodies) {
  auto c = allowed_->client();
  const std::size_t before = files_->requests().size();
  // Three redirects are allowed; the recording comes chunked; a multipart form works too.
  auto r = post_json(*c, job_body(files_url("/chain/3/portrait.png"), files_url("/chunked/speech.wav")));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json job = wait_job(*c, body_json(r)["job_id"]);
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(job["result"]["width"], 256);
  r = c->Post("/api/sonic/generate", {text_part("image_url", files_url("/portrait.png")),
                                      file_part("audio", fixture("speech_en_5s.wav")),
                                      text_part("config", json{{"duration", 0.5}, {"min_resolution", 256}}.dump())});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // The same bytes by URL and by upload are the same request: a cache hit.
  EXPECT_TRUE(body_json(r)["cached"].get<bool>()) << r->body;
  auto log = files_->requests();
  int chained = 0;
  for (std::size_t i = before; i < log.size(); ++i)
    if (log[i].value("path", "").rfind("/chain/", 0) == 0) ++chained;
  EXPECT_EQ(chained, 4);  // /chain/3 … /chain/0
}

TEST_F(ServerUrlInputs, HttpsWithTheCertificateChecked) {
  TempDir tls;
  run_ok("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.2 -addext subjectAltName=IP:127.0.0.2 -keyout " +
         shell_quote((tls / "key.pem").string()) + " -out " + shell_quote((tls / "cert.pem").string()) + " 2>&1");
  PythonServer secure({"files", "--host", "127.0.0.2", "--dir", files_dir_->path().string(), "--tls-cert",
                       (tls / "cert.pem").string(), "--tls-key", (tls / "key.pem").string()});
  const std::string base = "https://127.0.0.2:" + std::to_string(secure.port());
  {
    // Without the test CA the certificate is not trusted.
    ServerProcess untrusting({"--url-allow", "127.0.0.2"});
    auto c = untrusting.client();
    auto r = post_json(*c, job_body(base + "/portrait.png", base + "/speech.wav"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;
    EXPECT_EQ(body_json(r)["code"], "fetch_failed");
    EXPECT_NE(body_json(r).value("error", "").find("certificate"), std::string::npos) << r->body;
  }
  ServerProcess trusting({"--url-allow", "127.0.0.2", "--fetch-ca-file", (tls / "cert.pem").string()});
  auto c = trusting.client();
  auto r = post_json(*c, job_body(base + "/portrait.png", base + "/speech.wav"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json job = wait_job(*c, body_json(r)["job_id"]);
  EXPECT_EQ(job["status"], "succeeded") << job.dump();
  // https → http is a downgrade the flag does not allow here.
  r = post_json(*c, job_body(base + "/redirect?to=" + files_url("/portrait.png"), base + "/speech.wav"));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["code"], "forbidden_url") << r->body;
}

}  // namespace
}  // namespace sonic::test
