// Idempotency-Key parsing and the per-request claim (see idempotency.h).
#include "http/idempotency.h"

#include "util/error.h"
#include "util/log.h"

namespace sonic::http {

std::optional<std::string> idempotency_key(const Request& req) {
  int count = 0;
  for (const auto& f : req.head.fields)
    if (wire::iequals(f.name, "Idempotency-Key")) ++count;
  if (count == 0) return std::nullopt;
  auto bad = [](const std::string& why) { return Error(ErrorCode::invalid_param, why, "Idempotency-Key"); };
  if (count > 1) throw bad("Send Idempotency-Key once.");
  std::string value = req.header("Idempotency-Key");
  std::string key;
  if (!value.empty() && value.front() == '"') {
    // sf-string: printable ASCII, with \" and \\ escaped.
    std::size_t i = 1;
    for (; i < value.size() && value[i] != '"'; ++i) {
      char c = value[i];
      if (c == '\\') {
        if (i + 1 >= value.size() || (value[i + 1] != '"' && value[i + 1] != '\\')) throw bad("Idempotency-Key has a bad escape.");
        c = value[++i];
      } else if (c < 0x20 || c > 0x7e) {
        throw bad("Idempotency-Key may hold only printable ASCII.");
      }
      key += c;
    }
    if (i + 1 != value.size()) throw bad("Idempotency-Key is a quoted string with nothing after its closing quote.");
  } else {
    for (char c : value)
      if (c <= 0x20 || c > 0x7e) throw bad("Idempotency-Key may hold only visible ASCII (or be a quoted string).");
    key = value;
  }
  if (key.empty() || key.size() > 255) throw bad("Idempotency-Key must be 1 to 255 characters.");
  return key;
}

IdempotencyClaim::IdempotencyClaim(jobs::IdempotencyStore& store, std::string client, std::string key)
    : store_(&store), client_(std::move(client)), key_(std::move(key)) {
  auto existing = store.claim(client_, key_);
  if (!existing) {
    held_ = true;
    return;
  }
  if (!existing->done)
    throw Error(ErrorCode::idempotency_in_progress,
                "A request with this Idempotency-Key is still being received; wait for its answer, then retry.",
                "Idempotency-Key");
  earlier_ = existing;
}

IdempotencyClaim::~IdempotencyClaim() {
  if (!held_) return;
  try {
    store_->release(client_, key_);
  } catch (const std::exception& e) {
    log::error("idempotency key not released", {{"error", e.what()}});
  }
}

void IdempotencyClaim::take_over() {
  store_->reclaim(client_, key_);
  earlier_.reset();
  held_ = true;
}

void IdempotencyClaim::complete(const std::string& fingerprint, const std::string& job_id) {
  store_->complete(client_, key_, fingerprint, job_id);
  held_ = false;
}

}  // namespace sonic::http
