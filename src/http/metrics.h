// HttpMetrics: request counters and latency histograms by route, upload bytes, and the
// Prometheus text rendering of those plus the job service's figures (GET /metrics).
// Routes are the route patterns ("/api/jobs/{id}"), never raw paths, so the number of
// series stays bounded whatever clients send.
//
// Threads: observe() from any HTTP thread; render() from the /metrics handler.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "jobs/histogram.h"
#include "jobs/job_service.h"

namespace sonic::http {

class HttpMetrics {
 public:
  void observe(const std::string& route, const std::string& method, int status, double seconds);
  void add_upload_bytes(std::uint64_t bytes) { upload_bytes_ += bytes; }
  std::string render(const jobs::ServiceMetrics& service) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, std::unique_ptr<jobs::Histogram>> latency_;
  std::atomic<std::uint64_t> upload_bytes_{0};
};

}  // namespace sonic::http
