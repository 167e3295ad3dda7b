// RateLimiter: a token bucket per key (the token's subject, or the client address when auth
// is off) in front of POST /api/sonic/generate (issue 5, docs/auth.md).
//
// A bucket holds up to `burst` tokens and refills at `per_minute` tokens a minute; a request
// takes one token or is refused with the exact wait until the next one. Buckets are created
// full, so a new client may send `burst` requests at once. Full buckets carry no information,
// so they are dropped when the table grows (a client that went quiet costs nothing).
//
// Plain C++ (no HTTP library). Threads: any thread; one mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace sonic::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // per_minute <= 0 disables the limiter (every take() succeeds). burst >= 1.
  RateLimiter(double per_minute, double burst);

  bool enabled() const { return per_minute_ > 0; }

  // Takes one token for `key`. nullopt = allowed; otherwise the seconds until a token is
  // available (> 0), i.e. the Retry-After to send. A refused request takes nothing.
  std::optional<double> take(const std::string& key, Clock::time_point now = Clock::now());

  // Buckets currently tracked (for tests of the pruning).
  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void refill(Bucket& b, Clock::time_point now) const;
  void prune(Clock::time_point now);  // with mutex_ held

  double per_minute_, burst_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::size_t prune_at_ = 4096;
};

}  // namespace sonic::http
