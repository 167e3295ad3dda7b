// quality/score.cpp — `sonic-server score`: landmarks on every frame of a video, then lip
// sync, blink and head-motion statistics (docs/score.md says what each number means).
//
// Speed: HOG detection costs ~100× a landmark fit, so faces are detected on the first
// frame and then tracked: each frame's landmarks are fitted in a box derived from the
// previous frame's landmarks (the box-to-landmarks geometry of the last detection is kept,
// so the box does not drift). A detection confirms the track every `redetect_every` frames,
// and at once when the tracked face jumps implausibly far; it first looks only near the
// tracked face (cheap) and then in the whole frame. A shape predictor always returns 68
// points, even on a wall, so a cut is noticed by the picture under the box changing
// wholesale, and anything slower by the periodic detections.
// Threads: decoding runs one thread ahead (DecodeAhead); everything else on the caller's.
#include "quality/score.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <stop_token>
#include <thread>

#include "audio/loudness.h"
#include "face/landmarks.h"
#include "media/audio.h"
#include "media/video_reader.h"
#include "util/error.h"

namespace sonic::quality {
namespace {

constexpr double kConstantSeries = 1e-9;         // std-dev under this: correlation undefined
constexpr double kCutMeanDifference = 20.0;      // grey levels, see FaceTracker::same_picture
constexpr int kWholeFrameThumbnail = 64;         // px, for "is this still the same picture"
constexpr double kUnchangedMaxDifference = 6.0;  // grey levels: the same picture, re-encoded

FrameMeasure measure(const face::Landmarks& points, const cv::Rect& box, bool detected) {
  FrameMeasure m;
  m.face = true;
  m.detected = detected;
  m.box = box;
  m.mouth_opening = face::mouth_opening(points);
  m.eye_aspect_ratio = face::eye_aspect_ratio(points);
  // Points that move with the head but not with the mouth or the eyelids (the nose tip
  // follows the upper lip a little, so only the bridge).
  cv::Point2f head(0, 0);
  for (int i : {27, 28, 29, 36, 39, 42, 45}) head += points[static_cast<std::size_t>(i)];
  m.head = head * (1.0f / 7.0f);
  m.face_width = cv::norm(points[16] - points[0]);
  return m;
}

cv::Rect2f landmark_bounds(const face::Landmarks& points) {
  float x0 = points[0].x, x1 = x0, y0 = points[0].y, y1 = y0;
  for (const auto& p : points) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  return {x0, y0, std::max(1.0f, x1 - x0), std::max(1.0f, y1 - y0)};
}

// Detection first, tracking after: see the top-of-file comment.
class FaceTracker {
 public:
  FaceTracker(const face::FaceLandmarker& landmarker, int redetect_every)
      : landmarker_(landmarker), redetect_every_(std::max(1, redetect_every)) {}

  FrameMeasure next(const cv::Mat& frame) {
    const cv::Mat before = std::move(thumbnail_);
    if (box_) thumbnail_ = thumbnail(frame, *box_);
    if (box_ && frames_since_detection_ + 1 < redetect_every_ && same_picture(before, thumbnail_)) {
      const face::Landmarks points = landmarker_.landmarks_in(frame, *box_);
      FrameMeasure m = measure(points, *box_, false);
      if (plausible_step(m)) {
        ++frames_since_detection_;
        follow(points);
        previous_ = m;
        return m;
      }
    }
    FrameMeasure m = detect(frame);
    thumbnail_ = box_ ? thumbnail(frame, *box_) : cv::Mat();
    return m;
  }

