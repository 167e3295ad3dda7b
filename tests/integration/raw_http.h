// Raw-socket HTTP for the transport tests: bytes exactly as written (no client library
// fixing them up), answers read until the server closes or a deadline passes, and a parser
// that splits what came back into responses, so a test can count them — a second answer
// to bytes hidden in a body is request smuggling.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "integration/server_process.h"

namespace sonic::test {

struct RawResponse {
  int status = 0;
  std::string head;  // status line and header lines
  std::string body;
  std::string header(const std::string& name) const {
    std::string lower_head = head, key = "\r\n" + name + ":";
    for (auto* s : {&lower_head, &key})
      for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto pos = lower_head.find(key);
    if (pos == std::string::npos) return {};
    pos += key.size();
    auto end = head.find("\r\n", pos);
    std::string value = head.substr(pos, end - pos);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    return value;
  }
  json body_json() const { return json::parse(body, nullptr, false); }
};

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends as much of `data` as the server takes; returns the bytes sent.
  std::size_t send(const std::string& data) {
    std::size_t sent = 0;
    while (fd_ >= 0 && sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    return sent;
  }

  // Reads until the server closes or `patience` passes; true when it closed.
  bool read_until_closed(std::chrono::milliseconds patience) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fill(deadline)) return closed_;
    }
    return closed_;
  }

  // Reads until `count` complete responses are buffered or `patience` passes.
  bool read_responses(std::size_t count, std::chrono::milliseconds patience) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (parse().size() < count && std::chrono::steady_clock::now() < deadline)
      if (!fill(deadline) && closed_) break;
    return parse().size() >= count;
  }

  // Waits for the server to close; true when it did within `patience`.
  bool closed_within(std::chrono::milliseconds patience) { return read_until_closed(patience); }
  bool closed() const { return closed_; }
  const std::string& received() const { return received_; }

  // The responses received so far (complete ones, Content-Length or chunked bodies;
  // 1xx interim answers included).
  std::vector<RawResponse> parse() const {
    std::vector<RawResponse> out;
    std::size_t pos = 0;
    while (true) {
      auto end = received_.find("\r\n\r\n", pos);
      if (end == std::string::npos || received_.compare(pos, 5, "HTTP/") != 0) break;
      RawResponse r;
      r.head = received_.substr(pos, end + 2 - pos);
      r.status = std::atoi(r.head.c_str() + 9);
      std::size_t body_start = end + 4;
      std::string te = r.header("Transfer-Encoding"), cl = r.header("Content-Length");
      if (r.status / 100 == 1 || r.status == 204 || r.status == 304 || out.size() < bodiless_) {
        pos = body_start;
      } else if (!cl.empty()) {
        std::size_t length = std::stoul(cl);
        if (received_.size() < body_start + length) break;
        r.body = received_.substr(body_start, length);
        pos = body_start + length;
      } else if (te == "chunked") {
        std::size_t p = body_start;
        bool complete = false;
        while (true) {
          auto eol = received_.find("\r\n", p);
          if (eol == std::string::npos) break;
          std::size_t size = std::stoul(received_.substr(p, eol - p), nullptr, 16);
          if (size == 0) {
            if (received_.size() < eol + 4) break;
            pos = eol + 4;
            complete = true;
            break;
          }
          if (received_.size() < eol + 2 + size + 2) break;
          r.body += received_.substr(eol + 2, size);
          p = eol + 2 + size + 2;
        }
        if (!complete) break;
      } else {  // close-delimited
        if (!closed_) break;
        r.body = received_.substr(body_start);
        pos = received_.size();
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  // The first `n` answers are to HEAD requests: they announce a body that is not sent.
  void answers_to_head(std::size_t n) { bodiless_ = n; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0 || closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(1, left))) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::size_t bodiless_ = 0;
  std::string received_;
};

// One request on a fresh connection; the responses that came back before the server
// closed or `patience` passed, and whether it closed.
struct RawExchange {
  std::vector<RawResponse> responses;
  bool closed = false;
  std::string raw;
};

inline RawExchange raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds patience = 3000ms) {
  RawConnection c(port);
  EXPECT_TRUE(c.ok());
  c.send(bytes);
  RawExchange ex;
  ex.closed = c.read_until_closed(patience);
  ex.responses = c.parse();
  ex.raw = c.received();
  return ex;
}

}  // namespace sonic::test
