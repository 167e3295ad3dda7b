// Integration: the real binary with external engines declared by flag — the real Sonic
// adapter (integrations/sonic/sonic_engine.py) loading the stand-in Sonic checkout
// (tests/engines/fake_sonic/) in real Python processes. Generate through the API with
// engine "sonic": exact frames, the original audio, lip sync by our own scorer; progress
// stages over SSE; fps resampling; full_frame paste-back with its seam measured;
// align_mouth on an engine whose mouth lags; classic and sonic serving at the same time with
// --workers 1; the CLI; /api/engines, /readyz, /metrics; face_index resolved to a face_box
// (or reported ignored by an engine that takes none); nothing left in the work folders.
#include <opencv2/imgproc.hpp>

#include "integration/server_external_engine_support.h"
#include "media/video_reader.h"
#include "quality/score.h"
#include "support/test_pictures.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

class ServerExternalEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gate_dir_ = new TempDir();
    server_ = new ServerProcess({"--workers", "1", "--sse-keepalive-s", "1", "--no-cache",
                                 // FAKE_SONIC_JUNK: the stand-in prints on stdout while loading, as
                                 // libraries do; the adapter must keep it off the protocol stream.
                                 "--external-engine", sonic_declaration("sonic", {{"FAKE_SONIC_JUNK", "1"}}),
                                 "--external-engine", sonic_declaration("sonicgated", {{"FAKE_SONIC_GATE", (*gate_dir_ / "open").string()}}),
                                 "--external-engine", sonic_declaration("sonicdelay", {{"FAKE_SONIC_MOUTH_DELAY_FRAMES", "2"}})});
    auto c = server_->client();
    for (const char* name : {"sonic", "sonicgated", "sonicdelay"}) wait_engine_state(*c, name, "ready");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete gate_dir_;
    gate_dir_ = nullptr;
  }
  void TearDown() override {
    // Nothing is left in the work folders after any job.
    EXPECT_EQ(entries_in(server_->data_dir() / "tmp"), 0u);
  }
  static fs::path download(httplib::Client& c, const json& answer, const TempDir& dir) {
    std::string url = answer["video_url"];
    auto r = c.Get(url.substr(url.find('/', url.find("//") + 2)));
    EXPECT_TRUE(r && r->status == 200);
    auto path = dir / "out.mp4";
    write_file(path, r ? r->body : "");
    return path;
  }
  static ServerProcess* server_;
  static TempDir* gate_dir_;  // the gated engine waits mid-job until "open" exists here
};
ServerProcess* ServerExternalEngine::server_ = nullptr;
TempDir* ServerExternalEngine::gate_dir_ = nullptr;

TEST_F(ServerExternalEngine, ListedWithKindStateAndParameters) {
  auto c = server_->client();
  json list = body_json(c->Get("/api/engines"));
  EXPECT_EQ(list["default"], "classic");
  json classic = engine_info(*c, "classic");
  EXPECT_EQ(classic["kind"], "builtin");
  EXPECT_EQ(classic["state"], "ready");
  json sonic = engine_info(*c, "sonic");
  EXPECT_EQ(sonic["kind"], "external");
  EXPECT_EQ(sonic["state"], "ready");
  EXPECT_EQ(sonic["device"], "cpu");
  EXPECT_EQ(sonic["slots"], 1);
  EXPECT_EQ(sonic["limits"]["max_concurrent_jobs"], 1);
  EXPECT_NE(sonic["version"].get<std::string>().find("stand-in"), std::string::npos) << sonic.dump();
  auto accepted = sonic["parameters"]["accepted"];
  EXPECT_NE(std::find(accepted.begin(), accepted.end(), "inference_steps"), accepted.end());
  bool motion_ignored = false;
  for (const auto& i : sonic["parameters"]["ignored"]) motion_ignored |= i["param"] == "motion_scale";
  EXPECT_TRUE(motion_ignored) << sonic.dump();
  auto ready = c->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  // The junk the stand-in printed while loading reached our log as the engine's stderr.
  std::string log = server_->log_text();
  EXPECT_NE(log.find("Loading checkpoint shards"), std::string::npos);
  EXPECT_NE(log.find("\"msg\":\"engine stderr\""), std::string::npos);
}

