// How long a new job would take from submit to video, from what this server has seen: the
// run times of its recent jobs against their video length, and the jobs now ahead of it.
// The web page shows it before Generate (issue 16), so a person knows whether to wait.
//
// Run time grows with the video's length (frames to warp and encode), so the recent runs are
// fitted as run ≈ fixed + per_second × seconds of video (least squares over the last few
// runs; a plain ratio while they are too few or too alike to fit a line). The wait in line is
// a small simulation: the running jobs finish their remaining share, then the queued jobs,
// each of the recent mean length, go to whichever worker frees first; the new job starts
// when the next worker is free after that. It is an estimate, not a promise: the fair queue
// may put a new client ahead of a busy one, and a cache hit is instant.
//
// Threads: RecentRuns is observed from worker threads and read from HTTP threads (locked);
// estimate_wait() is a pure function.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace sonic::jobs {

// run_seconds ≈ fixed_s + per_video_second × video seconds, from `samples` recent runs.
struct RunTimeFit {
  std::size_t samples = 0;  // 0 = nothing seen yet: no estimate
  double fixed_s = 0;
  double per_video_second = 0;
  double mean_run_s = 0;    // mean of the recent runs (a queued job of unknown length)

  double run_seconds(double video_seconds) const { return fixed_s + per_video_second * video_seconds; }
};

class RecentRuns {
 public:
  explicit RecentRuns(std::size_t capacity = 20) : capacity_(capacity) {}
  // A finished run: wall time and the length of the video it made. Ignores non-positive values.
  void observe(double run_seconds, double video_seconds);
  RunTimeFit fit() const;

 private:
  struct Run {
    double run_s, video_s;
  };
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<Run> runs_;  // newest at the back
};

struct WaitEstimate {
  RunTimeFit fit;
  int queued = 0;
  int running = 0;
  int workers = 1;
  std::optional<double> queue_seconds;  // until a worker is free for a new job; none without a fit

  // {"samples","run_seconds_fixed","run_seconds_per_audio_second","queue_seconds","queued",
  //  "running","workers"}; the three figures are null while samples == 0.
  nlohmann::json to_json() const;
};

// `running_progress`: the progress (0–1) of each running job.
WaitEstimate estimate_wait(const RunTimeFit& fit, const std::vector<double>& running_progress, int queued,
                           int workers);

}  // namespace sonic::jobs
