// URLs and the addresses they may reach (see url_policy.h).
#include "http/outbound/url_policy.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

#include "util/error.h"

namespace sonic::http {

namespace {

constexpr std::size_t kMaxUrl = 2048;

bool in_v4(const std::uint8_t* a, std::uint8_t b0, std::uint8_t b1, std::uint8_t b2, std::uint8_t b3, int bits) {
  const std::uint32_t ip = (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) | (std::uint32_t{a[2]} << 8) | a[3];
  const std::uint32_t net = (std::uint32_t{b0} << 24) | (std::uint32_t{b1} << 16) | (std::uint32_t{b2} << 8) | b3;
  const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (ip & mask) == (net & mask);
}

std::string v4_kind(const std::uint8_t* a) {
  if (in_v4(a, 0, 0, 0, 0, 8)) return "\"this network\" (0.0.0.0/8)";
  if (in_v4(a, 127, 0, 0, 0, 8)) return "loopback";
  if (in_v4(a, 10, 0, 0, 0, 8) || in_v4(a, 172, 16, 0, 0, 12) || in_v4(a, 192, 168, 0, 0, 16)) return "private network";
  if (in_v4(a, 100, 64, 0, 0, 10)) return "shared address space (carrier-grade NAT)";
  if (in_v4(a, 169, 254, 0, 0, 16)) return "link-local (cloud metadata service)";
  if (in_v4(a, 192, 0, 0, 0, 24)) return "IETF protocol assignments";
  if (in_v4(a, 192, 0, 2, 0, 24) || in_v4(a, 198, 51, 100, 0, 24) || in_v4(a, 203, 0, 113, 0, 24)) return "documentation";
  if (in_v4(a, 192, 88, 99, 0, 24)) return "6to4 relay anycast";
  if (in_v4(a, 198, 18, 0, 0, 15)) return "benchmarking";
  if (in_v4(a, 224, 0, 0, 0, 4)) return "multicast";
  if (in_v4(a, 240, 0, 0, 0, 4)) return "reserved (240.0.0.0/4, broadcast)";
  return {};
}

bool prefix_is(const std::array<std::uint8_t, 16>& a, std::initializer_list<std::uint8_t> prefix, int bits) {
  std::array<std::uint8_t, 16> net{};
  std::copy(prefix.begin(), prefix.end(), net.begin());
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

bool in_network(const Network& n, const std::array<std::uint8_t, 16>& a) {
  int bits = n.prefix_bits;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (n.address[i] & mask)) return false;
  }
  return true;
}

bool reg_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
}

