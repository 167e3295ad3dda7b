// finish_video: an external engine's frames → the final MP4, the same way for every engine
// (docs/engine-protocol.md, "What the server does with the frames"). video_options() is the
// encoder setting every engine writes with, the built-in one included.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "engine/finish/compositor.h"
#include "media/audio.h"
#include "media/mp4_writer.h"

namespace sonic::engine::finish {

// H.264/AAC settings for a video of `size` at `fps` lasting `duration_s` (exactly
// round(duration × fps) frames), its sound from a recording at `recording_rate` (the track
// keeps that rate where AAC stores it well: media::aac_track_rate).
media::Mp4Options video_options(cv::Size size, int fps, double duration_s, int recording_rate);

struct FinishJob {
  std::filesystem::path frames_path;
  bool raw_rgb24 = true;
  std::optional<double> frames_fps;
  std::optional<cv::Rect> crop_box;  // where the frames come from in the picture
  cv::Mat picture;                   // the user's picture, BGR
  media::PcmAudio output_audio;      // the user's audio at its own rate, fitted to the duration
  media::PcmAudio analysis_audio;    // the same at 16 kHz (align_mouth)
  GenerationParams params;           // resolved, duration set
  media::MediaLimits limits;
  std::filesystem::path output;
};

struct FinishReport {
  int frames = 0;
  cv::Size size;
  std::vector<IgnoredParam> ignored;
  nlohmann::json align_mouth;  // MouthAlignment::to_json(), or null when align_mouth is off
  std::map<std::string, double> stage_seconds;
};

// Where the output frame comes from and how big it is, given the engine's crop (see
// compositor.h). Adds to `ignored` what cannot be honoured (full_frame without a crop box).
Placement plan_placement(cv::Size picture_size, const std::optional<cv::Rect>& crop_box, cv::Size frame_size,
                         const GenerationParams& params, const media::MediaLimits& limits,
                         std::vector<IgnoredParam>& ignored);

// Writes job.output (temporary name + rename, by Mp4Writer); on any throw no output exists.
// `progress` gets the fraction (0–1) of the finishing work. Throws Error: engine_failed
// (unusable frames), canceled, internal (the encoder).
FinishReport finish_video(const FinishJob& job, const std::function<void(const std::string&, double)>& progress,
                          const CancelToken& cancel);

}  // namespace sonic::engine::finish
