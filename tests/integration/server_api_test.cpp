// Integration: the real `sonic-server serve` over real sockets — routes, error JSON for
// every request error of DESIGN §5, upload limits, traversal attempts, health, metrics,
// OpenAPI. None of these needs a successful engine run.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/core.hpp>


#include "integration/server_process.h"

namespace sonic::test {
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

// One server for the whole suite: these tests only read or fail fast.
class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--max-upload-mb", "5", "--sync-wait-s", "600"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;

  void expect_error(const httplib::Result& r, int status, const std::string& code, const std::string& field = "") {
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, status) << r->body;
    json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body["success"], false);
    EXPECT_EQ(body["code"], code) << r->body;
    EXPECT_TRUE(body["error"].is_string() && !body["error"].get<std::string>().empty());
    if (!field.empty()) {
      EXPECT_EQ(body.value("field", ""), field) << r->body;
    }
    EXPECT_TRUE(r->has_header("X-Request-Id"));
  }

  std::size_t uploads_left() const {
    std::size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(server_->data_dir() / "uploads")) ++n;
    return n;
  }
};
ServerProcess* ServerApi::server_ = nullptr;

TEST_F(ServerApi, HealthReadyEnginesPresets) {
  auto c = server_->client();
  auto r = c->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_json(r)["status"], "ok");
  r = c->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = c->Get("/api/engines");
  ASSERT_TRUE(r);
  json engines = body_json(r);
  EXPECT_EQ(engines["default"], "classic");
  ASSERT_FALSE(engines["engines"].empty());
  EXPECT_EQ(engines["engines"][0]["name"], "classic");
  // What the engine honours and ignores, so a client can disable controls that do nothing.
  const json& parameters = engines["engines"][0]["parameters"];
  ASSERT_TRUE(parameters["accepted"].is_array()) << engines.dump();
  EXPECT_NE(std::find(parameters["accepted"].begin(), parameters["accepted"].end(), "dynamic_scale"),
            parameters["accepted"].end());
  ASSERT_EQ(parameters["ignored"].size(), 1u) << parameters.dump();
  EXPECT_EQ(parameters["ignored"][0]["param"], "inference_steps");
  EXPECT_FALSE(parameters["ignored"][0]["reason"].get<std::string>().empty());
  r = c->Get("/api/presets");
  ASSERT_TRUE(r);
  json presets = body_json(r)["presets"];
  ASSERT_TRUE(presets.is_array());
  EXPECT_FALSE(presets.empty());
  for (const auto& p : presets) EXPECT_TRUE(p["config"].is_object());
}

TEST_F(ServerApi, RequestIdIsEchoedOrMade) {
  auto c = server_->client();
  auto r = c->Get("/healthz", {{"X-Request-Id", "my-trace-42"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "my-trace-42");
  r = c->Get("/healthz", {{"X-Request-Id", "bad id with spaces"}});
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("X-Request-Id"), "bad id with spaces");
  EXPECT_FALSE(r->get_header_value("X-Request-Id").empty());
}

TEST_F(ServerApi, UnknownRouteAndJobAre404Json) {
  auto c = server_->client();
  expect_error(c->Get("/no/such/route"), 404, "not_found");
  expect_error(c->Get("/api/jobs/00000000-0000-4000-8000-000000000000"), 404, "not_found");
  expect_error(c->Get("/api/jobs/00000000-0000-4000-8000-000000000000/events"), 404, "not_found");
  expect_error(c->Post("/api/jobs/00000000-0000-4000-8000-000000000000/cancel"), 404, "not_found");
  expect_error(c->Delete("/api/jobs/00000000-0000-4000-8000-000000000000"), 404, "not_found");
}

TEST_F(ServerApi, MissingFiles) {
  auto c = server_->client();
  expect_error(c->Post("/api/sonic/generate", httplib::MultipartFormDataItems{file_part("audio", fixture("speech_en_5s.wav"))}),
               400, "missing_file", "image");
  expect_error(c->Post("/api/sonic/generate", httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png"))}),
               400, "missing_file", "audio");
  EXPECT_EQ(uploads_left(), 0u);
}

TEST_F(ServerApi, ConfigErrorsNameTheField) {
  auto c = server_->client();
  auto with_config = [&](const std::string& config) {
    return c->Post("/api/sonic/generate",
                   httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                   file_part("audio", fixture("speech_en_5s.wav")),
                                                   text_part("config", config)});
  };
  expect_error(with_config("{not json"), 400, "invalid_config");
  expect_error(with_config(R"({"colour":"blue"})"), 400, "invalid_config", "colour");
  expect_error(with_config(R"({"fps":500})"), 400, "invalid_param", "fps");
  expect_error(with_config(R"({"min_resolution":"big"})"), 400, "invalid_param", "min_resolution");
  expect_error(with_config(R"({"engine":"no-such-engine"})"), 400, "invalid_param", "engine");
  expect_error(c->Post("/api/sonic/generate",
                       httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                       file_part("audio", fixture("speech_en_5s.wav")),
                                                       text_part("preset", "no-such-preset")}),
               400, "invalid_param", "preset");
  EXPECT_EQ(uploads_left(), 0u);
}

