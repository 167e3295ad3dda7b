// Integration: aspect_ratio through the real `sonic-server serve` (issue 14, part 2) — a bad
// value is refused with the field and the allowed list and nothing is stored, the engines
// list it among their parameters (the web page enables its control from that), the vertical
// preset is served, and one request with that preset comes back as a 9:16 video with the
// shape recorded in its resolved parameters.
#include "integration/server_process.h"

namespace sonic::test {
namespace {

class ServerAspectRatio : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--sync-wait-s", "600"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::size_t uploads_left() {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(server_->data_dir() / "uploads", ec); !ec && it != std::filesystem::directory_iterator(); ++it)
      ++n;
    return n;
  }
  static ServerProcess* server_;
};
ServerProcess* ServerAspectRatio::server_ = nullptr;

TEST_F(ServerAspectRatio, AnUnknownShapeIsRefusedWithTheAllowedList) {
  auto c = server_->client();
  for (const std::string config : {R"({"aspect_ratio":"3:2"})", R"({"aspect_ratio":916})", R"({"aspect_ratio":"9x16"})"}) {
    auto r = c->Post("/api/sonic/generate", httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                                            file_part("audio", fixture("speech_en_5s.wav")),
                                                                            text_part("config", config)});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    const json body = body_json(r);
    EXPECT_EQ(body["code"], "invalid_param") << r->body;
    EXPECT_EQ(body["field"], "aspect_ratio") << r->body;
    EXPECT_NE(body["error"].get<std::string>().find("9:16"), std::string::npos) << r->body;
  }
  EXPECT_EQ(uploads_left(), 0u);
}

TEST_F(ServerAspectRatio, TheEnginesAcceptItAndTheVerticalPresetIsServed) {
  auto c = server_->client();
  const json engines = body_json(c->Get("/api/engines"));
  ASSERT_TRUE(engines["engines"].is_array()) << engines.dump();
  for (const auto& engine : engines["engines"]) {
    const auto& accepted = engine["parameters"]["accepted"];
    EXPECT_NE(std::find(accepted.begin(), accepted.end(), "aspect_ratio"), accepted.end()) << engine.dump();
  }
  const json presets = body_json(c->Get("/api/presets"));
  bool found = false;
  for (const auto& p : presets["presets"])
    if (p["name"] == "presenter_9x16") {
      found = true;
      EXPECT_EQ(p["config"]["aspect_ratio"], "9:16");
    }
  EXPECT_TRUE(found) << presets.dump();
}

TEST_F(ServerAspectRatio, TheVerticalPresetMakesANineBySixteenVideo) {
  auto c = server_->client();
  // The preset, with a smaller output for the test (config keys override the preset's).
  auto r = c->Post("/api/sonic/generate",
                   httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                   file_part("audio", fixture("speech_en_5s.wav")),
                                                   text_part("preset", "presenter_9x16"),
                                                   text_part("config", R"({"min_resolution":256,"duration":1})")});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = body_json(r);
  EXPECT_EQ(body["width"], 256) << r->body;
  EXPECT_EQ(body["height"], 456) << r->body;
  EXPECT_EQ(body["params"]["aspect_ratio"], "9:16") << r->body;
  // The file is served and is what the answer says.
  auto video = c->Get("/output/" + body["job_id"].get<std::string>() + ".mp4");
  ASSERT_TRUE(video);
  EXPECT_EQ(video->status, 200);
  EXPECT_GT(video->body.size(), 1000u);
}

}  // namespace
}  // namespace sonic::test
