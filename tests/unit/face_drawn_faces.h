// Stylised faces drawn at test time, for the paths photos never take: dlib's HOG detector
// finds none of them, OpenCV's cascade does, and dlib's landmark fit is not to be trusted on
// them. Two styles: a flat cartoon (flat colours, outlined big eyes, small mouth line) and a
// shaded "3-D character" (gradients, soft shadow, a closed mouth drawn as lips).
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace sonic::test {

enum class DrawnStyle { flat_cartoon, shaded_character };

struct DrawnFace {
  cv::Mat picture;
  cv::Rect face;          // the skin ellipse's bounding box
  cv::Point2f mouth;      // centre of the drawn mouth
  float mouth_width = 0;  // corner to corner
  cv::Point2f left_eye, right_eye;  // centres of the drawn eyes (whites)
  float eye_width = 0;
};

// `eye_scale` > 1 draws the oversized eyes of anime and chibi characters.
inline DrawnFace draw_face(cv::Size size, DrawnStyle style, cv::Scalar skin = {150, 190, 240},
                           cv::Scalar background = {200, 160, 120}, double eye_scale = 1.0) {
  DrawnFace out;
  out.picture = cv::Mat(size, CV_8UC3, background);
  cv::Mat& img = out.picture;
  const int w = size.width, h = size.height;
  const cv::Point c(w / 2, h * 52 / 100);
  const cv::Size axes(w * 30 / 100, h * 36 / 100);
  out.face = cv::Rect(c.x - axes.width, c.y - axes.height, 2 * axes.width, 2 * axes.height);
  const cv::Scalar hair(40, 60, 110);
  if (style == DrawnStyle::flat_cartoon) {
    cv::ellipse(img, c - cv::Point(0, axes.height / 4), cv::Size(axes.width * 112 / 100, axes.height * 95 / 100), 0, 180, 360, hair, -1);
    cv::ellipse(img, c, axes, 0, 0, 360, skin, -1, cv::LINE_AA);
    cv::ellipse(img, c - cv::Point(0, axes.height * 62 / 100), cv::Size(axes.width * 102 / 100, axes.height * 45 / 100), 0, 180, 360,
                hair, -1, cv::LINE_AA);
  } else {
    // Shading: the skin darkens towards the rim of the face, as a lit sphere does.
    cv::Mat shade(size, CV_32F);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double u = (x - c.x) / static_cast<double>(axes.width), v = (y - c.y) / static_cast<double>(axes.height);
        shade.at<float>(y, x) = static_cast<float>(std::max(0.0, 1.0 - 0.45 * (u * u + 0.6 * v * v) + 0.1 * (-u - v)));
      }
    cv::Mat mask = cv::Mat::zeros(size, CV_8U);
    cv::ellipse(mask, c, axes, 0, 0, 360, cv::Scalar(255), -1, cv::LINE_AA);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double a = mask.at<uchar>(y, x) / 255.0;
        if (a <= 0) continue;
        cv::Vec3b& p = img.at<cv::Vec3b>(y, x);
        for (int k = 0; k < 3; ++k) p[k] = cv::saturate_cast<uchar>(p[k] * (1 - a) + skin[k] * shade.at<float>(y, x) * a);
      }
    cv::GaussianBlur(img, img, cv::Size(0, 0), 1.2);
  }
  // Big eyes: white, outlined, a large iris with a pupil and a highlight; brows above.
  const int eye_y = c.y - axes.height * 8 / 100, eye_dx = axes.width * 42 / 100;
  const cv::Size eye(static_cast<int>(axes.width * 0.22 * eye_scale), static_cast<int>(axes.height * 0.20 * eye_scale));
  for (int side : {-1, 1}) {
    const cv::Point e(c.x + side * eye_dx, eye_y);
    (side < 0 ? out.left_eye : out.right_eye) = cv::Point2f(static_cast<float>(e.x), static_cast<float>(e.y));
    out.eye_width = 2.0f * static_cast<float>(eye.width);
    cv::ellipse(img, e, eye, 0, 0, 360, cv::Scalar(250, 250, 250), -1, cv::LINE_AA);
    cv::ellipse(img, e, eye, 0, 0, 360, cv::Scalar(30, 30, 30), 2, cv::LINE_AA);
    const cv::Point iris(e.x, e.y + eye.height / 5);
    cv::circle(img, iris, eye.width * 6 / 10, cv::Scalar(60, 40, 20), -1, cv::LINE_AA);
    cv::circle(img, iris, eye.width * 3 / 10, cv::Scalar(10, 10, 10), -1, cv::LINE_AA);
    cv::circle(img, iris - cv::Point(eye.width / 4, eye.height / 4), std::max(1, eye.width * 15 / 100), cv::Scalar(255, 255, 255), -1,
               cv::LINE_AA);
    cv::ellipse(img, cv::Point(e.x, e.y - eye.height * 16 / 10), cv::Size(eye.width, eye.height * 35 / 100), 0, 200, 340,
                cv::Scalar(30, 40, 60), std::max(2, w / 120), cv::LINE_AA);
  }
  cv::ellipse(img, cv::Point(c.x, c.y + axes.height * 22 / 100), cv::Size(axes.width * 5 / 100, axes.height * 3 / 100), 0, 0, 180,
              skin * 0.7, 2, cv::LINE_AA);
  // A small mouth low in the face.
  const cv::Point mouth(c.x, c.y + axes.height * 48 / 100);
  const cv::Size mouth_axes(axes.width * 20 / 100, axes.height * 6 / 100);
  if (style == DrawnStyle::flat_cartoon) {
    cv::ellipse(img, mouth, mouth_axes, 0, 0, 180, cv::Scalar(60, 50, 150), std::max(2, w / 160), cv::LINE_AA);
    out.mouth = cv::Point2f(static_cast<float>(mouth.x), static_cast<float>(mouth.y + mouth_axes.height * 0.7));
  } else {
    cv::ellipse(img, mouth, cv::Size(mouth_axes.width, mouth_axes.height * 7 / 10), 0, 0, 360, cv::Scalar(90, 80, 170), -1, cv::LINE_AA);
    cv::line(img, mouth - cv::Point(mouth_axes.width, 0), mouth + cv::Point(mouth_axes.width, 0), cv::Scalar(50, 40, 100),
             std::max(2, w / 200), cv::LINE_AA);
    out.mouth = cv::Point2f(static_cast<float>(mouth.x), static_cast<float>(mouth.y));
  }
  out.mouth_width = 2.0f * static_cast<float>(mouth_axes.width);
  return out;
}

