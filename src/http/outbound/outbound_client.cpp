// OutboundClient: SSRF-safe HTTP/1.1 requests to the outside (see outbound_client.h).
#include "http/outbound/outbound_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/transport/stream.h"
#include "http/wire/chunked.h"
#include "http/wire/response_head.h"
#include "util/error.h"

namespace sonic::http {

namespace {

using Deadline = Clock::time_point;
constexpr std::size_t kMaxHead = 16 * 1024;
constexpr std::size_t kMaxPostAnswer = 64 * 1024;  // of a webhook receiver's body, read and dropped

// Trouble on the way: what went wrong, in words for the client.
struct Trouble {
  enum Kind { network, timeout, stopped, protocol } kind;
  std::string message;
  bool overall = false;  // a timeout of the whole exchange's deadline, not of one wait
};

std::string seconds_text(std::chrono::milliseconds ms) {
  auto s = ms.count() / 1000.0;
  char text[32];
  std::snprintf(text, sizeof text, s == static_cast<long long>(s) ? "%.0f s" : "%.1f s", s);
  return text;
}

struct Resolved {
  std::vector<sockaddr_storage> addresses;
  std::vector<socklen_t> lengths;
};

std::array<std::uint8_t, 16> bytes_of(const sockaddr* sa) {
  std::array<std::uint8_t, 16> out{};
  if (sa->sa_family == AF_INET) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return out;
}

// Resolves once and checks every address. Throws Error(forbidden_url | fetch_failed, field).
Resolved resolve_checked(const Url& url, const UrlPolicy& policy, const std::string& field) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = url.host_is_ip ? AI_NUMERICHOST : 0;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(url.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || !found)
    throw Error(ErrorCode::fetch_failed,
                field + ": the host " + url.host + " could not be resolved (" + gai_strerror(rc) + ").", field);
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(found, freeaddrinfo);
  Resolved r;
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    auto bytes = bytes_of(a->ai_addr);
    std::string why = policy.refusal(bytes);
    if (!why.empty())
      throw Error(ErrorCode::forbidden_url,
                  field + " leads to " + address_text(bytes) + " (" + why +
                      "), an address this server may not reach. Use a public URL.",
                  field);
    sockaddr_storage s{};
    std::memcpy(&s, a->ai_addr, a->ai_addrlen);
    if (s.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&s)->sin_port = htons(static_cast<std::uint16_t>(url.port));
    else reinterpret_cast<sockaddr_in6*>(&s)->sin6_port = htons(static_cast<std::uint16_t>(url.port));
    r.addresses.push_back(s);
    r.lengths.push_back(a->ai_addrlen);
  }
  if (r.addresses.empty())
    throw Error(ErrorCode::fetch_failed, field + ": the host " + url.host + " has no IPv4 or IPv6 address.", field);
  return r;
}

Deadline sooner(Deadline a, Deadline b) { return a < b ? a : b; }

// Connects to one of the checked addresses (in the resolver's order) within the deadline.
int connect_any(const Resolved& r, Deadline deadline, std::chrono::milliseconds per_address,
                const std::atomic<bool>* stopping) {
  std::string last = "no address answered";
  for (std::size_t i = 0; i < r.addresses.size(); ++i) {
    int fd = ::socket(r.addresses[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Trouble{Trouble::network, std::string("no socket: ") + std::strerror(errno)};
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&r.addresses[i]), r.lengths[i]);
    if (rc != 0 && errno != EINPROGRESS) {
      last = std::string("connection failed: ") + std::strerror(errno);
      ::close(fd);
      continue;
    }
    if (rc != 0) {
      bool stopped = false;
      Deadline until = sooner(deadline, Clock::now() + per_address);
      if (!wait_ready(fd, IoStatus::want_write, until, stopping, &stopped)) {
        ::close(fd);
        if (stopped) throw Trouble{Trouble::stopped, "stopped"};
        // poll() counts whole milliseconds, so it may give up a moment before `until`.
        if (until == deadline || Clock::now() >= deadline) throw Trouble{Trouble::timeout, "connecting timed out", true};
        last = "connecting timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = std::string("connection failed: ") + std::strerror(err);
        ::close(fd);
        continue;
      }
    }
    return fd;
  }
  throw Trouble{last.find("timed out") != std::string::npos ? Trouble::timeout : Trouble::network, last};
}