TEST_F(ServerApi, TypesAreDecidedByContent) {
  auto c = server_->client();
  // A text file named .png is not an image, whatever its name and declared type say.
  expect_error(c->Post("/api/sonic/generate",
                       httplib::MultipartFormDataItems{{"image", "hello, I am text", "face.png", "image/png"},
                                                       file_part("audio", fixture("speech_en_5s.wav"))}),
               415, "unsupported_media_type", "image");
  // The portrait sent as the audio.
  expect_error(c->Post("/api/sonic/generate",
                       httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                       file_part("audio", fixture("portrait.png"), "audio/wav")}),
               415, "unsupported_media_type", "audio");
  // Neither multipart nor JSON (a JSON body carries inputs by URL; an empty one has none).
  expect_error(c->Post("/api/sonic/generate", "{}", "text/plain"), 415, "unsupported_media_type");
  expect_error(c->Post("/api/sonic/generate", "{}", "application/json"), 400, "missing_file", "image");
  EXPECT_EQ(uploads_left(), 0u);
}

TEST_F(ServerApi, OversizedUploadIs413AndNothingStays) {
  auto c = server_->client();
  std::string big(6 * 1024 * 1024, 'x');  // limit is 5 MB
  expect_error(c->Post("/api/sonic/generate",
                       httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                       {"audio", big, "big.wav", "audio/wav"}}),
               413, "payload_too_large");
  EXPECT_EQ(uploads_left(), 0u);
  // The server still answers on a new connection.
  auto r = server_->client()->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerApi, ChunkedUploadOverTheLimitIs413) {
  // No Content-Length: the limit is enforced on the bytes as they arrive.
  auto c = server_->client();
  std::string boundary = "sonicboundary";
  std::size_t sent = 0;
  const std::size_t total = 8 * 1024 * 1024;
  auto r = c->Post(
      "/api/sonic/generate",
      [&](std::size_t, httplib::DataSink& sink) {
        if (sent == 0) {
          std::string head = "--" + boundary +
                             "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                             "Content-Type: image/png\r\n\r\n";
          sink.write(head.data(), head.size());
        }
        std::string chunk(64 * 1024, 'y');
        if (!sink.write(chunk.data(), chunk.size())) return false;
        sent += chunk.size();
        if (sent >= total) sink.done();
        return true;
      },
      "multipart/form-data; boundary=" + boundary);
  if (r) {  // the server may also close the connection while we still send
    EXPECT_EQ(r->status, 413) << r->body;
  }
  EXPECT_EQ(uploads_left(), 0u);
}

TEST_F(ServerApi, FlatImageFailsWithNoFace) {
  TempDir dir;
  cv::Mat flat(240, 320, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::imwrite((dir / "flat.png").string(), flat);
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate",
                   httplib::MultipartFormDataItems{file_part("image", dir / "flat.png"),
                                                   file_part("audio", fixture("speech_en_5s.wav")),
                                                   text_part("config", R"({"min_resolution":256,"duration":1})")});
  expect_error(r, 422, "no_face");
  json body = body_json(r);
  ASSERT_TRUE(body.contains("job_id"));
  auto job = body_json(c->Get("/api/jobs/" + body["job_id"].get<std::string>()));
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["error"]["code"], "no_face");
  EXPECT_EQ(uploads_left(), 0u);  // a finished job's uploads are deleted
}