TEST_F(ServerExternalEngine, GenerateWithSonicGivesExactFramesOriginalAudioAndSync) {
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate", engine_job("sonic", {{"duration", 3.0}, {"seed", 0}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json answer = json::parse(r->body);
  EXPECT_EQ(answer["engine"], "sonic");
  EXPECT_EQ(answer["frames"], 75);
  EXPECT_EQ(answer["width"], 256);
  EXPECT_EQ(answer["height"], 256);
  json result = answer["result"];
  EXPECT_EQ(result["device"], "cpu");
  EXPECT_GT(result["peak_memory_bytes"].get<double>(), 1e6);
  EXPECT_EQ(result["memory_kind"], "host");
  EXPECT_EQ(result["params"]["seed"], 0);
  ASSERT_TRUE(result["crop_box"].is_array());
  bool smooth_ignored = false;
  for (const auto& i : result["ignored_params"]) smooth_ignored |= i["param"] == "smooth_motion";
  EXPECT_TRUE(smooth_ignored) << result.dump();

  TempDir dir;
  fs::path video = download(*c, answer, dir);
  media::VideoReader reader(video);
  EXPECT_EQ(reader.info().codec, "h264");
  EXPECT_TRUE(reader.info().has_audio);
  EXPECT_EQ(reader.info().audio_codec, "aac");
  EXPECT_NEAR(reader.info().audio_duration_s, 3.0, 0.05);
  EXPECT_TRUE(media::moov_before_mdat(video));
  cv::Mat frame;
  int frames = 0;
  while (reader.read(frame)) ++frames;
  EXPECT_EQ(frames, 75);
  // Our own scorer against the user's original recording: the mouth follows the sound.
  auto original = dir / "original.wav";
  run_ok("sox " + shell_quote(fixture("speech_en_5s.wav").string()) + " " + shell_quote(original.string()) + " trim 0 3");
  quality::ScoreReport score = quality::score_video(video, original);
  ASSERT_TRUE(score.correlation.has_value());
  EXPECT_GE(*score.correlation, 0.5) << score.to_json().dump();
  EXPECT_GE(score.detection_rate, 0.9);

  // The job's log line and /metrics carry the device and peak memory.
  std::string log = server_->log_text();
  EXPECT_NE(log.find("\"peak_memory_bytes\""), std::string::npos);
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("sonic_engine_peak_memory_bytes{engine=\"sonic\",device=\"cpu\",kind=\"host\"}"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("sonic_engine_up{engine=\"sonic\",kind=\"external\",state=\"ready\"} 1"),
            std::string::npos);
  // The adapter never called the official process() (its shell-built ffmpeg command).
  EXPECT_EQ(log.find("process() was called"), std::string::npos);
}

// face_index with an engine that finds the face itself: the server finds the face that
// face_index names (the same detection as POST /api/faces) and sends its box as face_box, so
// the engine crops around that face and not the one its own detector picks (the largest).
TEST_F(ServerExternalEngine, FaceIndexPicksTheSameFaceAsTheFaceCheck) {
  TempDir dir;
  const fs::path picture = dir / "two.png";
  ASSERT_NO_FATAL_FAILURE(write_two_faces_picture(picture));

  auto c = server_->client();
  auto r = c->Post("/api/faces", httplib::MultipartFormDataItems{file_part("image", picture, "image/png")});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json faces = body_json(r)["faces"];
  ASSERT_EQ(faces.size(), 2u) << r->body;
  const auto box_of = [](const json& b) {
    return cv::Rect(b["x"].get<int>(), b["y"].get<int>(), b["width"].get<int>(), b["height"].get<int>());
  };
  const auto crop_centre = [](const json& result) {
    const json& b = result["crop_box"];
    return cv::Point(b[0].get<int>() + b[2].get<int>() / 2, b[1].get<int>() + b[3].get<int>() / 2);
  };
  for (int index : {0, 1}) {
    SCOPED_TRACE("face_index " + std::to_string(index));
    const cv::Rect face = box_of(faces[static_cast<std::size_t>(index)]["box"]);
    r = c->Post("/api/sonic/generate", engine_job("sonic", {{"face_index", index}, {"duration", 0.5}}, picture));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json result = body_json(r)["result"];
    EXPECT_TRUE(face.contains(crop_centre(result))) << "crop " << result["crop_box"] << ", face " << face;
    if (index == 1) {
      // The face it was given, the check's box to the pixel.
      EXPECT_EQ(result["params"]["face_box"], json::array({face.x, face.y, face.width, face.height})) << result.dump();
    }
    for (const auto& i : result["ignored_params"]) EXPECT_NE(i["param"], "face_index") << result.dump();
  }
  // Past the last face: refused by name, as for the classic engine.
  r = c->Post("/api/sonic/generate", engine_job("sonic", {{"face_index", 2}, {"duration", 0.5}}, picture));
  ASSERT_TRUE(r);
  EXPECT_EQ(body_json(r)["field"], "face_index") << r->body;
}

