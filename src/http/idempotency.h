// Idempotency-Key on POST /api/sonic/generate (issue 15; the IETF httpapi draft): the
// header's value, and the claim a request holds on its key while it is received.
//
// The value is a Structured Fields string ("…", the draft's form) or, as many clients
// send it, the bare text; 1–255 visible ASCII characters; sent twice → 400. Keys are per
// user (the token's subject, or the client address with auth off) and kept 24 h
// (jobs/idempotency_store.h has the states and the restart rule).
//
// Threads: an IdempotencyClaim belongs to the request's worker.
#pragma once

#include <optional>
#include <string>

#include "http/transport/message.h"
#include "jobs/idempotency_store.h"

namespace sonic::http {

// The key of `req`, nullopt without the header. Error(invalid_param, "Idempotency-Key").
std::optional<std::string> idempotency_key(const Request& req);

// Claims a key for one request: 409 idempotency_in_progress when another request holds
// it; otherwise the earlier record (done) or none (this request now holds the key, and
// releases it when it ends without complete(), so a failed request can be retried).
class IdempotencyClaim {
 public:
  IdempotencyClaim(jobs::IdempotencyStore& store, std::string client, std::string key);
  ~IdempotencyClaim();
  IdempotencyClaim(const IdempotencyClaim&) = delete;
  IdempotencyClaim& operator=(const IdempotencyClaim&) = delete;

  // The earlier request's record when it made a job.
  const std::optional<jobs::IdempotencyRecord>& earlier() const { return earlier_; }
  // The earlier request's job is gone (deleted): this request takes the key over.
  void take_over();
  void complete(const std::string& fingerprint, const std::string& job_id);

 private:
  jobs::IdempotencyStore* store_;
  std::string client_, key_;
  std::optional<jobs::IdempotencyRecord> earlier_;
  bool held_ = false;  // this request holds the key in_progress
};

}  // namespace sonic::http
