#include "http/client_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "http/header_text.h"
#include "util/error.h"

namespace sonic::http {

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view raw) {
  std::string text(trim(raw));
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<Network> Network::parse(std::string_view raw) {
  std::string_view text = trim(raw);
  Network net;
  auto slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  net.address = *ip;
  bool v4 = std::string_view(text.substr(0, slash)).find(':') == std::string_view::npos;
  int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      bits = bits * 10 + (c - '0');
    }
    if (bits > max_bits) return std::nullopt;
  }
  net.prefix_bits = v4 ? bits + 96 : bits;
  // Clear host bits so "10.1.2.3/8" means 10.0.0.0/8.
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, net.prefix_bits - 8 * i));
    net.address[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return net;
}

bool Network::contains(std::string_view text) const {
  auto ip = parse_ip(text);
  if (!ip) return false;
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, prefix_bits - 8 * i));
    auto mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    if (((*ip)[i] & mask) != address[i]) return false;
  }
  return true;
}

TrustedProxies::TrustedProxies(std::string_view list) {
  for (std::string_view item : comma_items(list)) {
    if (item.empty()) continue;
    auto net = Network::parse(item);
    if (!net)
      throw Error(ErrorCode::invalid_config,
                  "--trusted-proxy: '" + std::string(item) + "' is not an IP address or CIDR network.",
                  "trusted-proxy");
    networks_.push_back(*net);
  }
}

bool TrustedProxies::trusted(std::string_view ip) const {
  for (const auto& n : networks_)
    if (n.contains(ip)) return true;
  return false;
}

std::string TrustedProxies::client_address(const std::string& peer, std::string_view forwarded_for) const {
  if (networks_.empty() || forwarded_for.empty() || !trusted(peer)) return peer;
  std::string client = peer;
  const auto items = comma_items(forwarded_for);
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    std::string_view item = *it;
    if (!parse_ip(item)) break;  // garbage: stop at the last address we could trust
    client = std::string(item);
    if (!trusted(item)) break;
  }
  return client;
}

}  // namespace sonic::http