 private:
  FrameMeasure detect(const cv::Mat& frame) {
    // Without a face, an unchanged picture (a still wall, a title card) has none either:
    // skip the full-frame search until the picture changes or the periodic check is due.
    // "Unchanged" is strict (no 1/64th of the picture changes by more than a few grey
    // levels), so a blink or a moving mouth the detector missed is searched again at once.
    cv::Mat whole_frame;
    if (!box_) {
      whole_frame = thumbnail(frame, cv::Rect(0, 0, frame.cols, frame.rows), kWholeFrameThumbnail);
      if (frames_since_miss_ + 1 < redetect_every_ && !missed_thumbnail_.empty() &&
          cv::norm(whole_frame, missed_thumbnail_, cv::NORM_INF) < kUnchangedMaxDifference) {
        ++frames_since_miss_;
        return {};
      }
    }
    std::optional<face::DetectedFace> found;
    if (box_) found = landmarker_.detect_near(frame, *box_);
    if (!found) found = landmarker_.detect(frame);
    frames_since_detection_ = 0;
    if (!found) {
      box_.reset();
      previous_.reset();
      missed_thumbnail_ =
          whole_frame.empty()
              ? thumbnail(frame, cv::Rect(0, 0, frame.cols, frame.rows), kWholeFrameThumbnail)
              : whole_frame;
      frames_since_miss_ = 0;
      return {};
    }
    missed_thumbnail_.release();
    // Remember where dlib's box sits relative to the landmarks, to place later boxes.
    const cv::Rect2f bounds = landmark_bounds(found->points);
    const cv::Point2f box_centre(found->box.x + found->box.width / 2.0f,
                                 found->box.y + found->box.height / 2.0f);
    const cv::Point2f bounds_centre(bounds.x + bounds.width / 2, bounds.y + bounds.height / 2);
    box_from_bounds_ = {(box_centre.x - bounds_centre.x) / bounds.width,
                        (box_centre.y - bounds_centre.y) / bounds.width,
                        found->box.width / bounds.width, found->box.height / bounds.width};
    box_ = found->box;
    FrameMeasure m = measure(found->points, found->box, true);
    previous_ = m;
    follow(found->points);
    return m;
  }

  // The box for the next frame, from this frame's landmarks.
  void follow(const face::Landmarks& points) {
    const cv::Rect2f b = landmark_bounds(points);
    const float cx = b.x + b.width / 2 + box_from_bounds_[0] * b.width;
    const float cy = b.y + b.height / 2 + box_from_bounds_[1] * b.width;
    const float w = box_from_bounds_[2] * b.width;
    const float h = box_from_bounds_[3] * b.width;
    box_ = cv::Rect(static_cast<int>(std::lround(cx - w / 2)),
                    static_cast<int>(std::lround(cy - h / 2)),
                    std::max(1, static_cast<int>(std::lround(w))),
                    std::max(1, static_cast<int>(std::lround(h))));
  }

  // A small grey copy of the box, to notice cuts: the predictor would happily fit a face
  // into a wall, but the picture under the box changing wholesale gives it away.
  static cv::Mat thumbnail(const cv::Mat& frame, const cv::Rect& box, int size = 24) {
    const cv::Rect inside = box & cv::Rect(0, 0, frame.cols, frame.rows);
    if (inside.width < 4 || inside.height < 4) return {};
    cv::Mat small, grey;
    cv::resize(frame(inside), small, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    if (small.channels() == 3) {
      cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
    } else {
      grey = small;
    }
    grey.convertTo(grey, CV_32F);
    return grey;
  }

  // Talking, blinking and small head motion change a 24×24 face thumbnail by a few grey
  // levels on average; a cut or the face leaving changes it by tens.
  static bool same_picture(const cv::Mat& a, const cv::Mat& b) {
    if (a.empty() || b.empty() || a.size() != b.size() || a.type() != b.type()) return false;
    return cv::mean(cv::abs(a - b))[0] < kCutMeanDifference;
  }

  // A real head does not move a quarter of its width, or change size by a third, in a frame.
  bool plausible_step(const FrameMeasure& m) const {
    if (!previous_) return false;
    const double width = previous_->face_width;
    if (!(width > 4) || !(m.face_width > 0)) return false;
    const double ratio = m.face_width / width;
    return cv::norm(m.head - previous_->head) < 0.25 * width && ratio > 0.75 && ratio < 1.33;
  }

  const face::FaceLandmarker& landmarker_;
  const int redetect_every_;
  std::optional<cv::Rect> box_;
  std::optional<FrameMeasure> previous_;
  std::array<float, 4> box_from_bounds_{0, 0, 1, 1};
  int frames_since_detection_ = 0;
  cv::Mat thumbnail_;         // of the box the current landmarks were fitted in
  cv::Mat missed_thumbnail_;  // of the whole frame where the last search found no face
  int frames_since_miss_ = 0;
};

// Decodes on its own thread, a few frames ahead of the landmark fitting on the caller's
// (decoding is a third of the work; two cores overlap it). After construction the decoding
// thread is the only one that touches `reader`; frames and the first error pass through a
// small bounded queue. Destroying the pipeline stops and joins the thread.
class DecodeAhead {
 public:
  explicit DecodeAhead(media::VideoReader& reader)
      : reader_(reader), thread_([this](std::stop_token stop) { produce(stop); }) {}