// One connection's bytes, with the deadlines of one request.
class Connection {
 public:
  // `ssl` (owned by the stream, may be null) only to say why a handshake failed.
  Connection(std::unique_ptr<Stream> stream, SSL* ssl, Deadline deadline, std::chrono::milliseconds read_timeout,
             const std::atomic<bool>* stopping)
      : stream_(std::move(stream)), ssl_(ssl), deadline_(deadline), read_timeout_(read_timeout), stopping_(stopping) {}

  void handshake() {
    while (true) {
      IoResult r = stream_->handshake();
      if (r.status == IoStatus::ok) return;
      if (r.status != IoStatus::want_read && r.status != IoStatus::want_write) throw Trouble{Trouble::network, tls_error()};
      wait(r.status);
    }
  }

  void send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      IoResult r = stream_->write(data.data() + done, data.size() - done);
      if (r.status == IoStatus::ok) {
        done += r.bytes;
        continue;
      }
      if (r.status != IoStatus::want_read && r.status != IoStatus::want_write)
        throw Trouble{Trouble::network, "the connection closed while sending the request"};
      wait(r.status);
    }
  }

  // Some bytes (appended to `out`); false at the end of the stream.
  bool receive(std::string& out) {
    char buffer[16 * 1024];
    while (true) {
      IoResult r = stream_->read(buffer, sizeof buffer);
      if (r.status == IoStatus::ok) {
        out.append(buffer, r.bytes);
        return true;
      }
      if (r.status == IoStatus::eof) return false;
      if (r.status != IoStatus::want_read && r.status != IoStatus::want_write)
        throw Trouble{Trouble::network, "the connection failed while reading the answer"};
      wait(r.status);
    }
  }

  wire::ResponseHead read_head() {
    while (true) {
      std::size_t end = wire::find_head_end(buffer_);
      if (end == 0) {
        if (buffer_.size() > kMaxHead) throw Trouble{Trouble::protocol, "the answer's head is over 16 KiB"};
        if (!receive(buffer_)) throw Trouble{Trouble::network, "the server closed the connection without an answer"};
        continue;
      }
      std::string why;
      auto head = wire::parse_response_head(std::string_view(buffer_).substr(0, end), why);
      if (!head) throw Trouble{Trouble::protocol, why};
      buffer_.erase(0, end);
      if (head->status >= 100 && head->status < 200) continue;  // 100 Continue and friends
      return *head;
    }
  }

  // The body by its framing, to `sink` (false = stop). Returns the bytes handed on.
  std::uint64_t read_body(const wire::ResponseHead& head, const std::function<bool(std::string_view)>& sink) {
    std::uint64_t total = 0;
    if (head.chunked) {
      wire::ChunkedDecoder decoder;
      while (true) {
        std::size_t consumed = 0;
        std::string_view data;
        std::string_view in(buffer_);
        auto status = decoder.next(in, consumed, data);
        if (status == wire::ChunkedDecoder::Status::data) {
          total += data.size();
          bool more = sink(data);
          buffer_.erase(0, consumed);
          if (!more) return total;
          continue;
        }
        buffer_.erase(0, consumed);
        if (status == wire::ChunkedDecoder::Status::done) return total;
        if (status == wire::ChunkedDecoder::Status::error)
          throw Trouble{Trouble::protocol, "the chunked body is malformed: " + decoder.error()};
        if (!receive(buffer_)) throw Trouble{Trouble::network, "the connection closed before the end of the body"};
      }
    }
    std::optional<std::uint64_t> left = head.content_length;
    while (true) {
      if (!buffer_.empty()) {
        std::size_t take = left ? static_cast<std::size_t>(std::min<std::uint64_t>(*left, buffer_.size())) : buffer_.size();
        total += take;
        bool more = take == 0 || sink(std::string_view(buffer_).substr(0, take));
        buffer_.erase(0, take);
        if (left) *left -= take;
        if (!more) return total;
      }
      if (left && *left == 0) return total;
      if (!receive(buffer_)) {
        if (left) throw Trouble{Trouble::network, "the connection closed before the end of the body"};
        return total;
      }
    }
  }

 private:
  void wait(IoStatus want) {
    auto now = Clock::now();
    if (now >= deadline_) throw Trouble{Trouble::timeout, "took too long", true};
    bool stopped = false;
    Deadline until = sooner(deadline_, now + read_timeout_);
    if (wait_ready(stream_->fd(), want, until, stopping_, &stopped)) return;
    if (stopped) throw Trouble{Trouble::stopped, "stopped"};
    // poll() counts whole milliseconds, so it may give up a moment before `until`: which bound
    // was the nearer one says which limit ran out.
    if (until == deadline_ || Clock::now() >= deadline_) throw Trouble{Trouble::timeout, "took too long", true};
    throw Trouble{Trouble::timeout, "no byte came for " + seconds_text(read_timeout_)};
  }
  std::string tls_error() const {
    long verify = ssl_ ? SSL_get_verify_result(ssl_) : X509_V_OK;
    if (verify != X509_V_OK)
      return std::string("the server's TLS certificate was not accepted (") + X509_verify_cert_error_string(verify) + ")";
    return "the TLS handshake failed";
  }

  std::unique_ptr<Stream> stream_;
  SSL* ssl_;
  std::string buffer_;
  Deadline deadline_;
  std::chrono::milliseconds read_timeout_;
  const std::atomic<bool>* stopping_;
};

