// app/cmd_score.cpp — `sonic-server score VIDEO [--audio A] [--json]`: the lip-sync, blink
// and head-motion measurements of quality::score_video for any talking-head video, as a
// short readable summary or (with --json) the report object. Failures print the error code
// and message and exit with status 2, so scripts can tell "bad input" from "bad score".
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "app/commands.h"
#include "quality/score.h"
#include "util/error.h"

namespace sonic::app {
namespace {

struct ScoreArguments {
  std::string video;
  std::string audio;
  bool json = false;
};

constexpr int kFailureExit = 2;
constexpr double kStillMouth = 0.01;  // mouth_opening_std below this: no real movement

std::string optional_number(const std::optional<double>& v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : std::string("n/a");
}

void print_summary(const std::string& video, const quality::ScoreReport& r) {
  std::cout << fmt::format("video     {}: {} frames, {:.2f} fps, {:.2f} s, {}x{}\n", video,
                           r.frames, r.fps, r.duration_s, r.width, r.height);
  std::cout << fmt::format("face      found in {}/{} frames ({:.1f}%), mean width {:.0f} px\n",
                           r.face_frames, r.frames, 100.0 * r.detection_rate, r.face_width_px);
  if (!r.has_audio) {
    std::cout << "lip sync  n/a (no audio track; pass --audio)\n";
  } else {
    std::string lag = "n/a";
    if (r.best_lag_ms) {
      const char* direction = *r.best_lag_ms > 0   ? " (mouth after sound)"
                              : *r.best_lag_ms < 0 ? " (mouth before sound)"
                                                   : "";
      lag = fmt::format("{:+.0f} ms{}, correlation {}", *r.best_lag_ms, direction,
                        optional_number(r.best_lag_correlation, "{:.2f}"));
    }
    std::cout << fmt::format("lip sync  correlation {} (mouth opening vs loudness); best lag {}\n",
                             optional_number(r.correlation, "{:.2f}"), lag);
    if (r.face_frames > 0 && r.mouth_opening_std < kStillMouth) {
      std::cout << fmt::format(
          "          (the mouth barely moves: opening varies by {:.3f}; these correlations are "
          "noise)\n",
          r.mouth_opening_std);
    }
    std::cout << fmt::format(
        "mouth     opening {} in silence ({} frames), {} in speech ({} frames); silence < {:.0f} "
        "dBFS\n",
        optional_number(r.mouth_opening_silence, "{:.3f}"), r.silence_frames,
        optional_number(r.mouth_opening_speech, "{:.3f}"), r.speech_frames,
        r.silence_threshold_dbfs);
  }
  std::cout << fmt::format("blinks    {} ({:.1f} per minute)\n", r.blink_count,
                           r.blink_rate_per_min);
  std::cout << fmt::format(
      "head      motion {:.2f} px ({:.1f}% of face width), jerk {:.3f} px/frame² ({:.2f}%)\n",
      r.head_motion_px, 100.0 * r.head_motion_rel, r.head_jerk_px, 100.0 * r.head_jerk_rel);
  std::cout << fmt::format("time      {:.2f} s (loading the landmark model included)\n",
                           r.elapsed_s);
}

void fail(const ScoreArguments& args, std::string_view code, const std::string& message,
          const std::string& field) {
  std::cerr << fmt::format("error [{}]: {}\n", code, message);
  if (args.json) {
    nlohmann::json body = {{"success", false}, {"code", code}, {"error", message}};
    if (!field.empty()) body["field"] = field;
    std::cout << body.dump(2) << "\n";
  }
  throw CLI::RuntimeError(kFailureExit);
}

void run_score(const ScoreArguments& args) {
  try {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(args.video, ec)) {
      throw Error(ErrorCode::missing_file, "no video file at " + args.video, "video");
    }
    std::optional<fs::path> audio;
    if (!args.audio.empty()) {
      if (!fs::is_regular_file(args.audio, ec)) {
        throw Error(ErrorCode::missing_file, "no audio file at " + args.audio, "audio");
      }
      audio = args.audio;
    }
    const quality::ScoreReport report = quality::score_video(args.video, audio);
    if (args.json) {
      std::cout << report.to_json().dump(2) << "\n";
    } else {
      print_summary(args.video, report);
    }
  } catch (const Error& e) {
    fail(args, e.code_name(), e.message(), e.field());
  } catch (const std::exception& e) {
    fail(args, code_name(ErrorCode::internal), e.what(), {});
  }
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto args = std::make_shared<ScoreArguments>();
  CLI::App* cmd = app.add_subcommand(
      "score",
      "Measure lip sync (mouth opening vs. loudness, best audio-to-mouth lag), blinks and head "
      "motion of a talking-head video");
  cmd->add_option("video", args->video, "the video to measure (any common format)")->required();
  cmd->add_option("--audio", args->audio,
                  "measure against this audio file instead of the video's own track");
  cmd->add_flag("--json", args->json, "print the report as JSON");
  cmd->callback([args] { run_score(*args); });
}

}  // namespace sonic::app