  // The next frame; false at the end. Rethrows what the decoder threw, after the frames
  // decoded before it.
  bool next(cv::Mat& frame) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      frame = std::move(queue_.front());
      queue_.pop_front();
      space_.notify_one();
      return true;
    }
    if (error_) std::rethrow_exception(error_);
    return false;
  }

 private:
  static constexpr std::size_t kAhead = 6;

  void produce(const std::stop_token& stop) {
    try {
      for (;;) {
        cv::Mat frame;
        if (!reader_.read(frame)) break;
        std::unique_lock lock(mutex_);
        if (!space_.wait(lock, stop, [this] { return queue_.size() < kAhead; })) return;
        queue_.push_back(std::move(frame));
        ready_.notify_one();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    done_ = true;
    ready_.notify_one();
  }

  media::VideoReader& reader_;
  std::mutex mutex_;
  std::condition_variable_any ready_, space_;
  std::deque<cv::Mat> queue_;  // guarded by mutex_
  std::exception_ptr error_;   // guarded by mutex_
  bool done_ = false;          // guarded by mutex_
  std::jthread thread_;        // last: starts after, and joins before, everything above
};

std::optional<double> pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n < 3 || y.size() != n) return std::nullopt;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  const double sd_x = std::sqrt(sxx / static_cast<double>(n));
  const double sd_y = std::sqrt(syy / static_cast<double>(n));
  if (sd_x < kConstantSeries || sd_y < kConstantSeries) return std::nullopt;
  const double r = sxy / std::sqrt(sxx * syy);
  return std::isfinite(r) ? std::optional<double>(std::clamp(r, -1.0, 1.0)) : std::nullopt;
}

// Correlation of mouth frame i with loudness frame i - lag, over face frames.
std::optional<double> lagged_correlation(const std::vector<FrameMeasure>& frames,
                                         const std::vector<double>& loudness, long lag) {
  std::vector<double> mouth, sound;
  const long n = static_cast<long>(frames.size());
  for (long i = std::max(0L, lag); i < n && i - lag < n; ++i) {
    if (!frames[static_cast<std::size_t>(i)].face) continue;
    mouth.push_back(frames[static_cast<std::size_t>(i)].mouth_opening);
    sound.push_back(loudness[static_cast<std::size_t>(i - lag)]);
  }
  return pearson(mouth, sound);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  return *mid;
}

}  // namespace

