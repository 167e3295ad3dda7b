// Who is the client: the peer address, or — when the peer is a trusted reverse proxy — the
// address the proxy reports in X-Forwarded-For (issue 5, docs/auth.md).
//
// X-Forwarded-For is a list each proxy appends to, so only its right end can be trusted:
// walking from the right, addresses of trusted proxies are skipped and the first other one
// is the client. A header from an untrusted peer is ignored entirely (anyone can send one).
// The client address keys the rate limit and owns jobs when auth is off.
//
// Plain C++. Threads: immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sonic::http {

// An IPv4 or IPv6 network, e.g. "10.0.0.0/8", "::1/128", "192.168.1.7" (one host).
struct Network {
  std::array<std::uint8_t, 16> address{};  // IPv4 as ::ffff:a.b.c.d
  int prefix_bits = 128;                    // out of 128

  // nullopt when `text` is not an address or CIDR network.
  static std::optional<Network> parse(std::string_view text);
  bool contains(std::string_view ip) const;
};

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Comma-separated networks, e.g. "127.0.0.1,10.0.0.0/8". Throws Error(invalid_config)
  // naming the entry that is not a network.
  explicit TrustedProxies(std::string_view list);

  bool empty() const { return networks_.empty(); }
  bool trusted(std::string_view ip) const;

  // The client's address for a request from `peer` carrying `forwarded_for`.
  std::string client_address(const std::string& peer, std::string_view forwarded_for) const;

 private:
  std::vector<Network> networks_;
};

// 16 bytes of an IPv4 (mapped) or IPv6 address in text form; nullopt when neither.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);

}  // namespace sonic::http
