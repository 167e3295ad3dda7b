// Integration: the face check (POST /api/faces) and face_index through the real binary,
// negative cases first. Pictures are composed here from the fixture portrait with OpenCV: a
// picture with no face, one with the face too small, one with two faces of different sizes.
// With two faces, face_index 0 and 1 must animate different faces: over a full_frame video
// the mouth region of the chosen face moves and the other stays still. The detection of the
// check is cached for the job that follows with the same picture (/metrics counts it).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "integration/python_server.h"
#include "integration/server_process.h"
#include "media/video_reader.h"
#include "support/test_pictures.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

httplib::Result check(httplib::Client& c, const fs::path& picture, const json& config = nullptr) {
  httplib::MultipartFormDataItems items{file_part("image", picture, "image/png")};
  if (!config.is_null()) items.push_back(text_part("config", config.dump()));
  return c.Post("/api/faces", items);
}

std::size_t uploads_left(const ServerProcess& s) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(s.data_dir() / "uploads", ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

double metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string line_start = name + " ";
  std::size_t at = r->body.find("\n" + line_start);
  if (at == std::string::npos) return -1;
  return std::stod(r->body.substr(at + 1 + line_start.size()));
}

cv::Rect box_of(const json& face) {
  const json& b = face["box"];
  return {b["x"].get<int>(), b["y"].get<int>(), b["width"].get<int>(), b["height"].get<int>()};
}

// Mean absolute change between consecutive frames inside `region` (output pixels).
double motion_in(const fs::path& video, const cv::Rect& region) {
  media::VideoReader reader(video);
  cv::Mat frame, grey, previous;
  double total = 0;
  int pairs = 0;
  while (reader.read(frame)) {
    cv::cvtColor(frame(region & cv::Rect(0, 0, frame.cols, frame.rows)), grey, cv::COLOR_BGR2GRAY);
    if (!previous.empty()) {
      cv::Mat diff;
      cv::absdiff(grey, previous, diff);
      total += cv::mean(diff)[0];
      ++pairs;
    }
    previous = grey.clone();
  }
  return pairs ? total / pairs : 0.0;
}

// The lower half of a face box: where the mouth and jaw move.
cv::Rect mouth_half(const cv::Rect& box) { return {box.x, box.y + box.height / 2, box.width, box.height / 2}; }

