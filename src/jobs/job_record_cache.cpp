// The bounded cache of parsed job rows (see job_record_cache.h).
#include "jobs/job_record_cache.h"

namespace sonic::jobs {

std::shared_ptr<const JobRecord> JobRecordCache::find(const std::string& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : it->second.record;
}

void JobRecordCache::put(const JobRecord& record) {
  if (capacity_ == 0) return;
  auto shared = std::make_shared<const JobRecord>(record);
  if (auto it = records_.find(record.id); it != records_.end()) {
    it->second.record = std::move(shared);
    return;
  }
  if (records_.size() >= capacity_) {
    records_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(record.id);
  records_.emplace(record.id, Entry{std::move(shared), std::prev(order_.end())});
}

void JobRecordCache::set_progress(const std::string& id, const std::string& stage, double progress) {
  auto it = records_.find(id);
  if (it == records_.end() || it->second.record->state != JobState::running) return;  // as the UPDATE's WHERE
  auto changed = std::make_shared<JobRecord>(*it->second.record);
  changed->stage = stage;
  changed->progress = progress;
  it->second.record = std::move(changed);
}

void JobRecordCache::erase(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  order_.erase(it->second.age);
  records_.erase(it);
}

}  // namespace sonic::jobs
