// face/: every face of a picture (detect_all), the second detector for stylised faces, the
// check of a landmark fit with its box-fitted fallback, and the cache by sha256. Photos are
// the fixture portrait and copies of it; stylised faces are drawn here (face_drawn_faces.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "face/cascade_detector.h"
#include "face/face_cache.h"
#include "face/landmark_check.h"
#include "face/landmarks.h"
#include "face_drawn_faces.h"
#include "media/image.h"
#include "support/test_media.h"

namespace sonic::face {
namespace {

cv::Mat portrait() { return media::decode_image(test::fixture("portrait.png")); }

cv::Point2f mouth_centre(const Landmarks& p) { return (p[62] + p[66]) * 0.5f; }

TEST(FaceDetectAll, NothingInAFlatPictureOrNoise) {
  EXPECT_TRUE(FaceLandmarker::shared().detect_all(cv::Mat(480, 640, CV_8UC3, cv::Scalar(40, 160, 90))).empty());
  cv::Mat noise(300, 300, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  EXPECT_TRUE(FaceLandmarker::shared().detect_all(noise).empty());
  EXPECT_TRUE(FaceLandmarker::shared().detect_all(cv::Mat()).empty());
  EXPECT_FALSE(find_mouth_line(cv::Mat(200, 200, CV_8UC3, cv::Scalar(90, 120, 200)), cv::Rect(40, 40, 120, 120)).has_value());
}

TEST(FaceDetectAll, ThePortraitIsOneDlibFaceWithDlibsOwnLandmarks) {
  const cv::Mat image = portrait();
  const auto faces = FaceLandmarker::shared().detect_all(image);
  ASSERT_EQ(faces.size(), 1u);
  const DetectedFace& face = faces[0];
  EXPECT_EQ(face.detector, "dlib");
  EXPECT_GE(face.confidence, 0.5);
  EXPECT_LE(face.confidence, 1.0);
  EXPECT_FALSE(face.box_layout);
  EXPECT_GE(face.fit_confidence, 0.8);
  // The same face and points detect() gives.
  const auto single = FaceLandmarker::shared().detect(image);
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(face.box, single->box);
  for (size_t i = 0; i < 68; ++i) EXPECT_LT(cv::norm(face.points[i] - single->points[i]), 0.01) << i;
}

// The check must never throw away dlib's fit on a real face: copies of the portrait turned,
// mirrored, scaled, with the mouth stretched open, keep their fitted points.
TEST(FaceDetectAll, TheCheckKeepsDlibsFitOnPhotos) {
  const cv::Mat image = portrait();
  std::vector<std::pair<std::string, cv::Mat>> copies;
  cv::Mat m;
  cv::flip(image, m, 1);
  copies.emplace_back("mirrored", m.clone());
  for (double angle : {-12.0, 12.0}) {
    cv::warpAffine(image, m, cv::getRotationMatrix2D(cv::Point2f(225, 135), angle, 1.0), image.size(), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    copies.emplace_back("turned " + std::to_string(angle), m.clone());
  }
  for (double scale : {0.6, 2.5}) {
    cv::resize(image, m, cv::Size(), scale, scale, cv::INTER_AREA);
    copies.emplace_back("scaled " + std::to_string(scale), m.clone());
  }
  cv::Mat dim;
  image.convertTo(dim, -1, 0.5, 0);
  copies.emplace_back("dim", dim);
  for (const auto& [name, picture] : copies) {
    SCOPED_TRACE(name);
    // (HOG may add a false alarm somewhere on the suit; the face is the largest.)
    const auto faces = FaceLandmarker::shared().detect_all(picture);
    ASSERT_GE(faces.size(), 1u);
    EXPECT_EQ(faces[0].detector, "dlib");
    EXPECT_EQ(faces[0].box, FaceLandmarker::shared().detect(picture)->box);
    EXPECT_FALSE(faces[0].box_layout) << "fit confidence " << faces[0].fit_confidence;
    EXPECT_GE(faces[0].fit_confidence, kMinFitConfidence);
  }
}

TEST(FaceDetectAll, EveryFaceLargestFirst) {
  const cv::Mat image = portrait();
  cv::Mat canvas(512, 1024, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::Mat small;
  cv::resize(image, small, cv::Size(), 0.6, 0.6, cv::INTER_AREA);
  small.copyTo(canvas(cv::Rect(20, 100, small.cols, small.rows)));
  image.copyTo(canvas(cv::Rect(512, 0, 512, 512)));
  const auto faces = FaceLandmarker::shared().detect_all(canvas);
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_GT(faces[0].box.x, 512);
  EXPECT_LT(faces[1].box.x, 512);
  EXPECT_GT(faces[0].box.area(), faces[1].box.area());
  for (const auto& f : faces) {
    EXPECT_EQ(f.detector, "dlib");
    EXPECT_TRUE(f.box.contains(cv::Point(mouth_centre(f.points)))) << "each face has its own points";
  }
}

// A drawn face: dlib's fit puts the mouth on the chin (the "barely moves its mouth");
// the check notices, and the layout puts the mouth on the drawing.
TEST(FaceDetectAll, ADrawnFaceGetsItsMouthWhereTheDrawingHasIt) {
  for (const auto style : {test::DrawnStyle::flat_cartoon, test::DrawnStyle::shaded_character})
    for (const cv::Size size : {cv::Size(480, 480), cv::Size(320, 400)}) {
      SCOPED_TRACE(std::to_string(size.width) + (style == test::DrawnStyle::flat_cartoon ? " flat" : " shaded"));
      const test::DrawnFace drawn = test::draw_face(size, style);
      const Landmarks raw = FaceLandmarker::shared().landmarks_in(drawn.picture, FaceLandmarker::shared().detect_all(drawn.picture).at(0).box);
      const auto faces = FaceLandmarker::shared().detect_all(drawn.picture);
      ASSERT_EQ(faces.size(), 1u);
      const DetectedFace& face = faces[0];
      EXPECT_TRUE(face.box_layout) << "fit confidence " << face.fit_confidence << "; dlib's mouth at "
                                   << mouth_centre(raw) << ", the drawing's at " << drawn.mouth;
      EXPECT_LT(face.fit_confidence, kMinFitConfidence);
      EXPECT_LT(std::abs(mouth_centre(face.points).x - drawn.mouth.x), 0.1 * drawn.mouth_width) << mouth_centre(face.points);
      EXPECT_LT(std::abs(mouth_centre(face.points).y - drawn.mouth.y), 0.15 * drawn.mouth_width);
      EXPECT_NEAR(cv::norm(face.points[54] - face.points[48]), drawn.mouth_width, 0.3 * drawn.mouth_width);
      // Its eyes are on the drawn eyes (so blinks close them), and it is still a face: eyes
      // above nose above mouth above chin.
      EXPECT_LT(cv::norm((face.points[36] + face.points[39]) * 0.5f - drawn.left_eye), 0.3 * drawn.eye_width);
      EXPECT_LT(cv::norm((face.points[42] + face.points[45]) * 0.5f - drawn.right_eye), 0.3 * drawn.eye_width);
      EXPECT_LT(face.points[39].y, face.points[30].y);
      EXPECT_LT(face.points[30].y, face.points[51].y);
      EXPECT_LT(face.points[57].y, face.points[8].y);
    }
}

// A small drawn face in a large picture: only the second detector sees it.
TEST(FaceDetectAll, TheCascadeFindsWhatDlibMisses) {
  ASSERT_TRUE(CascadeFaceDetector::shared().available()) << "install opencv-data";
  for (const auto style : {test::DrawnStyle::flat_cartoon, test::DrawnStyle::shaded_character}) {
    SCOPED_TRACE(style == test::DrawnStyle::flat_cartoon ? "flat" : "shaded");
    const test::DrawnFace drawn = test::draw_small_face_in_large_picture(style);
    const cv::Mat& canvas = drawn.picture;
    ASSERT_FALSE(FaceLandmarker::shared().detect(canvas).has_value()) << "dlib sees it after all: the test needs a harder face";
    const auto faces = FaceLandmarker::shared().detect_all(canvas);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_EQ(faces[0].detector, "cascade");
    EXPECT_GT(faces[0].confidence, 0.0);
    EXPECT_LT(faces[0].confidence, 0.5) << "cascade faces rank below any dlib face";
    EXPECT_GT((faces[0].box & drawn.face).area(), 0.6 * faces[0].box.area()) << faces[0].box << " vs " << drawn.face;
    EXPECT_LT(cv::norm(mouth_centre(faces[0].points) - drawn.mouth), 0.5 * drawn.mouth_width)
        << mouth_centre(faces[0].points) << " vs the drawn " << drawn.mouth;
  }
}

TEST(FaceDetectAll, AUserBoxOnADrawnFaceFallsBackToTheLayout) {
  const test::DrawnFace drawn = test::draw_face({400, 480}, test::DrawnStyle::shaded_character);
  // A box as a person would mark it: around the skin, brows to chin.
  const cv::Rect box(drawn.face.x, drawn.face.y + drawn.face.height / 5, drawn.face.width, drawn.face.height * 4 / 5);
  const DetectedFace fitted = FaceLandmarker::shared().fit_face(drawn.picture, box);
  EXPECT_TRUE(fitted.box_layout);
  EXPECT_LT(std::abs(mouth_centre(fitted.points).y - drawn.mouth.y), 0.15 * drawn.mouth_width);
  // On the portrait, dlib's own box: dlib's fit stands.
  const cv::Mat image = portrait();
  const DetectedFace photo = FaceLandmarker::shared().fit_face(image, cv::Rect(177, 77, 90, 90));
  EXPECT_FALSE(photo.box_layout);
  EXPECT_GE(photo.fit_confidence, 0.8);
}

TEST(FaceLandmarkCheck, ImplausiblePointsScoreZero) {
  const cv::Rect box(100, 100, 200, 200);
  const Landmarks good = box_layout(box, std::nullopt);
  EXPECT_GE(fit_confidence(good, box, std::nullopt), 0.99);
  Landmarks upside_down = good;
  for (auto& p : upside_down) p.y = 2 * 200 - p.y;  // mouth above the eyes
  EXPECT_EQ(fit_confidence(upside_down, box, std::nullopt), 0.0);
  Landmarks tiny = good;
  for (auto& p : tiny) p = cv::Point2f(200, 200) + (p - cv::Point2f(200, 200)) * 0.1f;
  EXPECT_LT(fit_confidence(tiny, box, std::nullopt), kMinFitConfidence) << "a face a tenth of its box";
  Landmarks moved = good;
  for (auto& p : moved) p += cv::Point2f(400, 0);
  EXPECT_EQ(fit_confidence(moved, box, std::nullopt), 0.0) << "a face outside its box";
  EXPECT_EQ(fit_confidence(Landmarks{}, box, std::nullopt), 0.0);
}

// The mouth line only overrules a fit on a drawn face, so telling photos from drawings must
// hold at every size, blur and compression.
TEST(FaceLandmarkCheck, PhotosAreNotDrawings) {
  const cv::Mat image = portrait();
  const cv::Rect face(177, 77, 90, 90);
  const auto scaled = [&](double f) {
    cv::Mat out;
    cv::resize(image, out, cv::Size(), f, f, f < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    return std::pair{out, cv::Rect(cvRound(face.x * f), cvRound(face.y * f), cvRound(face.width * f), cvRound(face.height * f))};
  };
  std::vector<std::pair<std::string, std::pair<cv::Mat, cv::Rect>>> photos = {
      {"portrait", {image, face}}, {"half size", scaled(0.5)}, {"3x", scaled(3.0)}, {"6x", scaled(6.0)}};
  cv::Mat blurred, dark, jpeg;
  cv::GaussianBlur(image, blurred, cv::Size(0, 0), 2.0);
  photos.push_back({"blurred", {blurred, face}});
  image.convertTo(dark, -1, 0.45, 0);
  photos.push_back({"dark", {dark, face}});
  std::vector<uchar> bytes;
  cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, 50});
  photos.push_back({"jpeg 50", {cv::imdecode(bytes, cv::IMREAD_COLOR), face}});
  for (const auto& [name, photo] : photos) {
    EXPECT_GE(texture_of(photo.first, photo.second), kPhotoTexture) << name;
    EXPECT_FALSE(is_drawn(photo.first, photo.second)) << name;
  }
  for (const auto style : {test::DrawnStyle::flat_cartoon, test::DrawnStyle::shaded_character}) {
    const test::DrawnFace drawn = test::draw_face({480, 480}, style);
    EXPECT_TRUE(is_drawn(drawn.picture, drawn.face)) << texture_of(drawn.picture, drawn.face);
    cv::imencode(".jpg", drawn.picture, bytes, {cv::IMWRITE_JPEG_QUALITY, 75});
    EXPECT_TRUE(is_drawn(cv::imdecode(bytes, cv::IMREAD_COLOR), drawn.face));
    const test::DrawnFace small = test::draw_small_face_in_large_picture(style);
    EXPECT_TRUE(is_drawn(small.picture, small.face)) << texture_of(small.picture, small.face);
  }
}

TEST(FaceLandmarkCheck, TheMouthLineFindsADrawnMouth) {
  const test::DrawnFace drawn = test::draw_face({480, 480}, test::DrawnStyle::flat_cartoon);
  const auto line = find_mouth_line(drawn.picture, cv::Rect(drawn.face.x, drawn.face.y + 60, drawn.face.width, drawn.face.height - 60));
  ASSERT_TRUE(line.has_value());
  EXPECT_NEAR(line->centre.x, drawn.mouth.x, 0.1 * drawn.mouth_width);
  EXPECT_NEAR(line->centre.y, drawn.mouth.y, 0.15 * drawn.mouth_width);
  EXPECT_NEAR(line->right.x - line->left.x, drawn.mouth_width, 0.25 * drawn.mouth_width);
  EXPECT_LT(line->left.y, line->centre.y) << "a smile: its corners are higher than its middle";
  EXPECT_GT(line->contrast, 40);
}

TEST(FaceCache, TheSamePictureIsDetectedOnce) {
  clear_face_cache();
  const cv::Mat image = portrait();
  const auto first = faces_in_picture("portrait-sha", image);
  const auto second = faces_in_picture("portrait-sha", image);
  EXPECT_EQ(first.get(), second.get()) << "the second call is answered from the cache";
  ASSERT_EQ(first->size(), 1u);
  FaceCacheStats stats = face_cache_stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.entries, 1u);
  // No face is remembered too.
  const cv::Mat flat(100, 100, CV_8UC3, cv::Scalar(10, 10, 10));
  EXPECT_TRUE(faces_in_picture("flat-sha", flat)->empty());
  EXPECT_TRUE(faces_in_picture("flat-sha", flat)->empty());
  stats = face_cache_stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.entries, 2u);
  // An empty key is never cached.
  faces_in_picture("", flat);
  EXPECT_EQ(face_cache_stats().entries, 2u);
}

TEST(FaceCache, TheLeastRecentlyUsedPictureGoesFirst) {
  clear_face_cache();
  const cv::Mat flat(64, 64, CV_8UC3, cv::Scalar(50, 50, 50));
  faces_in_picture("keep", flat);
  for (size_t i = 0; i < kFaceCacheEntries + 5; ++i) {
    faces_in_picture("picture-" + std::to_string(i), flat);
    faces_in_picture("keep", flat);  // used all the time: never the least recent
  }
  const FaceCacheStats stats = face_cache_stats();
  EXPECT_EQ(stats.entries, kFaceCacheEntries);
  EXPECT_EQ(stats.hits, kFaceCacheEntries + 5);
  const std::size_t misses = stats.misses;
  faces_in_picture("picture-0", flat);  // evicted long ago
  EXPECT_EQ(face_cache_stats().misses, misses + 1);
  faces_in_picture("picture-" + std::to_string(kFaceCacheEntries + 4), flat);  // recent
  EXPECT_EQ(face_cache_stats().misses, misses + 1);
}

// Without the cascade file (opencv-data not installed) photos still work and nothing throws.
TEST(FaceCascadeMissing, PhotosStillWork) {
  ::setenv("SONIC_FACE_CASCADE", "/nonexistent/cascade.xml", 1);
  EXPECT_FALSE(CascadeFaceDetector::shared().available());
  EXPECT_TRUE(CascadeFaceDetector::shared().detect(cv::Mat(200, 200, CV_8UC1, cv::Scalar(0)), 24).empty());
  const auto faces = FaceLandmarker::shared().detect_all(portrait());
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].detector, "dlib");
}

}  // namespace
}  // namespace sonic::face
