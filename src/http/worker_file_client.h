// WorkerFileClient: the worker's side of the file routes (routes_worker.cpp) — GET a job's
// inputs and PUT its video through the signed URLs of the job message. An HTTP client
// (cpp-httplib), so it lives in http/, the only layer that speaks HTTP; jobs/ sees it as
// FileTransfer. Plain HTTP or HTTPS with the system's CA store or --server-ca-file, the
// certificate always checked. A fresh connection per transfer: they are few and large.
//
// Threads: the object is immutable; every call makes its own connection.
#pragma once

#include <string>

#include "jobs/remote/file_transfer.h"

namespace sonic::http {

class WorkerFileClient : public jobs::remote::FileTransfer {
 public:
  // `server_url`: http(s)://host[:port][/path prefix]. Error(invalid_config, field "server").
  explicit WorkerFileClient(const std::string& server_url, std::string ca_file = {});

  jobs::remote::TransferOutcome download(const std::string& url, const std::filesystem::path& to,
                                         std::uint64_t max_bytes) override;
  jobs::remote::TransferOutcome upload(const std::string& url, const std::filesystem::path& from,
                                       const std::vector<std::pair<std::string, std::string>>& headers) override;

 private:
  std::string origin_;  // scheme://host:port
  std::string prefix_;  // path the API is mounted under (behind a proxy), "" for /
  std::string ca_file_;
};

}  // namespace sonic::http
