// Serialised job records, kept while their record lives (see job_json_cache.h).
#include "http/job_json_cache.h"

namespace sonic::http {

namespace {

// The same object, still alive: owner-equal and not expired (an expired weak pointer may
// share an address with a newer record).
bool same_record(const std::weak_ptr<const jobs::JobRecord>& seen, const std::shared_ptr<const jobs::JobRecord>& now) {
  return !seen.expired() && !seen.owner_before(now) && !now.owner_before(seen);
}

}  // namespace

std::shared_ptr<const std::string> JobJsonCache::text(const std::shared_ptr<const jobs::JobRecord>& record) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(record->id); it != entries_.end() && same_record(it->second.record, record))
      return it->second.text;
  }
  auto text = std::make_shared<const std::string>(
      record->to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::lock_guard lock(mutex_);
  if (entries_.size() >= capacity_ && !entries_.count(record->id)) {
    // Drop the entries whose record is gone; if all are alive, start over.
    for (auto it = entries_.begin(); it != entries_.end();) it = it->second.record.expired() ? entries_.erase(it) : std::next(it);
    if (entries_.size() >= capacity_) entries_.clear();
  }
  entries_[record->id] = Entry{record, text};
  return text;
}

}  // namespace sonic::http
