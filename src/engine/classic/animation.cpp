// The face that speaks and the analysed job that renders its frames (see animation.h).
#include "engine/classic/animation.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "audio/speech_features.h"
#include "engine/face_check.h"
#include "face/face_cache.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sha256.h"

namespace sonic::engine::classic {
namespace {

// Where each frame's audio analysis window sits relative to the frame's own interval.
// align_mouth: calibrated with `score` so the rendered mouth opening peaks with the
// loudness (the mouth track's one-frame anticipation and its attack/release smoothing
// cancel out, so no extra shift is needed). Without align_mouth the engine behaves like a
// naive pipeline whose analysis windows are centred 40 ms late: the mouth moves 40 ms before
// the sound (one frame at 25 fps).
double mouth_analysis_offset_s(bool align_mouth) { return align_mouth ? 0.0 : 0.040; }

// Where the warp may act, in output pixels: the face region grown by a quarter of its side
// all round (room for the ring of hair, ears and neck that follows the head halfway),
// clipped to the output. Outside it every frame is the still picture: no seam in full_frame,
// and less work on the background of a wide frame.
cv::Rect warp_region(const Framing& framing) {
  const cv::Rect& face = framing.face_region;
  const int grow = face.width / 4;
  const cv::Rect grown(face.x - grow, face.y - grow, face.width + 2 * grow, face.height + 2 * grow);
  return framing.to_output(grown) & cv::Rect(cv::Point(0, 0), framing.output_size);
}

}  // namespace

JobFace face_for_job(const cv::Mat& picture, const std::filesystem::path& image_file, const GenerationParams& params) {
  JobFace job_face;
  if (params.face_box) {
    const auto [x, y, w, h] = *params.face_box;
    const cv::Rect box(x, y, w, h);
    if ((box & cv::Rect(0, 0, picture.cols, picture.rows)).area() < box.area() / 2 || w < 8 || h < 8)
      throw Error(ErrorCode::invalid_param,
                  "face_box must lie inside the image (" + std::to_string(picture.cols) + "x" + std::to_string(picture.rows) +
                      " pixels) and be at least 8 pixels wide and high.",
                  "face_box");
    // Checked: on a drawn face dlib's fit falls back to the layout fitted to the box.
    job_face.face = face::FaceLandmarker::shared().fit_face(picture, box);
    job_face.face.detector = "face_box";
    job_face.box = box;
  } else {
    const auto faces = face::faces_in_picture(sha256_file_hex(image_file), picture);
    // Largest first; face_index picks another (no_face, or invalid_param past the last).
    job_face.face = speaking_face(*faces, params.face_index);
    // The detector's box is tight (brows to chin); make sure every landmark is inside.
    job_face.box = framing_box(job_face.face);
  }
  const auto& f = job_face.face;
  log::info("classic engine face", {{"detector", f.detector}, {"confidence", f.confidence},
                                     {"fit_confidence", f.fit_confidence}, {"box_layout", f.box_layout}});
  return job_face;
}

Animation::Animation(const cv::Mat& picture, const JobFace& face, const GenerationParams& params, const media::MediaLimits& limits,
                     const media::PcmAudio& analysis_audio, double duration) {
  const int fps = params.fps;
  frame_count_ = static_cast<int>(std::lround(duration * fps));
  const auto mouth_features = audio::speech_features_per_frame(analysis_audio.samples, analysis_audio.sample_rate, fps, frame_count_,
                                                               mouth_analysis_offset_s(params.align_mouth));
  const auto motion_features =
      params.align_mouth ? mouth_features
                         : audio::speech_features_per_frame(analysis_audio.samples, analysis_audio.sample_rate, fps, frame_count_, 0.0);
  mouth_ = mouth_track(mouth_features, {.fps = static_cast<double>(fps), .dynamic_scale = params.dynamic_scale, .smooth = params.smooth_motion});
  motion_ = motion_track(motion_features, {.fps = static_cast<double>(fps),
                                           .motion_scale = params.motion_scale,
                                           .smooth = params.smooth_motion,
                                           .seed = static_cast<std::uint64_t>(params.seed)});
  const face::Landmarks& landmarks = face.face.points;
  FramingOptions options = FramingOptions::of(params, limits);
  options.eye_y = eye_line(landmarks);
  framing_ = plan_framing(picture.size(), face.box, options);
  warper_ = std::make_unique<FaceWarper>(framed_picture(picture, framing_), to_output(landmarks, framing_), warp_region(framing_));
}

void Animation::render(int i, cv::Mat& out) {
  if (frame_count_ <= 0) {
    warper_->render({}, {}, out);
    return;
  }
  const size_t k = static_cast<size_t>(std::clamp(i, 0, frame_count_ - 1));
  warper_->render(mouth_[k], motion_[k], out);
}

}  // namespace sonic::engine::classic