int default_port(const std::string& scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

std::vector<Network> parse_networks(std::string_view list, const std::string& flag) {
  std::vector<Network> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      auto n = Network::parse(item);
      if (!n) throw Error(ErrorCode::invalid_config, "--" + flag + ": '" + std::string(item) + "' is not an IP address or network.", flag);
      out.push_back(*n);
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string special_address_kind(const std::array<std::uint8_t, 16>& a) {
  const std::array<std::uint8_t, 16> zero{};
  // Forms that carry an IPv4 address are judged by it.
  if (prefix_is(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96)) return v4_kind(a.data() + 12);
  if (prefix_is(a, {0x00, 0x64, 0xff, 0x9b}, 96)) {
    std::string kind = v4_kind(a.data() + 12);
    return kind.empty() ? kind : kind + ", through NAT64";
  }
  if (prefix_is(a, {0x20, 0x02}, 16)) {
    std::string kind = v4_kind(a.data() + 2);
    return kind.empty() ? kind : kind + ", through 6to4";
  }
  if (a == zero) return "unspecified (::)";
  std::array<std::uint8_t, 16> one{};
  one[15] = 1;
  if (a == one) return "loopback";
  if (prefix_is(a, {}, 96)) return "IPv4-compatible (deprecated) " + v4_kind(a.data() + 12);
  if (prefix_is(a, {0xfc}, 7)) return "private network (unique local)";
  if (prefix_is(a, {0xfe, 0x80}, 10)) return "link-local";
  if (prefix_is(a, {0xfe, 0xc0}, 10)) return "site-local (deprecated)";
  if (prefix_is(a, {0xff}, 8)) return "multicast";
  if (!prefix_is(a, {0x20}, 3)) return "not a global unicast address";
  if (prefix_is(a, {0x20, 0x01, 0x0d, 0xb8}, 32) || prefix_is(a, {0x3f, 0xff}, 20)) return "documentation";
  if (prefix_is(a, {0x20, 0x01, 0x00, 0x00}, 32)) return "Teredo tunnel";
  if (prefix_is(a, {0x20, 0x01, 0x00, 0x10}, 28) || prefix_is(a, {0x20, 0x01, 0x00, 0x20}, 28)) return "ORCHID";
  return {};
}

std::string address_text(const std::array<std::uint8_t, 16>& a) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (prefix_is(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96)) inet_ntop(AF_INET, a.data() + 12, text, sizeof text);
  else inet_ntop(AF_INET6, a.data(), text, sizeof text);
  return text;
}

std::string UrlPolicy::refusal(const std::array<std::uint8_t, 16>& address) const {
  for (const auto& n : allow_)
    if (in_network(n, address)) return {};
  return special_address_kind(address);
}

void UrlPolicy::check_scheme(const Url& url, const std::string& field) const {
  if (url.scheme == "http" && !allow_http_)
    throw Error(ErrorCode::forbidden_url,
                field + " must be an https:// URL (this server fetches plain http:// only when started with --url-allow-http).",
                field);
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == default_port(scheme) ? h : h + ":" + std::to_string(port);
}

Url parse_url(std::string_view text, const std::string& field) {
  auto bad = [&](const std::string& why) { return Error(ErrorCode::invalid_param, field + " " + why, field); };
  if (text.empty()) throw bad("is empty.");
  if (text.size() > kMaxUrl) throw bad("is longer than 2048 characters.");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) throw bad("has a space, a control or a non-ASCII character (percent-encode it).");
  }
  Url url;
  auto colon = text.find("://");
  if (colon == std::string_view::npos) throw bad("is not an absolute URL (https://host/path).");
  for (char c : text.substr(0, colon)) url.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (url.scheme != "http" && url.scheme != "https") throw bad("must be an https:// URL.");
  std::string_view rest = text.substr(colon + 3);
  auto fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (url.target.front() == '?') url.target = "/" + url.target;
  if (authority.find('@') != std::string_view::npos) throw bad("may not contain a user name or password.");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("has an unterminated IPv6 address.");
    std::string literal(authority.substr(1, close - 1));
    in6_addr v6{};
    if (literal.find('%') != std::string::npos || inet_pton(AF_INET6, literal.c_str(), &v6) != 1)
      throw bad("has an invalid IPv6 address.");
    url.host = literal;
    for (char& c : url.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    url.host_is_ip = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("has characters after the IPv6 address.");
      port_text = after.substr(1);
      if (port_text.empty()) throw bad("has an empty port.");
    }
  } else {
    auto port_colon = authority.rfind(':');
    std::string_view host = authority.substr(0, port_colon);
    if (port_colon != std::string_view::npos) {
      port_text = authority.substr(port_colon + 1);
      if (port_text.empty()) throw bad("has an empty port.");
    }
    if (host.empty()) throw bad("has no host.");
    if (host.size() > 253) throw bad("has a host name longer than 253 characters.");
    for (char c : host) {
      if (!reg_name_char(c)) throw bad("has a character its host name may not have.");
      url.host += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    in_addr v4{};
    url.host_is_ip = inet_pton(AF_INET, url.host.c_str(), &v4) == 1;
  }
  url.port = default_port(url.scheme);
  if (!port_text.empty()) {
    if (port_text.size() > 5) throw bad("has a port out of range.");
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') throw bad("has a port that is not a number.");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) throw bad("has a port out of range.");
    url.port = port;
  }
  return url;
}

Url resolve_location(const Url& base, std::string_view location, const std::string& field) {
  if (location.find("://") != std::string_view::npos && location.find("://") < location.find_first_of("/?#"))
    return parse_url(location, field);
  if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location), field);
  std::string target;
  if (!location.empty() && location.front() == '/') {
    target = std::string(location);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  return parse_url(base.scheme + "://" + base.authority() + target, field);
}

}  // namespace sonic::http
