// Histogram: a fixed-bucket, thread-safe latency/duration histogram in the shape
// Prometheus expects (cumulative `le` buckets, sum, count). Small on purpose: the server
// keeps a handful of these, observed from HTTP and worker threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sonic::jobs {

class Histogram {
 public:
  struct Snapshot {
    std::vector<double> bounds;          // upper bounds, ascending (the +Inf bucket is implied)
    std::vector<std::uint64_t> counts;   // cumulative, one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };

  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

  void observe(double value) {
    std::lock_guard lock(mutex_);
    auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
    sum_ += value;
    ++count_;
  }

  Snapshot snapshot() const {
    std::lock_guard lock(mutex_);
    Snapshot s{bounds_, {}, sum_, count_};
    std::uint64_t running = 0;
    for (std::uint64_t c : counts_) s.counts.push_back(running += c);
    return s;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace sonic::jobs
