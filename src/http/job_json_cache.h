// JobJsonCache: each job record's JSON text, serialised once per version of the record.
//
// GET /api/jobs?limit=100 answers ~165 kB of JSON; building that as a JSON tree from a
// copy of every record and then dumping it cost ~4 ms of CPU per request (242 req/s on this
// machine), almost all in nlohmann::json's maps. Records in the job store's cache are
// immutable and replaced on every write (jobs/job_record_cache.h), so the text of a record
// stays valid exactly as long as that record object is alive: the cache keeps a weak
// pointer to it and serialises again when the record it sees is a different object.
//
// Threads: any; one mutex around the map (the serialising is done outside it).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jobs/job.h"

namespace sonic::http {

class JobJsonCache {
 public:
  explicit JobJsonCache(std::size_t capacity = 512) : capacity_(capacity) {}

  // JobRecord::to_json() of `record` as text (invalid UTF-8 replaced, as send_json does).
  std::shared_ptr<const std::string> text(const std::shared_ptr<const jobs::JobRecord>& record);

 private:
  struct Entry {
    std::weak_ptr<const jobs::JobRecord> record;
    std::shared_ptr<const std::string> text;
  };
  std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace sonic::http
