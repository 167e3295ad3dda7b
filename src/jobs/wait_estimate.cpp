// The fit and the queue simulation of wait_estimate.h.
#include "jobs/wait_estimate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

namespace sonic::jobs {

void RecentRuns::observe(double run_seconds, double video_seconds) {
  if (!(run_seconds > 0) || !(video_seconds > 0) || !std::isfinite(run_seconds) || !std::isfinite(video_seconds))
    return;
  std::lock_guard lock(mutex_);
  runs_.push_back({run_seconds, video_seconds});
  while (runs_.size() > capacity_) runs_.pop_front();
}

RunTimeFit RecentRuns::fit() const {
  std::lock_guard lock(mutex_);
  RunTimeFit fit;
  fit.samples = runs_.size();
  if (runs_.empty()) return fit;
  double n = static_cast<double>(runs_.size());
  double sum_v = 0, sum_r = 0;
  for (const Run& r : runs_) {
    sum_v += r.video_s;
    sum_r += r.run_s;
  }
  double mean_v = sum_v / n, mean_r = sum_r / n;
  fit.mean_run_s = mean_r;
  double var_v = 0, cov = 0;
  for (const Run& r : runs_) {
    var_v += (r.video_s - mean_v) * (r.video_s - mean_v);
    cov += (r.video_s - mean_v) * (r.run_s - mean_r);
  }
  // A line needs lengths that differ by more than a second or so; otherwise (or when the
  // line says longer videos are faster, or start below zero) time is taken as proportional.
  if (runs_.size() >= 3 && var_v / n > 1.0) {
    double slope = cov / var_v;
    double intercept = mean_r - slope * mean_v;
    if (slope > 0 && intercept >= 0) {
      fit.per_video_second = slope;
      fit.fixed_s = intercept;
      return fit;
    }
  }
  fit.per_video_second = sum_r / sum_v;
  fit.fixed_s = 0;
  return fit;
}

WaitEstimate estimate_wait(const RunTimeFit& fit, const std::vector<double>& running_progress, int queued,
                           int workers) {
  WaitEstimate e;
  e.fit = fit;
  e.queued = std::max(queued, 0);
  e.running = static_cast<int>(running_progress.size());
  e.workers = std::max(workers, 1);
  if (fit.samples == 0) return e;
  // Times at which each worker is next free, earliest first.
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at;
  for (int i = 0; i < e.workers; ++i) free_at.push(0.0);
  for (double progress : running_progress) {
    double t = free_at.top();
    free_at.pop();
    free_at.push(t + fit.mean_run_s * (1.0 - std::clamp(progress, 0.0, 1.0)));
  }
  for (int i = 0; i < e.queued; ++i) {
    double t = free_at.top();
    free_at.pop();
    free_at.push(t + fit.mean_run_s);
  }
  e.queue_seconds = free_at.top();
  return e;
}

nlohmann::json WaitEstimate::to_json() const {
  using nlohmann::json;
  bool known = fit.samples > 0;
  return {{"samples", fit.samples},
          {"run_seconds_fixed", known ? json(fit.fixed_s) : json(nullptr)},
          {"run_seconds_per_audio_second", known ? json(fit.per_video_second) : json(nullptr)},
          {"queue_seconds", queue_seconds ? json(*queue_seconds) : json(nullptr)},
          {"queued", queued},
          {"running", running},
          {"workers", workers}};
}

}  // namespace sonic::jobs
