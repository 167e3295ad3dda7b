// JobRecordCache: job rows already read from SQLite, parsed, by id (issue 10).
//
// A page of GET /api/jobs?limit=100 used to parse 200 JSON documents (each job's resolved
// params and engine result), which cost about three quarters of the store's time per
// request; a status poll parsed two more each time. Rows change only through JobStore, so
// the store keeps this cache exact: every write puts, patches or erases the row it wrote,
// and a read finds either nothing or the row as it is in the database. Bounded: the
// oldest-entered record goes first (about 5 kB each; 256 by default: the first pages of
// the lists and the jobs being polled, ~1.4 MB).
//
// Threads: none of its own; JobStore calls it with its mutex held.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "jobs/job.h"

namespace sonic::jobs {

class JobRecordCache {
 public:
  explicit JobRecordCache(std::size_t capacity = 256) : capacity_(capacity) {}

  // The cached record, or null.
  std::shared_ptr<const JobRecord> find(const std::string& id) const;
  // Stores (or replaces) the record as it now is in the database.
  void put(const JobRecord& record);
  // The row's stage and progress changed (JobStore::update_progress).
  void set_progress(const std::string& id, const std::string& stage, double progress);
  void erase(const std::string& id);
  std::size_t size() const { return records_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const JobRecord> record;
    std::list<std::string>::iterator age;  // its place in order_
  };
  std::size_t capacity_;
  std::unordered_map<std::string, Entry> records_;
  std::list<std::string> order_;  // ids, oldest first
};

}  // namespace sonic::jobs