class ServerFaces : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const cv::Mat portrait = cv::imread(fixture("portrait.png").string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(portrait.empty());
    ASSERT_NO_FATAL_FAILURE(write_two_faces_picture(*dir_ / "two.png"));
    // No face: a smooth gradient.
    cv::Mat none(360, 480, CV_8UC3);
    for (int y = 0; y < none.rows; ++y)
      none.row(y).setTo(cv::Scalar(60 + y / 3, 90 + y / 4, 140 - y / 5));
    ASSERT_TRUE(cv::imwrite((*dir_ / "none.png").string(), none));
    // Too small: the portrait at half size (a face ~45 px wide) in a larger canvas.
    cv::Mat tiny;
    cv::resize(portrait, tiny, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    cv::Mat far(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
    tiny.copyTo(far(cv::Rect(240, 160, tiny.cols, tiny.rows)));
    ASSERT_TRUE(cv::imwrite((*dir_ / "far.png").string(), far));
    write_file(*dir_ / "notes.png", std::string(4000, 'x'));
    server_ = new ServerProcess({"--sync-wait-s", "600"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static TempDir* dir_;
  static ServerProcess* server_;
};
TempDir* ServerFaces::dir_ = nullptr;
ServerProcess* ServerFaces::server_ = nullptr;

TEST_F(ServerFaces, RequestsWithoutAPictureOrWithBadFieldsAreRefused) {
  auto c = server_->client();
  auto r = c->Post("/api/faces", "hello", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;
  r = c->Post("/api/faces", httplib::MultipartFormDataItems{text_part("config", "{}")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["code"], "missing_file") << r->body;
  EXPECT_EQ(body_json(r)["field"], "image") << r->body;
  r = c->Post("/api/faces", httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")),
                                                            text_part("image_url", "https://example.com/a.png")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["field"], "image_url") << r->body;
  for (const json& config : {json{{"face_index", -1}}, json{{"face_index", 1.5}}, json{{"face_index", "two"}}}) {
    r = check(*c, fixture("portrait.png"), config);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << config.dump() << " " << r->body;
    EXPECT_EQ(body_json(r)["code"], "invalid_param") << r->body;
    EXPECT_EQ(body_json(r)["field"], "face_index") << r->body;
  }
  r = c->Post("/api/faces", "{\"image_url\": 5}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["field"], "image_url") << r->body;
  r = c->Post("/api/faces", "{\"image\": \"x\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(uploads_left(*server_), 0u) << "a refused check left a file behind";
}

TEST_F(ServerFaces, NotAPictureAndAnInternalUrlAreRefused) {
  auto c = server_->client();
  auto r = check(*c, *dir_ / "notes.png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_EQ(body_json(r)["code"], "unsupported_media_type") << r->body;
  // The same SSRF rules as generate (tests/integration/server_url_inputs_test.cpp proves
  // every form): a loopback sentinel is never reached.
  TempDir files;
  fs::copy_file(fixture("portrait.png"), files / "portrait.png");
  PythonServer sentinel({"files", "--host", "127.0.0.1", "--dir", files.path().string()});
  for (const std::string& url : {"https://127.0.0.1:" + std::to_string(sentinel.port()) + "/portrait.png",
                                "https://localhost:" + std::to_string(sentinel.port()) + "/portrait.png"}) {
    r = c->Post("/api/faces", json{{"image_url", url}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;
    EXPECT_EQ(body_json(r)["code"], "forbidden_url") << r->body;
    EXPECT_EQ(body_json(r)["field"], "image_url") << r->body;
  }
  EXPECT_TRUE(sentinel.requests().empty()) << "the check reached an internal address";
  EXPECT_EQ(uploads_left(*server_), 0u);
}

TEST_F(ServerFaces, APictureWithNoFaceSaysSo) {
  auto c = server_->client();
  auto r = check(*c, *dir_ / "none.png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json b = body_json(r);
  EXPECT_TRUE(b["faces"].empty()) << r->body;
  EXPECT_TRUE(b["speaker"].is_null()) << r->body;
  EXPECT_FALSE(b["usable"].get<bool>()) << r->body;
  ASSERT_EQ(b["warnings"].size(), 1u) << r->body;
  EXPECT_NE(b["warnings"][0].get<std::string>().find("No face"), std::string::npos) << r->body;
  EXPECT_EQ(b["width"], 480);
  EXPECT_EQ(b["height"], 360);
  EXPECT_EQ(uploads_left(*server_), 0u) << "the check kept its picture";
}

TEST_F(ServerFaces, TheFixtureHasOneUsableFaceAndACropPerShape) {
  auto c = server_->client();
  auto r = check(*c, fixture("portrait.png"), json{{"min_resolution", 256}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json b = body_json(r);
  ASSERT_EQ(b["faces"].size(), 1u) << r->body;
  const json& face = b["faces"][0];
  EXPECT_EQ(b["speaker"], 0);
  EXPECT_TRUE(b["usable"].get<bool>()) << r->body;
  EXPECT_TRUE(b["warnings"].empty()) << r->body;
  EXPECT_TRUE(face["usable"].get<bool>()) << r->body;
  EXPECT_TRUE(face["warnings"].empty()) << r->body;
  EXPECT_EQ(face["detector"], "dlib");
  EXPECT_GE(face["confidence"].get<double>(), 0.5);
  EXPECT_LE(face["confidence"].get<double>(), 1.0);
  const cv::Rect box = box_of(face);
  const cv::Rect picture(0, 0, 512, 512);
  EXPECT_EQ(box & picture, box);
  EXPECT_GE(box.width, 64);
  for (const std::string shape : {"1:1", "9:16", "4:5", "16:9", "original"}) {
    ASSERT_TRUE(face["crops"].contains(shape)) << shape << " " << r->body;
    const json& crop = face["crops"][shape];
    const cv::Rect rect(crop["x"], crop["y"], crop["width"], crop["height"]);
    EXPECT_EQ(rect & picture, rect) << shape << " crop outside the picture";
    EXPECT_GT((rect & box).area(), box.area() / 2) << shape << " crop misses the face";
    const int w = crop["output_width"], h = crop["output_height"];
    EXPECT_EQ(std::min(w, h), 256) << shape;
    EXPECT_EQ(w % 2, 0);
    EXPECT_EQ(h % 2, 0);
    EXPECT_NEAR(static_cast<double>(rect.width) / rect.height, static_cast<double>(w) / h, 0.05) << shape;
  }
  const auto& c11 = face["crops"]["1:1"];
  EXPECT_EQ(c11["output_width"], c11["output_height"]);
  EXPECT_LT(face["crops"]["9:16"]["output_width"].get<int>(), face["crops"]["9:16"]["output_height"].get<int>());
  EXPECT_GT(face["crops"]["16:9"]["output_width"].get<int>(), face["crops"]["16:9"]["output_height"].get<int>());
  // One face: face_index 1 names none, in the check and in a job.
  r = check(*c, fixture("portrait.png"), json{{"face_index", 1}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(body_json(r)["field"], "face_index") << r->body;
  EXPECT_NE(body_json(r)["error"].get<std::string>().find("1 face"), std::string::npos) << r->body;
  r = c->Post("/api/sonic/generate",
              httplib::MultipartFormDataItems{file_part("image", fixture("portrait.png")), file_part("audio", fixture("speech_en_5s.wav")),
                                              text_part("config", R"({"face_index":1,"duration":0.5,"min_resolution":256})")});
  ASSERT_TRUE(r);
  const json failed = body_json(r);
  EXPECT_EQ(failed["code"], "invalid_param") << r->body;
  EXPECT_EQ(failed["field"], "face_index") << r->body;
}

TEST_F(ServerFaces, ATinyFaceIsFoundButNotUsable) {
  auto c = server_->client();
  auto r = check(*c, *dir_ / "far.png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json b = body_json(r);
  ASSERT_EQ(b["faces"].size(), 1u) << r->body;
  EXPECT_FALSE(b["faces"][0]["large_enough"].get<bool>()) << r->body;
  EXPECT_FALSE(b["usable"].get<bool>()) << r->body;
  ASSERT_FALSE(b["faces"][0]["warnings"].empty()) << r->body;
  EXPECT_NE(b["faces"][0]["warnings"][0].get<std::string>().find("Too small"), std::string::npos) << r->body;
}

TEST_F(ServerFaces, TwoFacesAndFaceIndexChoosesWhichSpeaks) {
  auto c = server_->client();
  const double misses_before = metric(*c, "sonic_face_cache_misses_total");
  const double hits_before = metric(*c, "sonic_face_cache_hits_total");
  ASSERT_GE(misses_before, 0) << "/metrics has no face cache counters";
  auto r = check(*c, *dir_ / "two.png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json b = body_json(r);
  ASSERT_EQ(b["faces"].size(), 2u) << r->body;
  EXPECT_EQ(metric(*c, "sonic_face_cache_misses_total"), misses_before + 1);
  const cv::Rect big = box_of(b["faces"][0]), other = box_of(b["faces"][1]);
  EXPECT_GT(big.area(), other.area()) << "largest first";
  EXPECT_LT(big.x + big.width / 2, 512) << "the larger face is the left one";
  EXPECT_GT(other.x + other.width / 2, 512) << "the smaller face is the right one";
  EXPECT_EQ(b["speaker"], 0);
  ASSERT_EQ(b["warnings"].size(), 1u) << r->body;
  EXPECT_NE(b["warnings"][0].get<std::string>().find("2 faces"), std::string::npos) << r->body;
  r = check(*c, *dir_ / "two.png", json{{"face_index", 1}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_json(r)["speaker"], 1);

  // One video per face, whole picture in frame, so both faces are in every frame.
  std::vector<fs::path> videos;
  for (int index : {0, 1}) {
    r = c->Post("/api/sonic/generate",
                httplib::MultipartFormDataItems{
                    file_part("image", *dir_ / "two.png"), file_part("audio", fixture("speech_en_5s.wav")),
                    text_part("config", json{{"face_index", index}, {"full_frame", true}, {"duration", 2}}.dump())});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json job = body_json(r);
    EXPECT_EQ(job["params"]["face_index"], index) << r->body;
    auto video = c->Get("/output/" + job["job_id"].get<std::string>() + ".mp4");
    ASSERT_TRUE(video);
    ASSERT_EQ(video->status, 200);
    videos.push_back(*dir_ / ("face" + std::to_string(index) + ".mp4"));
    write_file(videos.back(), video->body);
  }
  // The check's detection served both jobs.
  EXPECT_EQ(metric(*c, "sonic_face_cache_misses_total"), misses_before + 1);
  EXPECT_GE(metric(*c, "sonic_face_cache_hits_total"), hits_before + 2);
  const double speaks0 = motion_in(videos[0], mouth_half(big)), still0 = motion_in(videos[0], mouth_half(other));
  const double speaks1 = motion_in(videos[1], mouth_half(other)), still1 = motion_in(videos[1], mouth_half(big));
  EXPECT_GT(speaks0, 0.3) << "face 0 did not move with face_index 0";
  EXPECT_GT(speaks1, 0.3) << "face 1 did not move with face_index 1";
  EXPECT_GT(speaks0, 5 * still0) << "face_index 0: the other face moved as much (" << speaks0 << " vs " << still0 << ")";
  EXPECT_GT(speaks1, 5 * still1) << "face_index 1: the other face moved as much (" << speaks1 << " vs " << still1 << ")";
}

}  // namespace
}  // namespace sonic::test
