// parse_jwt: the header and payload of a compact JWS, decoded and judged (see jwt_parts.h).
#include "http/jwt_parts.h"

namespace sonic::http {

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4 + 3);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;  // padding or standard base64 are not base64url
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<JwtParts> parse_jwt(std::string_view token, std::string_view expected_alg, std::string& why) {
  auto refuse = [&](std::string text) -> std::optional<JwtParts> {
    why = std::move(text);
    return std::nullopt;
  };
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot1 == std::string_view::npos || dot2 == std::string_view::npos ||
      token.find('.', dot2 + 1) != std::string_view::npos || dot2 + 1 >= token.size())
    return refuse("The token is malformed (a signed JWT has three parts).");
  auto header_text = base64url_decode(token.substr(0, dot1));
  auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return refuse("The token is malformed (not base64url).");
  JwtParts parts;
  parts.header = nlohmann::json::parse(*header_text, nullptr, false);
  parts.claims = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!parts.header.is_object() || !parts.claims.is_object()) return refuse("The token is malformed (not JSON).");
  // The algorithm is the server's choice, never the token's: checked before the signature.
  const auto alg = parts.header.find("alg");
  if (alg == parts.header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != expected_alg)
    return refuse("The token must be signed with " + std::string(expected_alg) + ".");
  if (parts.header.contains("crit"))
    return refuse("The token marks header parameters as critical (crit); this server supports none.");
  parts.signing_input = token.substr(0, dot2);
  parts.signature = std::move(*signature);
  return parts;
}

}  // namespace sonic::http
