// HttpMetrics: Prometheus text exposition format 0.0.4 (see metrics.h).
#include "http/metrics.h"

#include <fmt/format.h>

#include "face/face_cache.h"

namespace sonic::http {
namespace {

void histogram_lines(std::string& out, const std::string& name, const std::string& labels,
                     const jobs::Histogram::Snapshot& h) {
  std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < h.bounds.size(); ++i)
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, h.bounds[i], h.counts[i]);
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, h.counts.back());
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, h.sum, name, braces, h.count);
}

}  // namespace

void HttpMetrics::observe(const std::string& route, const std::string& method, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, method, status}];
  auto& h = latency_[route];
  if (!h)
    h = std::make_unique<jobs::Histogram>(
        std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  h->observe(seconds);
}

std::string HttpMetrics::render(const jobs::ServiceMetrics& s) const {
  std::string out;
  out += "# HELP sonic_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE sonic_http_requests_total counter\n";
  std::map<std::string, jobs::Histogram::Snapshot> latency;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, n] : requests_) {
      const auto& [route, method, status] = key;
      out += fmt::format("sonic_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n", route,
                         method, status, n);
    }
    for (const auto& [route, h] : latency_) latency[route] = h->snapshot();
  }
  out += "# HELP sonic_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE sonic_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency)
    histogram_lines(out, "sonic_http_request_duration_seconds", "route=\"" + route + "\"", h);

  out += "# HELP sonic_upload_bytes_total Bytes received in uploads.\n# TYPE sonic_upload_bytes_total counter\n";
  out += fmt::format("sonic_upload_bytes_total {}\n", upload_bytes_.load());

  out += "# HELP sonic_jobs Jobs in the store by state.\n# TYPE sonic_jobs gauge\n";
  for (const auto& [state, n] : s.jobs_by_state)
    out += fmt::format("sonic_jobs{{state=\"{}\"}} {}\n", jobs::state_name(state), n);
  out += "# HELP sonic_queue_depth Jobs waiting for a worker.\n# TYPE sonic_queue_depth gauge\n";
  out += fmt::format("sonic_queue_depth {}\n", s.queue_depth);
  out += "# HELP sonic_queue_capacity Bound of the queue.\n# TYPE sonic_queue_capacity gauge\n";
  out += fmt::format("sonic_queue_capacity {}\n", s.queue_capacity);
  out += "# HELP sonic_jobs_running Jobs an engine worker is running now.\n# TYPE sonic_jobs_running gauge\n";
  out += fmt::format("sonic_jobs_running {}\n", s.running);
  out += "# HELP sonic_cache_hits_total Requests answered from the result cache.\n";
  out += "# TYPE sonic_cache_hits_total counter\n";
  out += fmt::format("sonic_cache_hits_total {}\n", s.cache_hits);
  out += "# HELP sonic_cache_misses_total Requests that queued a new job.\n# TYPE sonic_cache_misses_total counter\n";
  out += fmt::format("sonic_cache_misses_total {}\n", s.cache_misses);
  out += "# HELP sonic_jobs_joined_total Requests that joined an identical job in flight.\n";
  out += "# TYPE sonic_jobs_joined_total counter\n";
  out += fmt::format("sonic_jobs_joined_total {}\n", s.joined);
  const face::FaceCacheStats faces = face::face_cache_stats();
  out += "# HELP sonic_face_cache_hits_total Face detections answered from the cache of a picture's faces.\n";
  out += "# TYPE sonic_face_cache_hits_total counter\n";
  out += fmt::format("sonic_face_cache_hits_total {}\n", faces.hits);
  out += "# HELP sonic_face_cache_misses_total Pictures whose faces were detected.\n";
  out += "# TYPE sonic_face_cache_misses_total counter\n";
  out += fmt::format("sonic_face_cache_misses_total {}\n", faces.misses);
  out += "# HELP sonic_job_duration_seconds Engine run time of finished jobs.\n";
  out += "# TYPE sonic_job_duration_seconds histogram\n";
  histogram_lines(out, "sonic_job_duration_seconds", "", s.job_seconds);
  out += "# HELP sonic_stage_duration_seconds Engine stage wall time.\n";
  out += "# TYPE sonic_stage_duration_seconds histogram\n";
  for (const auto& [stage, h] : s.stage_seconds)
    histogram_lines(out, "sonic_stage_duration_seconds", "stage=\"" + stage + "\"", h);
  out += jobs::engine_metrics_text(s.engines);
  return out;
}

}  // namespace sonic::http
