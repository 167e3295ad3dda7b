#include "http/rate_limit.h"

#include <algorithm>

namespace sonic::http {

RateLimiter::RateLimiter(double per_minute, double burst)
    : per_minute_(per_minute), burst_(std::max(1.0, burst)) {}

void RateLimiter::refill(Bucket& b, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed * per_minute_ / 60.0);
    b.updated = now;
  }
}

std::optional<double> RateLimiter::take(const std::string& key, Clock::time_point now) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= prune_at_) prune(now);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) refill(b, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return (1.0 - b.tokens) * 60.0 / per_minute_;
}

void RateLimiter::prune(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  // Still large: every client is busy; let the table grow, and prune again at twice the size.
  prune_at_ = std::max<std::size_t>(4096, buckets_.size() * 2);
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace sonic::http
