// The worker's HTTP client for job files (see worker_file_client.h).
#include "http/worker_file_client.h"

#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace sonic::http {
namespace fs = std::filesystem;
using jobs::remote::TransferOutcome;

namespace {

// 408, 429 and 5xx may pass; any other refusal is the server's final word on this URL.
TransferOutcome classify(int status, const std::string& body) {
  TransferOutcome out;
  out.status = status;
  if (status >= 200 && status < 300) {
    out.kind = TransferOutcome::Kind::ok;
    return out;
  }
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  out.message = parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()
                    ? parsed["error"].get<std::string>()
                    : body.substr(0, 300);
  out.kind = status == 408 || status == 429 || status >= 500 ? TransferOutcome::Kind::retry
                                                               : TransferOutcome::Kind::refused;
  return out;
}

TransferOutcome unreachable(const httplib::Result& r) {
  TransferOutcome out;
  out.kind = TransferOutcome::Kind::retry;
  out.message = "the server did not answer: " + httplib::to_string(r.error());
  return out;
}

}  // namespace

WorkerFileClient::WorkerFileClient(const std::string& server_url, std::string ca_file) : ca_file_(std::move(ca_file)) {
  auto scheme_end = server_url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : server_url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw Error(ErrorCode::invalid_config,
                "The server URL '" + server_url + "' must start with http:// or https://.", "server");
  auto path = server_url.find('/', scheme_end + 3);
  origin_ = server_url.substr(0, path);
  if (origin_.size() <= scheme_end + 3)
    throw Error(ErrorCode::invalid_config, "The server URL '" + server_url + "' has no host.", "server");
  if (path != std::string::npos) prefix_ = server_url.substr(path);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

TransferOutcome WorkerFileClient::download(const std::string& url, const fs::path& to, std::uint64_t max_bytes) {
  httplib::Client client(origin_);
  client.set_connection_timeout(10);
  client.set_read_timeout(60);
  if (!ca_file_.empty()) client.set_ca_cert_path(ca_file_);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  int status = 0;
  std::string error_body;
  std::uint64_t received = 0;
  bool too_large = false, write_failed = false;
  auto result = client.Get(
      prefix_ + url, httplib::Headers{},
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, std::size_t size) {
        if (status != 200) {
          if (error_body.size() < 4096) error_body.append(data, std::min<std::size_t>(size, 4096));
          return true;
        }
        received += size;
        if (received > max_bytes) {
          too_large = true;
          return false;
        }
        out.write(data, static_cast<std::streamsize>(size));
        write_failed = !out.good();
        return !write_failed;
      });
  out.close();
  auto remove = [&] {
    std::error_code ec;
    fs::remove(to, ec);
  };
  if (too_large) {
    remove();
    return {TransferOutcome::Kind::refused, status, "the file is larger than the job message said"};
  }
  if (write_failed) {
    remove();
    return {TransferOutcome::Kind::retry, status, "cannot write " + to.string()};
  }
  if (!result) {
    remove();
    return unreachable(result);
  }
  TransferOutcome outcome = classify(result->status, error_body);
  if (!outcome.ok()) remove();
  return outcome;
}

TransferOutcome WorkerFileClient::upload(const std::string& url, const fs::path& from,
                                         const std::vector<std::pair<std::string, std::string>>& headers) {
  std::error_code ec;
  std::uint64_t size = fs::file_size(from, ec);
  if (ec) return {TransferOutcome::Kind::refused, 0, "cannot read " + from.string() + ": " + ec.message()};
  std::ifstream in(from, std::ios::binary);
  httplib::Client client(origin_);
  client.set_connection_timeout(10);
  client.set_read_timeout(120);
  client.set_write_timeout(60);
  if (!ca_file_.empty()) client.set_ca_cert_path(ca_file_);
  httplib::Headers sent;
  std::string content_type = "application/octet-stream";
  for (const auto& [name, value] : headers) {
    if (name == "Content-Type") content_type = value;
    else sent.emplace(name, value);
  }
  std::vector<char> buffer(256 * 1024);
  auto result = client.Put(
      prefix_ + url, sent, static_cast<std::size_t>(size),
      [&](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        in.seekg(static_cast<std::streamoff>(offset));
        std::size_t want = std::min(length, buffer.size());
        in.read(buffer.data(), static_cast<std::streamsize>(want));
        std::streamsize got = in.gcount();
        if (got <= 0) return false;
        return sink.write(buffer.data(), static_cast<std::size_t>(got));
      },
      content_type);
  if (!result) return unreachable(result);
  return classify(result->status, result->body);
}

}  // namespace sonic::http
