// base64url without padding (RFC 7515 §2), written independently of the server's decoder
// so tests that build JWTs by hand cannot inherit a bug from the code they test.
#pragma once

#include <string>

namespace sonic::test {

inline std::string base64url(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(table[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(table[(buffer << (6 - bits)) & 63]);
  return out;
}

}  // namespace sonic::test