TEST_F(ServerExternalEngine, OtherFrameRatesAreResampledToExactCounts) {
  auto c = server_->client();
  for (auto [fps, duration, expected] : {std::tuple{30, 2.1, 63}, std::tuple{12, 1.5, 18}}) {
    auto r = c->Post("/api/sonic/generate", engine_job("sonic", {{"fps", fps}, {"duration", duration}, {"align_mouth", false}}));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json answer = json::parse(r->body);
    EXPECT_EQ(answer["frames"], expected);
    TempDir dir;
    media::VideoReader reader(download(*c, answer, dir));
    EXPECT_NEAR(reader.info().fps, fps, 0.01);
    cv::Mat frame;
    int frames = 0;
    while (reader.read(frame)) ++frames;
    EXPECT_EQ(frames, expected) << fps << " fps";
  }
}

TEST_F(ServerExternalEngine, ProgressReachesSseWithTheAdaptersStages) {
  auto c = server_->client();
  json queued = post_async(*c, engine_job("sonic", {{"seed", 5}}));
  auto events = read_events(*c, "/api/jobs/" + queued["job_id"].get<std::string>() + "/events");
  std::vector<std::string> stages;
  double last = -1;
  for (const auto& e : events) {
    if (e.type != "progress") continue;
    std::string stage = e.data["stage"];
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
    EXPECT_GE(e.data["fraction"].get<double>(), last - 1e-9);
    last = e.data["fraction"];
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "done") << events.back().data.dump();
  for (const char* stage : {"detect", "denoise", "interpolate", "finish"})
    EXPECT_NE(std::find(stages.begin(), stages.end(), stage), stages.end()) << stage << " missing";
}

