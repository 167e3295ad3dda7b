// The classic engine between decoding and encoding: which face speaks (face_for_job), and
// the analysed job that renders frame i (Animation: framing, mouth and motion tracks, the
// warper). ClassicEngine::generate drives these stage by stage; bench/engine_bench renders
// the same frames to compare them with the encoded video (SSIM). Deterministic: the same
// inputs give the same frames.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "engine/classic/face_warper.h"
#include "engine/classic/motion_track.h"
#include "engine/classic/mouth_track.h"
#include "engine/framing.h"
#include "engine/params.h"
#include "face/landmarks.h"
#include "media/audio.h"
#include "media/limits.h"

namespace sonic::engine::classic {

struct JobFace {
  face::DetectedFace face;  // detector "face_box" when the user marked it
  cv::Rect box;             // what framing centres on: the detector's box united with the points
};

// The face of `picture` (decoded from `image_file`) that speaks: the user's face_box, its
// landmarks checked (a drawn face falls back to the box-fitted layout), else the largest face
// detect_all finds (dlib, then the cascade for stylised faces), cached by the file's sha256.
// Error(invalid_param, face_box) for a box mostly outside the picture; Error(no_face).
JobFace face_for_job(const cv::Mat& picture, const std::filesystem::path& image_file, const GenerationParams& params);

class Animation {
 public:
  // Analyses the sound (`analysis_audio`: 16 kHz, already cut or padded to `duration`) into
  // mouth and motion tracks, plans the framing and builds the warper.
  Animation(const cv::Mat& picture, const JobFace& face, const GenerationParams& params, const media::MediaLimits& limits,
            const media::PcmAudio& analysis_audio, double duration);

  const Framing& framing() const { return framing_; }
  int frame_count() const { return frame_count_; }
  // Frame i (clamped to the tracks) into `out`, allocated to the output size on first use.
  void render(int i, cv::Mat& out);

 private:
  Framing framing_;
  int frame_count_ = 0;
  std::vector<MouthControls> mouth_;
  std::vector<MotionFrame> motion_;
  std::unique_ptr<FaceWarper> warper_;
};

}  // namespace sonic::engine::classic