// A drawn face (480 px, scaled by 0.2) at (500, 400) in a 1000×1000 picture: under HOG's
// smallest window there (80 px: a picture that size is scanned at full size), above the
// cascade's, so only the second detector finds it. Face, mouth and eyes in the big picture.
inline DrawnFace draw_small_face_in_large_picture(DrawnStyle style) {
  constexpr float kScale = 0.2f;
  const cv::Point2f at(500, 400);
  DrawnFace drawn = draw_face({480, 480}, style);
  cv::Mat small;
  cv::resize(drawn.picture, small, cv::Size(), kScale, kScale, cv::INTER_AREA);
  DrawnFace out;
  out.picture = cv::Mat(1000, 1000, CV_8UC3, cv::Scalar(200, 160, 120));
  small.copyTo(out.picture(cv::Rect(cv::Point(at), small.size())));
  out.face = cv::Rect(cvRound(at.x + drawn.face.x * kScale), cvRound(at.y + drawn.face.y * kScale), cvRound(drawn.face.width * kScale),
                      cvRound(drawn.face.height * kScale));
  out.mouth = at + drawn.mouth * kScale;
  out.mouth_width = drawn.mouth_width * kScale;
  out.left_eye = at + drawn.left_eye * kScale;
  out.right_eye = at + drawn.right_eye * kScale;
  out.eye_width = drawn.eye_width * kScale;
  return out;
}

}  // namespace sonic::test
