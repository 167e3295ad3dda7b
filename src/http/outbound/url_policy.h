// http/outbound/ — the server's own HTTP requests to the outside: fetching inputs given by
// URL (image_url, audio_url) and delivering webhooks (issue 15). The one rule of this
// folder: a URL from a client never makes the server reach an address it may not reach
// (server-side request forgery). See outbound_client.h for how a request is made.
//
// This file: which URLs and addresses are allowed.
//   - URLs: absolute http(s) with a host, no user:password, at most 2,048 characters;
//     https only unless --url-allow-http.
//   - Addresses (every one a name resolves to, and every literal): IPv4 public unicast
//     only — not 0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16 (link-local, the cloud
//     metadata service), 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16,
//     198.18/15, 198.51.100/24, 203.0.113/24, 224/4 (multicast), 240/4, broadcast; IPv6
//     global unicast (2000::/3) only — not Teredo 2001::/32, ORCHID 2001:10::/28 and
//     2001:20::/28, documentation 2001:db8::/32 and 3fff::/20; and IPv6 forms that carry an
//     IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96,
//     6to4 2002::/16) are judged by that IPv4 address.
//   - An allow-list (--url-allow, networks) lets chosen refused addresses through: a
//     gateway on a private network, or a test server on loopback.
//
// Plain C++. Threads: immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/client_address.h"

namespace sonic::http {

struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // lower case; an IPv6 literal without brackets
  int port = 0;
  std::string target;  // path and query, at least "/"; the fragment dropped
  bool host_is_ip = false;

  bool tls() const { return scheme == "https"; }
  // host[:port] as the Host header and logs write it (IPv6 in brackets).
  std::string authority() const;
  std::string text() const { return scheme + "://" + authority() + target; }
};

// Parses an absolute http(s) URL. Throws Error(invalid_param, field) saying what is wrong.
Url parse_url(std::string_view text, const std::string& field);
// `location` (absolute, scheme-relative, absolute-path or relative) against `base`.
Url resolve_location(const Url& base, std::string_view location, const std::string& field);

class UrlPolicy {
 public:
  UrlPolicy() = default;
  UrlPolicy(std::vector<Network> allow, bool allow_http) : allow_(std::move(allow)), allow_http_(allow_http) {}

  // Throws Error(forbidden_url, field) when the scheme is not allowed.
  void check_scheme(const Url& url, const std::string& field) const;
  // Why this address (16 bytes, IPv4 mapped) may not be reached, e.g. "loopback"; empty when it may.
  std::string refusal(const std::array<std::uint8_t, 16>& address) const;
  bool allow_http() const { return allow_http_; }

 private:
  std::vector<Network> allow_;
  bool allow_http_ = false;
};

// Comma-separated networks ("127.0.0.1,10.0.0.0/8"); Error(invalid_config, flag) naming a
// bad entry.
std::vector<Network> parse_networks(std::string_view list, const std::string& flag);

// Why an address is special ("loopback", "private network", …); empty for public unicast.
// The allow-list is not consulted (UrlPolicy::refusal does that).
std::string special_address_kind(const std::array<std::uint8_t, 16>& address);
// Text of a 16-byte address (IPv4-mapped ones as dotted IPv4).
std::string address_text(const std::array<std::uint8_t, 16>& address);

}  // namespace sonic::http