std::string request_head(const std::string& method, const Url& url, const std::string& user_agent,
                         const std::vector<std::pair<std::string, std::string>>& headers, std::size_t body_size,
                         bool has_body) {
  std::string head = method + " " + url.target + " HTTP/1.1\r\nHost: " + url.authority() + "\r\nUser-Agent: " +
                     user_agent + "\r\nAccept-Encoding: identity\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  if (has_body) head += "Content-Length: " + std::to_string(body_size) + "\r\n";
  return head + "\r\n";
}

int retry_after_seconds(std::string_view value) {
  if (value.empty() || value.size() > 9) return 0;
  int n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return 0;  // an HTTP date: not worth trusting a remote clock
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

struct OutboundClient::Exchange {
  // Opens a connection to `url` (resolved and checked) and sends one request.
  static Connection open(const OutboundClient& client, const Url& url, const std::string& field, Deadline deadline,
                         const std::atomic<bool>* stopping) {
    Resolved addresses = resolve_checked(url, client.policy_, field);
    int fd = connect_any(addresses, deadline, client.settings_.connect_timeout, stopping);
    std::unique_ptr<Stream> stream;
    SSL* ssl = nullptr;
    if (url.tls()) {
      ssl = SSL_new(client.tls_);
      if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        if (ssl) SSL_free(ssl);
        ::close(fd);
        throw Trouble{Trouble::network, "TLS could not be set up"};
      }
      SSL_set_connect_state(ssl);
      if (!url.host_is_ip) {
        SSL_set_tlsext_host_name(ssl, url.host.c_str());
        SSL_set1_host(ssl, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
      }
      stream = wrap_tls(fd, ssl);
    } else {
      stream = std::make_unique<Stream>(fd);
    }
    Connection c(std::move(stream), ssl, deadline, client.settings_.read_timeout, stopping);
    if (url.tls()) c.handshake();
    return c;
  }
};

OutboundClient::OutboundClient(OutboundSettings settings)
    : policy_(settings.allow, settings.allow_http), settings_(std::move(settings)) {
  tls_ = SSL_CTX_new(TLS_client_method());
  if (!tls_) throw Error(ErrorCode::internal, "TLS client context could not be made");
  SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
  SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_default_verify_paths(tls_);
  SSL_CTX_set_mode(tls_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!settings_.ca_file.empty() && SSL_CTX_load_verify_locations(tls_, settings_.ca_file.c_str(), nullptr) != 1) {
    SSL_CTX_free(tls_);
    tls_ = nullptr;
    ERR_clear_error();
    throw Error(ErrorCode::invalid_config, "Cannot load the CA certificates in " + settings_.ca_file + ".", "fetch-ca-file");
  }
}

OutboundClient::~OutboundClient() {
  if (tls_) SSL_CTX_free(tls_);
}

Url OutboundClient::check(const std::string& text, const std::string& field) const {
  Url url = parse_url(text, field);
  policy_.check_scheme(url, field);
  resolve_checked(url, policy_, field);
  return url;
}

FetchResult OutboundClient::get(const std::string& text, const std::string& field, std::uint64_t max_bytes,
                                const std::function<bool(std::string_view)>& sink,
                                const std::atomic<bool>* stopping) const {
  const Deadline deadline = Clock::now() + settings_.fetch_timeout;
  Url url = parse_url(text, field);
  FetchResult result;
  auto failed = [&](const std::string& why) {
    return Error(ErrorCode::fetch_failed, field + " could not be fetched from " + url.text() + ": " + why + ".", field);
  };
  for (int hop = 0;; ++hop) {
    policy_.check_scheme(url, field);
    try {
      Connection c = Exchange::open(*this, url, field, deadline, stopping);
      c.send(request_head("GET", url, settings_.user_agent, {{"Accept", "*/*"}}, 0, false));
      wire::ResponseHead head = c.read_head();
      bool redirect = head.status == 301 || head.status == 302 || head.status == 303 || head.status == 307 || head.status == 308;
      if (redirect) {
        std::string location(head.field("Location"));
        if (location.empty()) throw failed("HTTP " + std::to_string(head.status) + " without a Location");
        if (hop >= settings_.max_redirects)
          throw failed("more than " + std::to_string(settings_.max_redirects) + " redirects");
        url = resolve_location(url, location, field);
        ++result.redirects;
        continue;
      }
      if (head.status < 200 || head.status > 299) throw failed("the server answered HTTP " + std::to_string(head.status));
      const std::string limit = std::to_string(max_bytes / (1024 * 1024)) + " MB";
      if (head.content_length && *head.content_length > max_bytes)
        throw Error(ErrorCode::payload_too_large, field + " is larger than the limit of " + limit + ".", field);
      bool over = false;
      std::uint64_t seen = 0;
      c.read_body(head, [&](std::string_view data) {
        seen += data.size();
        if (seen > max_bytes || !sink(data)) {
          over = true;
          return false;
        }
        return true;
      });
      if (over) throw Error(ErrorCode::payload_too_large, field + " is larger than the limit of " + limit + ".", field);
      if (seen == 0) throw failed("the answer is empty");
      result.bytes = seen;
      result.final_url = url.text();
      return result;
    } catch (const Trouble& t) {
      if (t.kind == Trouble::timeout && t.overall)
        throw failed("it took longer than " + seconds_text(settings_.fetch_timeout));
      throw failed(t.message);
    }
  }
}

PostResult OutboundClient::post(const std::string& text, const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body, const std::atomic<bool>* stopping) const {
  PostResult result;
  const Deadline deadline = Clock::now() + settings_.post_timeout;
  try {
    Url url = parse_url(text, "webhook_url");
    policy_.check_scheme(url, "webhook_url");
    Connection c = Exchange::open(*this, url, "webhook_url", deadline, stopping);
    c.send(request_head("POST", url, settings_.user_agent, headers, body.size(), true) + body);
    wire::ResponseHead head = c.read_head();
    result.status = head.status;
    result.retry_after_s = retry_after_seconds(head.field("Retry-After"));
    if (head.status >= 300 && head.status < 400) result.error = "HTTP " + std::to_string(head.status) + ": redirects are not followed";
    std::uint64_t drained = 0;
    c.read_body(head, [&](std::string_view data) {
      drained += data.size();
      return drained < kMaxPostAnswer;
    });
  } catch (const Trouble& t) {
    if (result.status != 0) return result;  // the answer came; its body did not matter
    result.stopped = t.kind == Trouble::stopped;
    result.error = t.kind == Trouble::timeout && t.overall
                       ? "no answer within " + seconds_text(settings_.post_timeout)
                       : t.message;
  } catch (const Error& e) {
    result.error = e.message();
    // A refused address or scheme is final; a name that does not resolve may yet.
    result.refused = e.code() != ErrorCode::fetch_failed;
  }
  return result;
}

}  // namespace sonic::http
