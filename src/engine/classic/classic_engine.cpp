// ClassicEngine::generate — the whole pipeline of the built-in engine, stage by stage:
// load (decode picture and sound) → detect (face and 68 landmarks) → analyse (speech
// features, mouth and motion tracks) → render (warp each frame and stream it to the MP4
// writer). The parts live next to this file: framing, mouth_track, motion_track, face_mesh,
// face_warper. Runs on the caller's thread and owns everything it creates; while rendering,
// one encoder thread of its own (joined before generate() returns or throws) feeds the
// frames to the MP4 writer, so rendering and encoding overlap.
#include "engine/classic/classic_engine.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
#include <opencv2/imgproc.hpp>

#include "audio/speech_features.h"
#include "engine/classic/face_warper.h"
#include "engine/framing.h"
#include "engine/classic/motion_track.h"
#include "engine/classic/mouth_track.h"
#include "face/landmarks.h"
#include "media/audio.h"
#include "media/image.h"
#include "media/mp4_writer.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where each frame's audio analysis window sits relative to the frame's own interval.
// align_mouth: calibrated with `score` so the rendered mouth opening peaks with the
// loudness (the mouth track's one-frame anticipation and its attack/release smoothing
// cancel out, so no extra shift is needed). Without align_mouth the engine behaves like a
// naive pipeline whose analysis windows are centred 40 ms late: the mouth moves 40 ms before
// the sound (one frame at 25 fps).
double mouth_analysis_offset_s(bool align_mouth) { return align_mouth ? 0.0 : 0.040; }

// x264 settings, measured on the 512 px benchmark clip (docs/engine.md): veryfast with
// subme 1 (quarter-pel search at its cheapest) takes about two thirds of plain veryfast's
// encoding CPU for a file ~6 % larger at the same crf; superfast is no faster once its
// mb-tree is turned back on, and without mb-tree its files are twice as large.
constexpr const char* kX264Preset = "veryfast";
constexpr const char* kX264Params = "subme=1";

// Rendered frames waiting for the encoder, at most: enough to ride out an uneven frame on
// either side, few enough that memory does not grow with the output size (3 × 3 MB at 1024).
constexpr int kFramesInFlight = 3;

// Frame buffers passed between the render thread and the encoder thread: the renderer takes
// a free buffer, draws into it and queues it; the encoder writes it and gives it back. The
// buffers are made once, so no frame is allocated per frame. close() ends both sides.
class FrameQueue {
 public:
  FrameQueue(int size, cv::Size frame_size) : buffers_(static_cast<size_t>(size)) {
    for (cv::Mat& m : buffers_) {
      m.create(frame_size, CV_8UC3);
      free_.push_back(&m);
    }
  }

  // Render thread. nullptr once closed.
  cv::Mat* next_free() { return pop(free_); }
  void push_filled(cv::Mat* frame) { push(filled_, frame); }
  // Encoder thread. nullptr once closed and drained: frames queued before close() are still
  // handed out, so a normal end loses nothing.
  cv::Mat* next_filled() { return pop(filled_, /*drain=*/true); }
  void give_back(cv::Mat* frame) { push(free_, frame); }

  void close() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }

 private:
  cv::Mat* pop(std::deque<cv::Mat*>& from, bool drain = false) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || !from.empty(); });
    if (from.empty() || (closed_ && !drain)) return nullptr;
    cv::Mat* frame = from.front();
    from.pop_front();
    return frame;
  }
  void push(std::deque<cv::Mat*>& to, cv::Mat* frame) {
    {
      const std::lock_guard lock(mutex_);
      to.push_back(frame);
    }
    changed_.notify_all();
  }

  std::vector<cv::Mat> buffers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<cv::Mat*> free_;    // guarded by mutex_
  std::deque<cv::Mat*> filled_;  // guarded by mutex_, in frame order
  bool closed_ = false;          // guarded by mutex_
};

// Closes the queue and joins the thread if it is still running (the render loop threw).
class ThreadJoiner {
 public:
  ThreadJoiner(std::thread& thread, FrameQueue& queue) : thread_(thread), queue_(queue) {}
  ~ThreadJoiner() {
    queue_.close();
    if (thread_.joinable()) thread_.join();
  }
  ThreadJoiner(const ThreadJoiner&) = delete;
  ThreadJoiner& operator=(const ThreadJoiner&) = delete;

