// ClassicEngine::generate — the whole pipeline of the built-in engine, stage by stage:
// load (decode picture and sound) → detect (face and 68 landmarks) → analyse (speech
// features, mouth and motion tracks) → render (warp each frame and stream it to the MP4
// writer). The parts live next to this file: animation (the face that speaks; the tracks,
// framing and warper that render frame i), mouth_track, motion_track, face_mesh,
// face_warper, mouth_interior; and engine/framing. Runs on the caller's thread and owns
// everything it creates; while rendering, one encoder thread of its own (joined before
// generate() returns or throws) feeds the frames to the MP4 writer, so rendering and
// encoding overlap.
#include "engine/classic/classic_engine.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/classic/animation.h"
#include "engine/finish/video_finisher.h"
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

// Rendered frames waiting for the encoder, at most: enough to ride out an uneven frame on
// either side (x264's frame threads take frames in bursts; 6 rather than 3 was 1-4 % faster
// in alternating engine_bench runs), few enough that memory stays small (6 × 3 MB at 1024).
constexpr int kFramesInFlight = 6;

// Frame buffers passed between the render thread and the encoder thread: the renderer takes
// a free buffer, draws into it and queues it; the encoder writes it and gives it back. The
// buffers are made once, so no frame is allocated per frame. close() ends both sides.
class FrameQueue {
 public:
  FrameQueue(int size, cv::Size frame_size) : buffers_(static_cast<size_t>(size)) {
    for (cv::Mat& buffer : buffers_) {
      buffer.create(frame_size, CV_8UC3);
      free_.push_back(&buffer);
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

  // load: the picture on a helper thread while this one opens and decodes the sound (each
  // takes about as long: probing a recording costs milliseconds per open).
  auto stage_start = Clock::now();
  report("load", 0.0);
  std::future<cv::Mat> decoded_picture =
      std::async(std::launch::async, [&] { return media::decode_image(job.image, job.limits); });
  media::PcmAudio analysis_audio;
  std::optional<media::AudioStream> output_audio;
  try {
    // With a `duration`, only that much of the recording is decoded: a longer one is fine.
    analysis_audio = media::decode_audio(job.audio, 16000, job.limits, params.duration_s);
    // The output track is pulled by the MP4 writer as it goes, never all in memory: peak
    // memory does not grow with the clip's length (a 300 s track at 48 kHz would be 58 MB of
    // floats). At the recording's own rate: the writer keeps it where AAC stores it well
    // (media::aac_track_rate).
    output_audio.emplace(job.audio, media::kRecordingRate, job.limits, params.duration_s);
  } catch (...) {
    decoded_picture.get();  // a bad picture is reported first, as it always was
    throw;
  }
  const cv::Mat picture = decoded_picture.get();
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
  const JobFace face = face_for_job(picture, job.image, params);
  cancel.throw_if_canceled();
  result.stage_seconds["detect"] = seconds_since(stage_start);
  report("detect", 0.08);

  // analyse
  stage_start = Clock::now();
  report("analyse", 0.08);
  Animation animation(picture, face, params, job.limits, analysis_audio, duration);
  analysis_audio = {};  // analysed: its memory is not needed while rendering
  const Framing& framing = animation.framing();
  const int fps = params.fps;
  cancel.throw_if_canceled();
  result.stage_seconds["analyse"] = seconds_since(stage_start);
  report("analyse", 0.12);

  // render (+ encode on its own thread, timed separately)
  stage_start = Clock::now();
  // The same encoder settings as every engine's finished video (engine/finish).
  media::Mp4Options options = finish::video_options(framing.output_size, fps, duration, output_audio->sample_rate());
  // Declared before the encoder thread so it outlives it; destroyed without finish() (error,
  // cancellation) it removes the partial file.
  media::Mp4Writer writer(job.output, options, *output_audio);
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
      animation.render(i, *frame);
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
  result.ignored.insert(result.ignored.end(), framing.notes.begin(), framing.notes.end());
  log::info("classic engine finished", {{"frames", frames}, {"width", options.width}, {"height", options.height},
                                         {"render_s", result.stage_seconds["render"]}, {"encode_s", encode_seconds}});
  return result;
}

}  // namespace sonic::engine
