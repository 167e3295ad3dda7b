// A cartoon talks (issue 14, part 3): drawn faces through the whole classic engine — found by
// dlib with a fit that puts the mouth on the chin, found by the cascade alone, or marked with
// face_box — open and close their drawn mouth with the speech. The judge is the picture: how
// much the drawn mouth's region differs from the still, frame by frame, against the audio's
// loudness. full_frame keeps the output in the picture's own pixels, so the mouth's place is
// known; motion_scale 0 keeps the head still, so only the mouth changes.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "audio/speech_features.h"
#include "engine/classic/classic_engine.h"
#include "face/landmarks.h"
#include "face_drawn_faces.h"
#include "media/audio.h"
#include "media/video_reader.h"
#include "support/test_media.h"
#include "util/error.h"

using namespace sonic;
namespace fs = std::filesystem;

namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = std::min(a.size(), b.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

struct Talk {
  double correlation = 0;
  double quiet_change = 0, loud_change = 0;  // mean mouth change in the quietest / loudest fifth
};

// Runs the engine on `picture` and measures how the region around `mouth` follows loudness.
Talk talk(const cv::Mat& picture, cv::Point2f mouth, float mouth_width, nlohmann::json config) {
  test::TempDir dir;
  cv::imwrite((dir / "face.png").string(), picture);
  config["full_frame"] = true;
  config["motion_scale"] = 0;
  config["duration"] = 4.0;
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  const auto result = classic.generate(
      {dir / "face.png", test::fixture("speech_en_5s.wav"), dir / "out.mp4", engine::apply_config({}, config), {}}, nullptr, cancel);
  EXPECT_EQ(result.width, picture.cols);

  const cv::Rect region = cv::Rect(cvRound(mouth.x - mouth_width), cvRound(mouth.y - 0.6f * mouth_width), cvRound(2 * mouth_width),
                                   cvRound(1.6f * mouth_width)) &
                          cv::Rect(0, 0, picture.cols, picture.rows);
  std::vector<double> change;
  media::VideoReader reader(dir / "out.mp4");
  cv::Mat frame, diff;
  while (reader.read(frame)) {
    cv::absdiff(frame(region), picture(region), diff);
    const cv::Scalar m = cv::mean(diff);
    change.push_back((m[0] + m[1] + m[2]) / 3.0);
  }
  const auto audio = media::decode_audio(test::fixture("speech_en_5s.wav"), 16000);
  const auto features = audio::speech_features_per_frame(audio.samples, audio.sample_rate, 25, static_cast<int>(change.size()));
  std::vector<double> loudness;
  for (const auto& f : features) loudness.push_back(std::clamp(f.loudness_db, -60.0, 0.0));
  Talk t;
  t.correlation = pearson(change, loudness);
  std::vector<size_t> order(change.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return loudness[a] < loudness[b]; });
  const size_t fifth = std::max<size_t>(1, order.size() / 5);
  for (size_t i = 0; i < fifth; ++i) {
    t.quiet_change += change[order[i]] / fifth;
    t.loud_change += change[order[order.size() - 1 - i]] / fifth;
  }
  std::cout << "mouth change vs loudness: correlation " << t.correlation << ", quiet " << t.quiet_change << ", loud "
            << t.loud_change << "\n";
  return t;
}

void expect_talks(const Talk& t) {
  EXPECT_GE(t.correlation, 0.5);
  EXPECT_GT(t.loud_change, t.quiet_change + 4.0) << "the drawn mouth barely moves";
}

}  // namespace

// dlib finds this drawn face, and its fit would open a mouth on the chin: the check's
// layout opens the drawn one.
TEST(StylisedFace, ADrawnCartoonTalks) {
  const test::DrawnFace drawn = test::draw_face({480, 480}, test::DrawnStyle::flat_cartoon);
  const auto found = face::FaceLandmarker::shared().detect_all(drawn.picture);
  ASSERT_EQ(found.size(), 1u);
  ASSERT_TRUE(found[0].box_layout) << "dlib's fit was accepted: the test no longer covers the fallback";
  expect_talks(talk(drawn.picture, drawn.mouth, drawn.mouth_width, {}));
}

TEST(StylisedFace, AShadedCharacterMarkedWithFaceBoxTalks) {
  const test::DrawnFace drawn = test::draw_face({400, 480}, test::DrawnStyle::shaded_character, {120, 150, 200});
  const cv::Rect box(drawn.face.x, drawn.face.y + drawn.face.height / 5, drawn.face.width, drawn.face.height * 4 / 5);
  expect_talks(talk(drawn.picture, drawn.mouth, drawn.mouth_width, {{"face_box", {box.x, box.y, box.width, box.height}}}));
}

// A small drawn face in a large picture: dlib finds nothing, the second detector does.
TEST(StylisedFace, ACartoonOnlyTheFallbackDetectorFindsTalks) {
  const test::DrawnFace drawn = test::draw_small_face_in_large_picture(test::DrawnStyle::flat_cartoon);
  const cv::Mat& canvas = drawn.picture;
  ASSERT_FALSE(face::FaceLandmarker::shared().detect(canvas).has_value()) << "dlib finds it: the test no longer covers the fallback";
  const auto found = face::FaceLandmarker::shared().detect_all(canvas);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].detector, "cascade");
  expect_talks(talk(canvas, drawn.mouth, drawn.mouth_width, {}));
}

TEST(StylisedFace, NoFaceInAFlatPictureIsStillNoFace) {
  test::TempDir dir;
  cv::imwrite((dir / "flat.png").string(), cv::Mat(600, 800, CV_8UC3, cv::Scalar(90, 140, 200)));
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  try {
    classic.generate({dir / "flat.png", test::fixture("speech_en_5s.wav"), dir / "out.mp4", {}, {}}, nullptr, cancel);
    FAIL() << "expected no_face";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::no_face);
  }
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));
}

TEST(StylisedFace, AFaceBoxOutsideThePictureIsRefused) {
  const test::DrawnFace drawn = test::draw_face({320, 320}, test::DrawnStyle::flat_cartoon);
  test::TempDir dir;
  cv::imwrite((dir / "face.png").string(), drawn.picture);
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  for (const nlohmann::json& box : {nlohmann::json{300, 300, 200, 200}, nlohmann::json{0, 0, 4, 4}}) {
    try {
      classic.generate({dir / "face.png", test::fixture("speech_en_5s.wav"), dir / "out.mp4",
                        engine::apply_config({}, {{"face_box", box}}), {}},
                       nullptr, cancel);
      ADD_FAILURE() << "accepted face_box " << box.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_param) << box.dump();
      EXPECT_EQ(e.field(), "face_box");
    }
  }
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));
}
