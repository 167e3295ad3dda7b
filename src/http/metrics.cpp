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

// Scale-out over Redis (docs/scaling.md): the streams, dead letters, workers, takeovers.
void remote_lines(std::string& out, const jobs::remote::RemoteMetrics& r) {
  auto gauge = [&](const char* name, const char* help, const char* type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  // A metric of one unlabelled value.
  auto single = [&](const char* name, const char* help, const char* type, auto value) {
    gauge(name, help, type);
    out += fmt::format("{} {}\n", name, value);
  };
  single("sonic_redis_up", "Whether the server reaches Redis (1) or not (0).", "gauge", r.redis_up ? 1 : 0);
  gauge("sonic_redis_stream_length", "Entries in an engine's job stream: waiting or running.", "gauge");
  for (const auto& [engine, st] : r.streams) out += fmt::format("sonic_redis_stream_length{{engine=\"{}\"}} {}\n", engine, st.length);
  gauge("sonic_redis_stream_pending", "Entries of an engine's stream delivered to a worker and not finished.", "gauge");
  for (const auto& [engine, st] : r.streams)
    out += fmt::format("sonic_redis_stream_pending{{engine=\"{}\"}} {}\n", engine, st.pending);
  single("sonic_redis_dead_letters", "Entries in the dead-letter stream now.", "gauge", r.dead_letters);
  single("sonic_redis_dead_letters_total", "Jobs ever dead-lettered (delivered too often).", "counter", r.dead_letters_total);
  single("sonic_lease_takeovers_total", "Leases that ran out and were taken over by another worker.", "counter", r.takeovers_total);
  single("sonic_workers_alive", "Remote workers whose heartbeat is current.", "gauge", r.workers_alive);
  gauge("sonic_workers_alive_by_engine", "Remote workers serving an engine.", "gauge");
  for (const auto& [engine, n] : r.workers_by_engine)
    out += fmt::format("sonic_workers_alive_by_engine{{engine=\"{}\"}} {}\n", engine, n);
  single("sonic_worker_slots", "Jobs the live remote workers can run at once.", "gauge", r.slots);
  single("sonic_remote_jobs", "Jobs out on Redis now (waiting in a stream or running on a worker).", "gauge", r.outstanding);
  single("sonic_remote_events_applied_total", "Worker events applied to the job store.", "counter", r.events_applied);
  single("sonic_remote_events_dropped_total", "Worker events dropped: of an old attempt or stream entry.", "counter", r.events_dropped);
  single("sonic_remote_redispatched_total", "Jobs sent out again as a new attempt after Redis lost them.", "counter", r.redispatched);
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
  if (s.remote) remote_lines(out, *s.remote);
  out += jobs::engine_metrics_text(s.engines);
  return out;
}

}  // namespace sonic::http