 private:
  std::thread& thread_;
  FrameQueue& queue_;
};

}  // namespace

std::string ClassicEngine::version() const { return "1.0.0"; }

std::string ClassicEngine::description() const {
  return "Built-in CPU engine: dlib landmarks, audio-driven mouth, head motion and blinks, "
         "piecewise-affine face warp. No GPU, no downloads.";
}

EngineParameters ClassicEngine::parameters() const {
  EngineParameters p;
  p.ignored.push_back({"inference_steps", "classic has no denoising steps"});
  for (const std::string& name : parameter_names())
    if (name != "inference_steps") p.accepted.push_back(name);
  return p;
}

EngineResult ClassicEngine::generate(const JobInput& job, const ProgressCallback& progress,
                                     const CancelToken& cancel) {
  using namespace classic;
  const auto report = [&](const char* stage, double fraction) {
    if (progress) progress(stage, std::clamp(fraction, 0.0, 1.0));
  };
  EngineResult result;
  result.engine = name();
  result.engine_version = version();
  result.params = job.params;
  result.params.engine = name();  // resolved: an empty name meant "the default engine"
  const GenerationParams& params = job.params;

  // load
  auto stage_start = Clock::now();
  report("load", 0.0);
  const cv::Mat picture = media::decode_image(job.image, job.limits);
  // With a `duration`, only that much of the recording is decoded: a longer one is fine.
  media::PcmAudio analysis_audio = media::decode_audio(job.audio, 16000, job.limits, params.duration_s);
  const media::PcmAudio output_audio = media::decode_audio(job.audio, 48000, job.limits, params.duration_s);
  const double duration = params.duration_s.value_or(analysis_audio.duration_s());
  if (duration <= 0)
    throw Error(ErrorCode::unreadable_media, "The audio holds no sound samples. Upload a recording with speech in it.", "audio");
  analysis_audio = media::fit_to_duration(std::move(analysis_audio), duration);
  result.params.duration_s = duration;
  cancel.throw_if_canceled();
  result.stage_seconds["load"] = seconds_since(stage_start);
  report("load", 0.04);

  // detect
  stage_start = Clock::now();
  report("detect", 0.04);
  face::Landmarks landmarks;
  cv::Rect face_box;
  auto& landmarker = face::FaceLandmarker::shared();
  if (params.face_box) {
    const auto [x, y, w, h] = *params.face_box;
    face_box = cv::Rect(x, y, w, h);
    if ((face_box & cv::Rect(0, 0, picture.cols, picture.rows)).area() < face_box.area() / 2 || w < 8 || h < 8)
      throw Error(ErrorCode::invalid_param,
                  "face_box must lie inside the image (" + std::to_string(picture.cols) + "x" +
                      std::to_string(picture.rows) + " pixels) and be at least 8 pixels wide and high.",
                  "face_box");
    landmarks = landmarker.landmarks_in(picture, face_box);
  } else {
    const auto found = landmarker.detect(picture);
    if (!found)
      throw Error(ErrorCode::no_face,
                  "No face was found in the image. Use a clear, well-lit frontal photo, or pass "
                  "face_box [x,y,w,h] to mark the face.",
                  "image");
    landmarks = found->points;
    // The detector's box is tight (brows to chin); make sure every landmark is inside.
    face_box = found->box | cv::boundingRect(std::vector<cv::Point2f>(landmarks.begin(), landmarks.end()));
  }
  cancel.throw_if_canceled();
  result.stage_seconds["detect"] = seconds_since(stage_start);
  report("detect", 0.08);

  // analyse
  stage_start = Clock::now();
  report("analyse", 0.08);
  const int fps = params.fps;
  const int frame_count = static_cast<int>(std::lround(duration * fps));
  const auto mouth_features = audio::speech_features_per_frame(
      analysis_audio.samples, analysis_audio.sample_rate, fps, frame_count, mouth_analysis_offset_s(params.align_mouth));
  const auto motion_features = params.align_mouth
                                   ? mouth_features
                                   : audio::speech_features_per_frame(analysis_audio.samples, analysis_audio.sample_rate,
                                                                      fps, frame_count, 0.0);
  const auto mouth = mouth_track(mouth_features, {.fps = static_cast<double>(fps),
                                                  .dynamic_scale = params.dynamic_scale,
                                                  .smooth = params.smooth_motion});
  const auto motion = motion_track(motion_features, {.fps = static_cast<double>(fps),
                                                     .motion_scale = params.motion_scale,
                                                     .smooth = params.smooth_motion,
                                                     .seed = static_cast<std::uint64_t>(params.seed)});
  const Framing framing = plan_framing(picture.size(), face_box, params.expand_ratio, params.min_resolution, params.full_frame);
  FaceWarper warper(framed_picture(picture, framing), to_output(landmarks, framing), framing.warp_region);
  cancel.throw_if_canceled();
  result.stage_seconds["analyse"] = seconds_since(stage_start);
  report("analyse", 0.12);

  // render (+ encode on its own thread, timed separately)
  stage_start = Clock::now();
  media::Mp4Options options;
  options.width = framing.output_size.width;
  options.height = framing.output_size.height;
  options.fps = fps;
  options.duration_s = duration;
  options.preset = kX264Preset;
  options.x264_params = kX264Params;
  // Declared before the encoder thread so it outlives it; destroyed without finish() (error,
  // cancellation) it removes the partial file.
  media::Mp4Writer writer(job.output, options, output_audio);
  const int frames = writer.frame_count();
  double render_seconds = 0;
  double encode_seconds = 0;  // written by the encoder thread, read after join()
  {
    FrameQueue queue(kFramesInFlight, framing.output_size);
    // The encoder thread: owns the writer's encoding (colour conversion, x264, AAC, muxing)
    // until join(). It takes rendered frames from `queue` in order and hands the buffers back.
    std::exception_ptr encoder_error;
    std::thread encoder([&] {
      try {
        while (cv::Mat* frame = queue.next_filled()) {
          const auto encode_start = Clock::now();
          writer.write_frame(*frame);
          encode_seconds += seconds_since(encode_start);
          queue.give_back(frame);
        }
      } catch (...) {
        encoder_error = std::current_exception();
        queue.close();  // wakes the renderer, which then stops
      }
    });
    // Joins the encoder on every way out of this block, exceptions included, before
    // `writer` can be destroyed.
    const ThreadJoiner joiner(encoder, queue);
    for (int i = 0; i < frames; ++i) {
      cancel.throw_if_canceled();
      cv::Mat* frame = queue.next_free();
      if (!frame) break;  // the encoder failed; its error is rethrown below
      const auto render_start = Clock::now();
      const size_t k = static_cast<size_t>(std::min(i, frame_count - 1));
      warper.render(frame_count > 0 ? mouth[k] : MouthControls{}, frame_count > 0 ? motion[k] : MotionFrame{}, *frame);
      render_seconds += seconds_since(render_start);
      queue.push_filled(frame);
      report("render", 0.12 + 0.87 * (i + 1) / std::max(1, frames));
    }
    queue.close();
    encoder.join();
    if (encoder_error) std::rethrow_exception(encoder_error);
  }
  const auto finish_start = Clock::now();
  writer.finish();
  encode_seconds += seconds_since(finish_start);
  // The two overlap: together they can exceed the stage's wall time.
  result.stage_seconds["render"] = render_seconds;
  result.stage_seconds["encode"] = encode_seconds;
  report("render", 1.0);

  result.output_path = writer.output_path();
  result.frames = frames;
  result.width = options.width;
  result.height = options.height;
  result.fps = fps;
  result.duration_s = duration;
  result.ignored = parameters().ignored;
  if (params.full_frame)
    result.ignored.push_back({"min_resolution", "full_frame keeps the original picture size"});
  log::info("classic engine finished", {{"frames", frames}, {"width", options.width}, {"height", options.height},
                                         {"render_s", result.stage_seconds["render"]}, {"encode_s", encode_seconds}});
  return result;
}

}  // namespace sonic::engine
