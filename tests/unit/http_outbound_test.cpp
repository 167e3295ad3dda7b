// Unit: what the outbound client may reach (every special IPv4 and IPv6 range, the forms
// that carry an IPv4 address, the allow-list), URL parsing and redirect resolution, and
// the strict response-head parser.
#include <gtest/gtest.h>

#include "http/outbound/url_policy.h"
#include "http/wire/response_head.h"
#include "util/error.h"

namespace sonic::http {
namespace {

std::array<std::uint8_t, 16> ip(const std::string& text) {
  auto a = parse_ip(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(std::array<std::uint8_t, 16>{});
}

TEST(UrlPolicy, RefusesEverySpecialAddress) {
  for (const char* a :
       {"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.0.1", "100.64.0.1", "100.127.255.255", "169.254.169.254", "169.254.0.1",
        "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9", "192.88.99.1", "198.18.0.1", "198.19.255.255",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::", "::1", "::ffff:127.0.0.1",
        "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
        "64:ff9b:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "fc00::1", "fd00:ec2::254", "fe80::1", "fec0::1",
        "ff02::1", "100::1", "2001:db8::1", "2001::1", "2001:10::1", "2001:20::1", "3fff::1", "4000::1"}) {
    EXPECT_FALSE(special_address_kind(ip(a)).empty()) << a;
  }
}

TEST(UrlPolicy, AllowsPublicAddresses) {
  for (const char* a : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                        "169.253.255.255", "192.169.0.1", "223.255.255.255", "::ffff:8.8.8.8", "64:ff9b::808:808",
                        "2002:808:808::1", "2606:4700:4700::1111", "2a00:1450:4001::1"}) {
    EXPECT_EQ(special_address_kind(ip(a)), "") << a;
  }
}

TEST(UrlPolicy, TheAllowListLetsChosenNetworksThrough) {
  UrlPolicy none;
  EXPECT_EQ(none.refusal(ip("127.0.0.2")), "loopback");
  UrlPolicy policy(parse_networks("127.0.0.2, 10.0.0.0/8", "url-allow"), false);
  EXPECT_EQ(policy.refusal(ip("127.0.0.2")), "");
  EXPECT_EQ(policy.refusal(ip("::ffff:127.0.0.2")), "");  // the mapped form is the same address
  EXPECT_EQ(policy.refusal(ip("10.9.9.9")), "");
  EXPECT_EQ(policy.refusal(ip("127.0.0.1")), "loopback");
  EXPECT_EQ(policy.refusal(ip("::1")), "loopback");
  EXPECT_EQ(policy.refusal(ip("169.254.169.254")).find("link-local"), 0u);
  EXPECT_THROW(parse_networks("127.0.0.1,nonsense", "url-allow"), Error);
  Url http = parse_url("http://example.com/a", "image_url");
  EXPECT_THROW(policy.check_scheme(http, "image_url"), Error);
  UrlPolicy(parse_networks("", "url-allow"), true).check_scheme(http, "image_url");
}

TEST(UrlParse, AbsoluteHttpUrlsOnly) {
  Url u = parse_url("HTTPS://Example.COM:8443/a/b.png?x=1#frag", "image_url");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.target, "/a/b.png?x=1");
  EXPECT_FALSE(u.host_is_ip);
  EXPECT_EQ(u.authority(), "example.com:8443");
  Url v6 = parse_url("http://[::FFFF:127.0.0.1]/", "image_url");
  EXPECT_EQ(v6.host, "::ffff:127.0.0.1");
  EXPECT_TRUE(v6.host_is_ip);
  EXPECT_EQ(v6.authority(), "[::ffff:127.0.0.1]");
  EXPECT_EQ(parse_url("https://h?q", "f").target, "/?q");
  EXPECT_EQ(parse_url("https://h", "f").port, 443);
  for (const char* bad : {"", "example.com/a.png", "ftp://h/a", "file:///etc/passwd", "https://", "https:///x",
                          "https://u:p@h/", "https://h@evil/", "https://h:0/", "https://h:65536/", "https://h:/",
                          "https://h:8a/", "https://[::1/", "https://[fe80::1%25eth0]/", "https://h/a b",
                          "https://h/\x01", "https://h\xc3\xa9/", "https://h%2e/", "gopher://h/"}) {
    try {
      parse_url(bad, "image_url");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_param) << bad;
      EXPECT_EQ(e.field(), "image_url");
    }
  }
  EXPECT_THROW(parse_url("https://h/" + std::string(2100, 'a'), "f"), Error);
}

TEST(UrlParse, RedirectLocations) {
  Url base = parse_url("https://cdn.example.com:8443/dir/file.png?x=1", "f");
  EXPECT_EQ(resolve_location(base, "https://other.example/a", "f").text(), "https://other.example/a");
  EXPECT_EQ(resolve_location(base, "//third.example/b", "f").text(), "https://third.example/b");
  EXPECT_EQ(resolve_location(base, "/root.png", "f").text(), "https://cdn.example.com:8443/root.png");
  EXPECT_EQ(resolve_location(base, "next.png", "f").text(), "https://cdn.example.com:8443/dir/next.png");
  EXPECT_EQ(resolve_location(base, "http://127.0.0.1/", "f").host, "127.0.0.1");
  EXPECT_THROW(resolve_location(base, "ftp://h/", "f"), Error);
}

TEST(ResponseHead, ParsesStrictly) {
  std::string why;
  auto h = wire::parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX: y\r\n\r\n", why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(*h->content_length, 12u);
  EXPECT_FALSE(h->close);
  EXPECT_EQ(h->field("x"), "y");
  h = wire::parse_response_head("HTTP/1.1 302\r\nLocation: /a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", why);
  ASSERT_TRUE(h) << why;
  EXPECT_TRUE(h->chunked);
  EXPECT_FALSE(h->content_length);  // chunked wins (RFC 9112 §6.3)
  h = wire::parse_response_head("HTTP/1.0 200 OK\r\n\r\n", why);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->close);
  for (const char* bad :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n", "HTTP/1.1 200 OK\r\n"}) {
    EXPECT_FALSE(wire::parse_response_head(bad, why)) << bad;
  }
  EXPECT_EQ(wire::find_head_end("HTTP/1.1 200 OK\r\n\r\nbody"), 19u);
  EXPECT_EQ(wire::find_head_end("HTTP/1.1 200 OK\r\n"), 0u);
}

}  // namespace
}  // namespace sonic::http