TEST_F(ServerApi, TraversalAttemptsAre404) {
  auto c = server_->client();
  // A real file next to outputs/ that must never be reachable.
  ASSERT_TRUE(std::filesystem::exists(server_->data_dir() / "sonic.db"));
  std::filesystem::create_symlink(server_->data_dir() / "sonic.db",
                                  server_->data_dir() / "outputs" / "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa.mp4");
  for (const std::string path :
       {"/output/../sonic.db", "/output/%2e%2e/sonic.db", "/output/%2E%2E%2Fsonic.db", "/output/..%2fsonic.db",
        "/output//etc/passwd", "/output/%2fetc%2fpasswd", "/output/x.mp4%00.png", "/output/.%2e/.%2e/etc/passwd",
        "/output/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa.mp4", "/output/", "/output/sonic.db"}) {
    auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_TRUE(r->status == 404 || r->status == 400) << path << " -> " << r->status;
    EXPECT_EQ(r->body.find("SQLite"), std::string::npos) << path;
  }
}

TEST_F(ServerApi, ListIsPaged) {
  auto c = server_->client();
  auto r = c->Get("/api/jobs?limit=5&offset=0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  json body = body_json(r);
  EXPECT_TRUE(body["jobs"].is_array());
  EXPECT_LE(body["jobs"].size(), 5u);
  expect_error(c->Get("/api/jobs?limit=1000"), 400, "invalid_param", "limit");
  expect_error(c->Get("/api/jobs?offset=x"), 400, "invalid_param");
}

TEST_F(ServerApi, MetricsArePrometheusText) {
  auto c = server_->client();
  ASSERT_TRUE(c->Get("/healthz"));
  // A request is counted once its response is written, on the server's thread: poll.
  const std::string healthz = "sonic_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}";
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto r = c->Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
    body = r->body;
    if (body.find(healthz) != std::string::npos || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  for (const std::string& series :
       {healthz, std::string("sonic_http_request_duration_seconds_bucket{route=\"/healthz\""),
        std::string("sonic_jobs{state=\"queued\"}"), std::string("sonic_queue_depth"),
        std::string("sonic_jobs_running"), std::string("sonic_cache_hits_total"),
        std::string("sonic_cache_misses_total"), std::string("sonic_upload_bytes_total"),
        std::string("sonic_job_duration_seconds_count")})
    EXPECT_NE(body.find(series), std::string::npos) << series;
}

// The OpenAPI document, the routes and docs/api.md stay in step.
TEST_F(ServerApi, OpenApiMatchesDocsAndRoutes) {
  auto c = server_->client();
  auto r = c->Get("/openapi.json");
  ASSERT_TRUE(r);
  json served = body_json(r);
  ASSERT_TRUE(served.is_object());
  json on_disk = json::parse(read_file(source_dir() / "docs" / "openapi.json"), nullptr, false);
  EXPECT_EQ(served, on_disk) << "docs/openapi.json and the served document differ";
  std::string api_md = read_file(source_dir() / "docs" / "api.md");
  for (auto it = served["paths"].begin(); it != served["paths"].end(); ++it) {
    for (auto op = it.value().begin(); op != it.value().end(); ++op) {
      if (op.key() == "parameters") continue;
      std::string method = op.key();
      for (char& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      EXPECT_NE(api_md.find(method + " " + it.key()), std::string::npos)
          << "docs/api.md does not document " << method << " " << it.key();
      // Every documented route answers with something other than "no route".
      std::string path = replace_all(it.key(), "{id}", "00000000-0000-4000-8000-000000000000");
      path = replace_all(path, "{name}", "00000000-0000-4000-8000-000000000000.mp4");
      httplib::Result res = method == "GET"      ? c->Get(path)
                            : method == "DELETE" ? c->Delete(path)
                                                 : c->Post(path, "", "text/plain");
      ASSERT_TRUE(res) << path;
      json body = json::parse(res->body, nullptr, false);
      if (body.is_object() && body.contains("error")) {
        EXPECT_EQ(body["error"].get<std::string>().find("No route"), std::string::npos) << method << " " << path;
      }
    }
  }
}

}  // namespace
}  // namespace sonic::test
