// FileTransfer: how a worker moves a job's files over HTTP — the inputs down, the finished
// video up — through the signed URLs of its job message. An interface here, because only
// http/ may speak HTTP (DESIGN §2); http/worker_file_client.cpp implements it and
// `sonic-server worker` hands it to the RemoteWorker.
//
// Threads: one object is used by every job thread of a worker at once; implementations
// must be thread-safe (a connection per call is fine: these are few, large requests).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sonic::jobs::remote {

struct TransferOutcome {
  enum class Kind {
    ok,
    refused,  // the server said no for good (403 stale or canceled attempt, 404, 413, …)
    retry,    // the server could not be reached or was busy (connection, 408, 429, 5xx)
  };
  Kind kind = Kind::retry;
  int status = 0;       // HTTP status, 0 when none arrived
  std::string message;  // what went wrong, for logs and a job's error

  bool ok() const { return kind == Kind::ok; }
};

class FileTransfer {
 public:
  virtual ~FileTransfer() = default;
  // GET `url` (path and query on the API server) into `to`; more than `max_bytes` is a
  // refusal (the file is removed).
  virtual TransferOutcome download(const std::string& url, const std::filesystem::path& to, std::uint64_t max_bytes) = 0;
  // PUT the file `from` to `url` with `headers`, streamed with its Content-Length.
  virtual TransferOutcome upload(const std::string& url, const std::filesystem::path& from,
                                 const std::vector<std::pair<std::string, std::string>>& headers) = 0;
};

}  // namespace sonic::jobs::remote
