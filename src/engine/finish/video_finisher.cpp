// finish_video: resample → (measure the mouth lag) → compose → encode (see video_finisher.h).
#include "engine/finish/video_finisher.h"

#include <chrono>
#include <cmath>

#include "engine/finish/engine_frames.h"
#include "engine/finish/mouth_alignment.h"
#include "engine/framing.h"
#include "util/log.h"

namespace sonic::engine::finish {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// x264 settings for talking heads, shared by every engine (the classic engine encodes with
// video_options() too), measured on the 512 px benchmark clip (docs/engine.md): veryfast
// with subme 1 (quarter-pel search at its cheapest) takes about two thirds of plain
// veryfast's encoding CPU for a file ~6 % larger at the same crf. A talking head moves
// little and smoothly, so the diamond motion search (me=dia) finds what hexagon search
// does, and whole 16×16 macroblocks predict it nearly as well as split partitions
// (partitions=none): together another ~20 % less encoding CPU for a file ~2 % larger, SSIM
// against the rendered frames unchanged (0.982). A shorter lookahead (rc-lookahead 5,
// b-adapt 0) would save ~7 % more but lowers that SSIM under 0.98. superfast is no faster
// once its mb-tree is turned back on, and without mb-tree its files are twice as large.
constexpr const char* kX264Preset = "veryfast";
constexpr const char* kX264Params = "subme=1:me=dia:partitions=none";

cv::Size even(cv::Size s) { return {std::max(2, s.width & ~1), std::max(2, s.height & ~1)}; }

}  // namespace

media::Mp4Options video_options(cv::Size size, int fps, double duration_s, int recording_rate) {
  media::Mp4Options options;
  options.width = size.width;
  options.height = size.height;
  options.fps = fps;
  options.duration_s = duration_s;
  options.preset = kX264Preset;
  options.x264_params = kX264Params;
  options.audio_sample_rate = media::aac_track_rate(recording_rate);
  options.audio_bitrate = media::aac_track_bitrate(options.audio_sample_rate);
  return options;
}

Placement plan_placement(cv::Size picture_size, const std::optional<cv::Rect>& crop_box, cv::Size frame_size,
                         const GenerationParams& params, const media::MediaLimits& limits,
                         std::vector<IgnoredParam>& ignored) {
  Placement p;
  if (!crop_box) {
    // The frames are the whole picture as the engine made it.
    p.output_rect = cv::Rect(cv::Point(0, 0), frame_size);
    p.crop_box = p.output_rect;
    p.output_size = even(frame_size);
    if (params.full_frame)
      ignored.push_back({"full_frame", "the engine did not say where its frames come from in the picture"});
    return p;
  }
  p.crop_box = *crop_box;
  if (params.full_frame) {
    p.output_rect = cv::Rect(cv::Point(0, 0), picture_size);
    double scale = 1.0;
    const int longer = std::max(picture_size.width, picture_size.height);
    if (limits.max_full_frame_side > 0 && longer > limits.max_full_frame_side)
      scale = static_cast<double>(limits.max_full_frame_side) / longer;
    p.output_size = even(cv::Size(static_cast<int>(std::floor(picture_size.width * scale)),
                                  static_cast<int>(std::floor(picture_size.height * scale))));
    ignored.push_back({"min_resolution", "full_frame keeps the original picture size"});
    return p;
  }
  // Crop mode: the engine's crop at min_resolution on its shorter side.
  p.output_rect = *crop_box;
  const double shorter = std::min(crop_box->width, crop_box->height);
  const double scale = round_to_even(params.min_resolution) / shorter;
  p.output_size = cv::Size(round_to_even(crop_box->width * scale), round_to_even(crop_box->height * scale));
  return p;
}

FinishReport finish_video(const FinishJob& job, const std::function<void(const std::string&, double)>& progress,
                          const CancelToken& cancel) {
  FinishReport report;
  const auto report_progress = [&](double f) {
    if (progress) progress("finish", std::clamp(f, 0.0, 1.0));
  };
  const int fps = job.params.fps;
  const double duration = job.params.duration_s.value_or(job.output_audio.duration_s());

  EngineFrames source(job.frames_path, job.raw_rgb24, job.frames_fps);
  const Placement placement =
      plan_placement(job.picture.size(), job.crop_box, source.size(), job.params, job.limits, report.ignored);
  const FrameCompositor compositor(job.picture, placement);
  media::Mp4Options options = video_options(placement.output_size, fps, duration, job.output_audio.sample_rate);
  const int frames = static_cast<int>(std::lround(duration * fps));
  ResampledFrames resampled(source, fps, frames);

  media::PcmAudio audio = job.output_audio;
  double measure_share = 0;
  if (job.params.align_mouth) {
    const auto start = Clock::now();
    measure_share = 0.5;
    MouthAlignment alignment = measure_mouth_alignment(resampled, job.analysis_audio, fps, cancel,
                                                       [&](double f) { report_progress(f * measure_share); });
    resampled.rewind();
    if (alignment.applied) audio = shift_audio(std::move(audio), alignment.audio_shift_ms);
    report.align_mouth = alignment.to_json();
    report.stage_seconds["align"] = seconds_since(start);
    log::info("align_mouth", report.align_mouth);
  }

  const auto start = Clock::now();
  media::Mp4Writer writer(job.output, options, audio);  // removes its partial file unless finish()ed
  cv::Mat frame, out;
  double encode_s = 0;
  while (resampled.next(frame)) {
    cancel.throw_if_canceled();
    compositor.compose(frame, out);
    const auto encode_start = Clock::now();
    writer.write_frame(out);
    encode_s += seconds_since(encode_start);
    if (resampled.index() % 5 == 0)
      report_progress(measure_share + (1 - measure_share) * resampled.index() / std::max(1, frames));
  }
  const auto finish_start = Clock::now();
  writer.finish();
  encode_s += seconds_since(finish_start);
  report.stage_seconds["compose"] = seconds_since(start) - encode_s;
  report.stage_seconds["encode"] = encode_s;
  report.frames = writer.frame_count();
  report.size = placement.output_size;
  report_progress(1.0);
  return report;
}

}  // namespace sonic::engine::finish