ScoreReport score_frames(std::vector<FrameMeasure> frames, double fps,
                         std::vector<double> loudness_dbfs, const ScoreOptions& options) {
  if (!(fps > 0) || !std::isfinite(fps)) {
    throw Error(ErrorCode::unreadable_media, "the video states no usable frame rate");
  }
  ScoreReport r;
  r.frames = static_cast<long long>(frames.size());
  r.fps = fps;
  r.duration_s = static_cast<double>(r.frames) / fps;

  // Face.
  double width_sum = 0, mouth_sum = 0, mouth_square_sum = 0;
  for (const auto& f : frames) {
    if (!f.face) continue;
    ++r.face_frames;
    width_sum += f.face_width;
    mouth_sum += f.mouth_opening;
    mouth_square_sum += f.mouth_opening * f.mouth_opening;
  }
  if (r.face_frames > 0) {
    const double n = static_cast<double>(r.face_frames);
    r.mouth_opening_std =
        std::sqrt(std::max(0.0, mouth_square_sum / n - (mouth_sum / n) * (mouth_sum / n)));
  }
  r.detection_rate =
      r.frames > 0 ? static_cast<double>(r.face_frames) / static_cast<double>(r.frames) : 0;
  r.face_width_px = r.face_frames > 0 ? width_sum / static_cast<double>(r.face_frames) : 0;

  // Audio: one clamped value per frame; past the end of the sound is silence.
  r.has_audio = !loudness_dbfs.empty();
  if (r.has_audio) {
    loudness_dbfs.resize(frames.size(), options.loudness_floor_dbfs);
    for (double& l : loudness_dbfs) l = std::clamp(l, options.loudness_floor_dbfs, 0.0);
    r.loudness_dbfs = std::move(loudness_dbfs);
  }
  const std::vector<double>& loudness = r.loudness_dbfs;

  if (r.has_audio && r.frames > 0) {
    r.correlation = lagged_correlation(frames, loudness, 0);
    const long max_lag = static_cast<long>(std::floor(options.max_lag_ms * fps / 1000.0 + 1e-9));
    for (long lag = 0; lag <= max_lag; ++lag) {
      // Smaller |lag| first, so a tie goes to the lag nearer to zero.
      for (long signed_lag : {lag, -lag}) {
        if (lag == 0 && signed_lag != 0) continue;
        const auto c = lagged_correlation(frames, loudness, signed_lag);
        if (c && (!r.best_lag_correlation || *c > *r.best_lag_correlation)) {
          r.best_lag_correlation = c;
          r.best_lag_ms = static_cast<double>(signed_lag) * 1000.0 / fps;
        }
      }
    }

    const double peak = *std::max_element(loudness.begin(), loudness.end());
    r.silence_threshold_dbfs = std::max(options.silence_dbfs, peak - options.silence_below_peak_db);
    double silent_sum = 0, speech_sum = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (!frames[i].face) continue;
      if (loudness[i] < r.silence_threshold_dbfs) {
        ++r.silence_frames;
        silent_sum += frames[i].mouth_opening;
      } else {
        ++r.speech_frames;
        speech_sum += frames[i].mouth_opening;
      }
    }
    if (r.silence_frames > 0)
      r.mouth_opening_silence = silent_sum / static_cast<double>(r.silence_frames);
    if (r.speech_frames > 0)
      r.mouth_opening_speech = speech_sum / static_cast<double>(r.speech_frames);
  }

  // Blinks: runs of face frames under the adaptive threshold. Faceless frames are skipped,
  // neither ending nor starting a run (closed eyes can make a detector drop a frame).
  std::vector<double> ears;
  for (const auto& f : frames) {
    if (f.face) ears.push_back(f.eye_aspect_ratio);
  }
  r.eye_aspect_ratio_median = median(ears);
  const double blink_below = options.blink_threshold * r.eye_aspect_ratio_median;
  bool closed = false;
  for (const auto& f : frames) {
    if (!f.face) continue;
    const bool now_closed = f.eye_aspect_ratio < blink_below;
    if (now_closed && !closed) ++r.blink_count;
    closed = now_closed;
  }
  r.blink_rate_per_min = r.duration_s > 0 ? r.blink_count * 60.0 / r.duration_s : 0;

  // Head motion.
  if (r.face_frames > 0) {
    cv::Point2d mean(0, 0);
    for (const auto& f : frames) {
      if (f.face) mean += cv::Point2d(f.head);
    }
    mean *= 1.0 / static_cast<double>(r.face_frames);
    double spread = 0;
    for (const auto& f : frames) {
      if (f.face) spread += std::pow(cv::norm(cv::Point2d(f.head) - mean), 2);
    }
    r.head_motion_px = std::sqrt(spread / static_cast<double>(r.face_frames));

    double jerk_sum = 0;
    long long jerk_count = 0;
    for (std::size_t i = 1; i + 1 < frames.size(); ++i) {
      if (!frames[i - 1].face || !frames[i].face || !frames[i + 1].face) continue;
      jerk_sum += cv::norm(cv::Point2d(frames[i + 1].head) - 2.0 * cv::Point2d(frames[i].head) +
                           cv::Point2d(frames[i - 1].head));
      ++jerk_count;
    }
    r.head_jerk_px = jerk_count > 0 ? jerk_sum / static_cast<double>(jerk_count) : 0;
    if (r.face_width_px > 0) {
      r.head_motion_rel = r.head_motion_px / r.face_width_px;
      r.head_jerk_rel = r.head_jerk_px / r.face_width_px;
    }
  }

  r.per_frame = std::move(frames);
  return r;
}

