// OutboundClient: the server's HTTP/1.1 client for inputs by URL and webhook deliveries,
// built to be safe against server-side request forgery (SSRF) and slow or hostile servers.
//
//   resolve once   the host is resolved one time per request; every address it resolves
//                  to is checked (UrlPolicy) — one refused address refuses the request, so
//                  a name cannot mix a public and a private answer — and the connection
//                  goes to exactly a checked address (no second lookup a DNS-rebinding
//                  server could answer differently). TLS still verifies the certificate
//                  against the host name (SNI + name check, system CAs or --fetch-ca-file).
//   redirects      GET follows at most max_redirects (3), each Location parsed, its scheme
//                  and every address checked again like the first URL; POST follows none.
//   limits         connect timeout per address, a read timeout (no byte for that long), a
//                  deadline for the whole fetch, redirects included; at most 16 KiB of
//                  response head; the body goes to a sink that stops it at the size limit
//                  (a Content-Length over the limit is refused before any body byte).
//   one request    per connection (`Connection: close`), identity encoding only.
//
// Written on the transport's own sockets and streams (transport/stream.h) rather than
// cpp-httplib's client: every wait here is a poll() against one deadline (httplib 0.11 has
// per-read timeouts only, so a server dripping a byte per timeout could hold a fetch for
// hours, and it follows redirects itself), the connection is made to the checked sockaddr
// with no name lookup inside a library, and the response head is parsed by our own strict
// parser (wire/response_head.h).
//
// Threads: const methods, safe from any thread; each call uses its own socket.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/outbound/url_policy.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace sonic::http {

struct OutboundSettings {
  std::vector<Network> allow;  // refused addresses that may be reached anyway (--url-allow)
  bool allow_http = false;     // http:// as well as https:// (--url-allow-http)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};   // no byte from the server for this long
  std::chrono::milliseconds fetch_timeout{60000};  // one input fetch, redirects included
  std::chrono::milliseconds post_timeout{15000};   // one webhook attempt
  int max_redirects = 3;
  std::string ca_file;  // PEM CA certificates trusted besides the system's (--fetch-ca-file)
  std::string user_agent = "sonic-server";
};

struct FetchResult {
  std::string final_url;  // after redirects
  std::uint64_t bytes = 0;
  int redirects = 0;
};

struct PostResult {
  int status = 0;          // 0 = no answer
  std::string error;       // why not, or what was wrong with the answer
  bool refused = false;    // the URL or an address is not allowed: never retry
  int retry_after_s = 0;   // Retry-After of the answer, in seconds
  bool stopped = false;    // `stopping` turned true
};

class OutboundClient {
 public:
  // Throws Error(invalid_config, "fetch-ca-file") when the CA file cannot be loaded.
  explicit OutboundClient(OutboundSettings settings);
  ~OutboundClient();
  OutboundClient(const OutboundClient&) = delete;
  OutboundClient& operator=(const OutboundClient&) = delete;

  const OutboundSettings& settings() const { return settings_; }
  // Parses `url`, checks its scheme, resolves its host and checks every address.
  // Throws Error(invalid_param | forbidden_url | fetch_failed, field).
  Url check(const std::string& url, const std::string& field) const;
  // GET `url`; the body goes to `sink` (false = stop: the limit was passed). Throws
  // Error(forbidden_url | fetch_failed, field) with the reason, and
  // Error(payload_too_large, field) when the body is over `max_bytes`.
  FetchResult get(const std::string& url, const std::string& field, std::uint64_t max_bytes,
                  const std::function<bool(std::string_view)>& sink, const std::atomic<bool>* stopping = nullptr) const;
  // One POST, no redirects followed; never throws for trouble on the way (the result says).
  PostResult post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body, const std::atomic<bool>* stopping = nullptr) const;

 private:
  struct Exchange;
  UrlPolicy policy_;
  OutboundSettings settings_;
  SSL_CTX* tls_ = nullptr;  // owned
};

}  // namespace sonic::http