TEST_F(ServerExternalEngine, FullFramePastesTheFaceBackWithoutASeam) {
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate",
                   engine_job("sonic", {{"full_frame", true}, {"expand_ratio", 0.5}, {"align_mouth", false}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json answer = json::parse(r->body);
  EXPECT_EQ(answer["width"], 512);  // the portrait's own size
  EXPECT_EQ(answer["height"], 512);
  auto box = answer["result"]["crop_box"];
  ASSERT_TRUE(box.is_array());
  const cv::Rect crop(box[0], box[1], box[2], box[3]);
  EXPECT_LT(crop.area(), 512 * 512 / 2);
  TempDir dir;
  media::VideoReader reader(download(*c, answer, dir));
  cv::Mat frame;
  ASSERT_TRUE(reader.read(frame));
  ASSERT_EQ(frame.size(), cv::Size(512, 512));
  cv::Mat picture = cv::imread(fixture("portrait.png").string());
  cv::Mat grey, grey_picture;
  cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(picture, grey_picture, cv::COLOR_BGR2GRAY);
  // Away from the crop, the picture is the user's (within H.264's error).
  cv::Rect outside = cv::Rect(0, 0, 512, 512) & cv::Rect(crop.br().x + 8, 0, 512, 512);
  ASSERT_GT(outside.area(), 0);
  cv::Mat diff;
  cv::absdiff(grey(outside), grey_picture(outside), diff);
  EXPECT_LT(cv::mean(diff)[0], 3.0);
  // The seam: across each crop edge inside the picture, the row- (or column-) averaged jump
  // between neighbouring pixels is what the picture itself has there, give or take a little.
  auto worst_jump = [&](bool vertical_edge, int at, int from, int to) {
    double worst = 0;
    for (int k = at - 6; k < at + 6; ++k) {
      cv::Rect a = vertical_edge ? cv::Rect(k, from, 1, to - from) : cv::Rect(from, k, to - from, 1);
      cv::Rect b = vertical_edge ? cv::Rect(k + 1, from, 1, to - from) : cv::Rect(from, k + 1, to - from, 1);
      cv::Mat fa, fb, pa, pb;
      grey(a).convertTo(fa, CV_64F);
      grey(b).convertTo(fb, CV_64F);
      grey_picture(a).convertTo(pa, CV_64F);
      grey_picture(b).convertTo(pb, CV_64F);
      worst = std::max(worst, std::abs(cv::mean(fb - fa)[0] - cv::mean(pb - pa)[0]));
    }
    return worst;
  };
  if (crop.x > 8) {
    EXPECT_LT(worst_jump(true, crop.x, crop.y + 10, crop.br().y - 10), 3.0);
  }
  if (crop.br().x < 504) {
    EXPECT_LT(worst_jump(true, crop.br().x, crop.y + 10, crop.br().y - 10), 3.0);
  }
  if (crop.br().y < 504) {
    EXPECT_LT(worst_jump(false, crop.br().y, crop.x + 10, crop.br().x - 10), 3.0);
  }
  bool min_res_ignored = false;
  for (const auto& i : answer["result"]["ignored_params"]) min_res_ignored |= i["param"] == "min_resolution";
  EXPECT_TRUE(min_res_ignored);
}

TEST_F(ServerExternalEngine, AlignMouthCorrectsAnEngineWhoseMouthLags) {
  auto c = server_->client();
  auto original = [&] {
    static TempDir keep;
    auto path = keep / "original.wav";
    if (!fs::exists(path))
      run_ok("sox " + shell_quote(fixture("speech_en_5s.wav").string()) + " " + shell_quote(path.string()) + " trim 0 4");
    return path;
  }();
  json job = {{"duration", 4.0}, {"expand_ratio", 0.5}};
  auto on = c->Post("/api/sonic/generate", engine_job("sonicdelay", job));
  ASSERT_TRUE(on);
  ASSERT_EQ(on->status, 200) << on->body;
  json aligned = json::parse(on->body);
  json report = aligned["result"]["align_mouth"];
  ASSERT_TRUE(report.is_object()) << aligned.dump();
  EXPECT_TRUE(report["applied"].get<bool>()) << report.dump();
  // The stand-in's mouth lags by two frames (80 ms); the audio is delayed to meet it.
  EXPECT_NEAR(report["audio_shift_ms"].get<double>(), 80.0, 40.0) << report.dump();
  job["align_mouth"] = false;
  auto off = c->Post("/api/sonic/generate", engine_job("sonicdelay", job));
  ASSERT_TRUE(off);
  ASSERT_EQ(off->status, 200) << off->body;
  EXPECT_TRUE(json::parse(off->body)["result"]["align_mouth"].is_null());

  TempDir dir_on, dir_off;
  // Scored against each video's own track (what a viewer hears).
  auto lag_on = quality::score_video(download(*c, aligned, dir_on)).best_lag_ms;
  auto lag_off = quality::score_video(download(*c, json::parse(off->body), dir_off)).best_lag_ms;
  ASSERT_TRUE(lag_on && lag_off);
  EXPECT_GE(*lag_off, 40.0);
  EXPECT_LT(std::abs(*lag_on), std::abs(*lag_off));
  EXPECT_LE(std::abs(*lag_on), 40.0);
}

TEST_F(ServerExternalEngine, ClassicAndSonicServeAtTheSameTimeWithOneWorker) {
  auto c = server_->client();
  // A Sonic job holds its engine's only slot: the stand-in waits mid-job for the gate ...
  json held = post_async(*c, engine_job("sonicgated"));
  std::string id = held["job_id"];
  wait_job_until(*c, id, [](const json& j) { return j["status"] == "running" && j["stage"] == "denoise"; });
  // ... and a classic job still runs to the end meanwhile (--workers 1 is classic's slots).
  auto r = c->Post("/api/sonic/generate", quick_job(11, 1.0));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["engine"], "classic");
  EXPECT_EQ(body_json(c->Get("/api/jobs/" + id))["status"], "running");
  write_file(*gate_dir_ / "open", "");
  json done = wait_job(*c, id);
  EXPECT_EQ(done["status"], "succeeded") << done.dump();
}

TEST_F(ServerExternalEngine, TheCliUsesTheSameEngines) {
  TempDir dir;
  fs::create_directories(dir / "tmp");
  std::string decl = "sonic=/usr/bin/python3 " + (source_dir() / "integrations/sonic/sonic_engine.py").string() +
                     " --sonic-dir " + (source_dir() / "tests/engines/fake_sonic").string() + " --device cpu";
  auto out = run("TMPDIR=" + shell_quote((dir / "tmp").string()) + " " + shell_quote(sonic_binary().string()) +
                 " generate --json --external-engine " + shell_quote(decl) + " -i " +
                 shell_quote(fixture("portrait.png").string()) + " -a " + shell_quote(fixture("speech_en_5s.wav").string()) +
                 " -o " + shell_quote((dir / "cli.mp4").string()) +
                 " --set engine=sonic --set duration=1.5 --set min_resolution=256 --set inference_steps=3 2>/dev/null");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  json result = json::parse(out.output.substr(out.output.find('{')));
  EXPECT_EQ(result["success"], true);
  EXPECT_EQ(result["engine"], "sonic");
  EXPECT_EQ(result["frames"], 38);
  EXPECT_EQ(result["device"], "cpu");
  EXPECT_TRUE(fs::exists(dir / "cli.mp4"));
  EXPECT_EQ(entries_in(dir / "tmp"), 0u);  // its work folder is gone
}

// The config-file form, with the example engine of integrations/example_engine/.
TEST(ServerExternalEngineConfig, TheConfigFileDeclaresTheExampleEngine) {
  TempDir dir;
  json config = {{"external-engines",
                  {{"example",
                    {{"command", {"/usr/bin/python3", (source_dir() / "integrations/example_engine/example_engine.py").string()}},
                     {"slots", 1}}}}}};
  write_file(dir / "config.json", config.dump());
  ServerProcess server({"--config-file", (dir / "config.json").string()});
  auto c = server.client();
  json e = wait_engine_state(*c, "example", "ready");
  EXPECT_EQ(e["kind"], "external");
  auto r = c->Post("/api/sonic/generate", engine_job("example", {{"full_frame", true}, {"fps", 30}, {"duration", 1.0}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json answer = json::parse(r->body);
  EXPECT_EQ(answer["frames"], 30);
  EXPECT_EQ(answer["width"], 512);  // pasted back into the whole portrait
  bool ignored = false;
  for (const auto& i : answer["result"]["ignored_params"]) ignored |= i["param"] == "dynamic_scale";
  EXPECT_TRUE(ignored) << answer.dump();
  // An engine that takes no face_box cannot be told another face: face_index is reported
  // ignored, not silently dropped.
  r = c->Post("/api/sonic/generate", engine_job("example", {{"face_index", 1}, {"fps", 30}, {"duration", 1.0}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ignored = false;
  const json other = body_json(r);
  for (const auto& i : other["result"]["ignored_params"]) ignored |= i["param"] == "face_index";
  EXPECT_TRUE(ignored) << r->body;
  EXPECT_EQ(entries_in(server.data_dir() / "tmp"), 0u);
}

}  // namespace
}  // namespace sonic::test