ScoreReport score_video(const std::filesystem::path& video,
                        const std::optional<std::filesystem::path>& audio,
                        const ScoreOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  media::VideoReader reader(video);
  const media::VideoInfo info = reader.info();
  if (!(info.fps > 0) || !std::isfinite(info.fps)) {
    throw Error(
        ErrorCode::unreadable_media,
        video.filename().string() + " states no frame rate; cannot line frames up with sound");
  }

  const face::FaceLandmarker& landmarker = face::FaceLandmarker::shared();
  FaceTracker tracker(landmarker, options.redetect_every);
  std::vector<FrameMeasure> frames;
  if (info.frame_count > 0) frames.reserve(static_cast<std::size_t>(info.frame_count));
  {
    DecodeAhead decoded(reader);
    cv::Mat frame;
    while (decoded.next(frame)) frames.push_back(tracker.next(frame));
  }
  if (frames.empty()) {
    throw Error(ErrorCode::unreadable_media, video.filename().string() + " has no video frames");
  }

  std::vector<double> loudness;
  double audio_duration = 0;
  if (audio || info.has_audio) {
    const media::PcmAudio pcm =
        media::decode_audio(audio ? *audio : video, options.analysis_sample_rate, options.limits);
    audio_duration = pcm.duration_s();
    loudness = audio::loudness_dbfs_per_frame(pcm.samples, pcm.sample_rate, info.fps);
    // Silent or empty audio still counts as audio: keep one floor value per frame.
    if (loudness.empty()) loudness.assign(frames.size(), options.loudness_floor_dbfs);
  }

  ScoreReport report = score_frames(std::move(frames), info.fps, std::move(loudness), options);
  report.audio_duration_s = audio_duration;
  report.width = info.width;
  report.height = info.height;
  report.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

struct FrameMeasurer::Impl {
  explicit Impl(const ScoreOptions& options)
      : tracker(face::FaceLandmarker::shared(), options.redetect_every) {}
  FaceTracker tracker;
};

FrameMeasurer::FrameMeasurer(const ScoreOptions& options) : impl_(std::make_unique<Impl>(options)) {}
FrameMeasurer::~FrameMeasurer() = default;
FrameMeasure FrameMeasurer::next(const cv::Mat& bgr) { return impl_->tracker.next(bgr); }

nlohmann::json ScoreReport::to_json() const {
  const auto value = [](const std::optional<double>& v) -> nlohmann::json {
    if (v && std::isfinite(*v)) return *v;
    return nullptr;
  };
  const auto finite = [](double v) -> nlohmann::json {
    if (std::isfinite(v)) return v;
    return nullptr;
  };
  return {
      {"frames", frames},
      {"fps", finite(fps)},
      {"duration_s", finite(duration_s)},
      {"width", width},
      {"height", height},
      {"face_frames", face_frames},
      {"detection_rate", finite(detection_rate)},
      {"face_width_px", finite(face_width_px)},
      {"has_audio", has_audio},
      {"audio_duration_s", finite(audio_duration_s)},
      {"correlation", value(correlation)},
      {"best_lag_ms", value(best_lag_ms)},
      {"best_lag_correlation", value(best_lag_correlation)},
      {"mouth_opening_std", finite(mouth_opening_std)},
      {"silence_frames", silence_frames},
      {"speech_frames", speech_frames},
      {"mouth_opening_silence", value(mouth_opening_silence)},
      {"mouth_opening_speech", value(mouth_opening_speech)},
      {"silence_threshold_dbfs",
       has_audio ? finite(silence_threshold_dbfs) : nlohmann::json(nullptr)},
      {"blink_count", blink_count},
      {"blink_rate_per_min", finite(blink_rate_per_min)},
      {"eye_aspect_ratio_median", finite(eye_aspect_ratio_median)},
      {"head_motion_px", finite(head_motion_px)},
      {"head_motion_rel", finite(head_motion_rel)},
      {"head_jerk_px", finite(head_jerk_px)},
      {"head_jerk_rel", finite(head_jerk_rel)},
      {"elapsed_s", finite(elapsed_s)},
  };
}

}  // namespace sonic::quality
