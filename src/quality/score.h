// quality/ — measuring a talking-head video instead of eyeballing it (DESIGN §6): how well
// the mouth follows the sound, blinks, head motion. Backs `sonic-server score` and the
// engine's quality tests. Calls face/ (landmarks), audio/ (loudness) and media/ (decoding).
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "media/limits.h"

namespace sonic::quality {

struct ScoreOptions {
  // Loudness is clamped to [loudness_floor_dbfs, 0] dBFS before any correlation, so the
  // depth of digital silence (-100 dB vs -70 dB) does not dominate the statistics.
  double loudness_floor_dbfs = -60.0;
  // A frame is silent when its loudness is below silence_dbfs, or more than
  // silence_below_peak_db under the loudest frame; every other frame is speech.
  double silence_dbfs = -45.0;
  double silence_below_peak_db = 35.0;
  // The audio-to-mouth lag is searched over ±max_lag_ms, in whole frames.
  double max_lag_ms = 200.0;
  // A blink is a run of face frames whose eye aspect ratio is below
  // blink_threshold × (median eye aspect ratio of the video).
  double blink_threshold = 0.75;
  // While tracking, a face detection confirms the tracked face every this many frames.
  int redetect_every = 25;
  int analysis_sample_rate = 16000;
  media::MediaLimits limits;
};

// What was measured on one video frame.
struct FrameMeasure {
  bool face = false;            // false: no face found, the other fields are meaningless
  double mouth_opening = 0;     // face::mouth_opening (inner-lip gap / mouth width)
  double eye_aspect_ratio = 0;  // face::eye_aspect_ratio, mean of both eyes
  cv::Point2f head;             // mean of nose bridge 27–29 and eye corners 36, 39, 42, 45, px
  double face_width = 0;        // jaw width, landmark 0 to 16, px
  cv::Rect box;                 // the face box the landmarks were fitted in
  bool detected = false;        // true: the box came from a detection, not from tracking
};

struct ScoreReport {
  // Video.
  long long frames = 0;
  double fps = 0;
  double duration_s = 0;  // frames / fps
  int width = 0;
  int height = 0;

  // Face.
  long long face_frames = 0;
  double detection_rate = 0;  // face_frames / frames
  double face_width_px = 0;   // mean over face frames

  // Audio.
  bool has_audio = false;
  double audio_duration_s = 0;

  // Lip sync. Pearson correlation of mouth opening with clamped loudness (dBFS) over the
  // face frames. Unset when it is undefined: no audio, fewer than 3 usable frames, or a
  // constant series (a still mouth or a flat sound).
  std::optional<double> correlation;  // at lag 0
  // Sign convention: POSITIVE best_lag_ms = the MOUTH LAGS the audio (the mouth moves after
  // the sound that drives it; mouth frame i matches audio frame i - lag). Negative = the
  // mouth leads. A perfect sync gives 0. best_lag_correlation is the correlation there.
  std::optional<double> best_lag_ms;
  std::optional<double> best_lag_correlation;

  // Standard deviation of mouth opening over face frames: under ~0.01 the mouth does not
  // really move, and any correlation above is noise (compression, landmark jitter).
  double mouth_opening_std = 0;

  // Mouth opening (inner-lip gap / mouth width) averaged over silent and speech face frames;
  // unset when there is no such frame.
  long long silence_frames = 0;
  long long speech_frames = 0;
  std::optional<double> mouth_opening_silence;
  std::optional<double> mouth_opening_speech;
  double silence_threshold_dbfs = 0;  // the threshold actually used

  // Blinks.
  int blink_count = 0;
  double blink_rate_per_min = 0;  // blink_count / (duration_s / 60)
  double eye_aspect_ratio_median = 0;

  // Head motion, from the head position (FrameMeasure::head: nose bridge and eye corners,
  // which the mouth and eyelids do not move) over face frames:
  // RMS distance from its mean position ("amplitude"), and the mean magnitude of its
  // frame-to-frame second difference ("jerk", px/frame²); both also as a fraction of the
  // mean face width so that videos of different sizes compare.
  double head_motion_px = 0;
  double head_motion_rel = 0;
  double head_jerk_px = 0;
  double head_jerk_rel = 0;

  double elapsed_s = 0;  // wall time score_video took (with the model load on first use)

  // Per frame, for tests and plots (not part of to_json()).
  std::vector<FrameMeasure> per_frame;
  std::vector<double> loudness_dbfs;  // clamped, one per video frame

  // Flat object; unset values are null, never NaN. Keys as the members above.
  nlohmann::json to_json() const;
};

// Decodes `video` frame by frame, finds the face on every frame (a detection on the first
// frame and whenever tracking is lost or due, landmark tracking in between), takes the
// loudness of `audio` — or of the video's own audio track when `audio` is unset — and
// computes the report. A video without audio (and no `audio`) still gets the face, blink
// and head figures. Throws Error: unreadable_media for a file with no decodable video,
// engine_failed when the landmark model is missing, and what media::decode_audio throws.
ScoreReport score_video(const std::filesystem::path& video,
                        const std::optional<std::filesystem::path>& audio = std::nullopt,
                        const ScoreOptions& options = {});

// Measures frames one after another with the same detection and tracking as score_video,
// for frames that are not in a file yet (the finishing step's align_mouth measures an
// external engine's frames before they are encoded). One instance per video; not shared.
class FrameMeasurer {
 public:
  explicit FrameMeasurer(const ScoreOptions& options = {});
  ~FrameMeasurer();
  FrameMeasurer(const FrameMeasurer&) = delete;
  FrameMeasurer& operator=(const FrameMeasurer&) = delete;
  FrameMeasure next(const cv::Mat& bgr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The statistics alone, from per-frame measures and raw per-frame loudness in dBFS (empty
// when there is no audio; padded with silence or cut to the frame count). For engines that
// know their own landmarks, and for tests. Leaves elapsed_s, width and height at 0.
ScoreReport score_frames(std::vector<FrameMeasure> frames, double fps,
                         std::vector<double> loudness_dbfs, const ScoreOptions& options = {});

}  // namespace sonic::quality
