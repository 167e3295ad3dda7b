// Unit: the access pieces of the HTTP layer without a server (issue 5, docs/auth.md):
// the per-caller token bucket (RateLimiter, with injected time points), client addresses
// behind reverse proxies (Network, TrustedProxies), the CORS policy, and static API keys
// (Authenticator in `apikey` mode and next to JWTs, the /metrics key). Negative cases
// come first in each group.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "http/auth.h"
#include "http/client_address.h"
#include "http/cors.h"
#include "http/rate_limit.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::test {
namespace {

using http::Authenticator;
using http::AuthFailure;
using http::AuthSettings;
using http::CorsPolicy;
using http::Network;
using http::RateLimiter;
using http::TrustedProxies;
using namespace std::chrono_literals;

// Runs `fn`, expecting Error(invalid_config) whose message contains `needle`.
template <typename Fn>
void expect_config_error(Fn fn, const std::string& needle = {}) {
  try {
    fn();
    ADD_FAILURE() << "no Error thrown (expected invalid_config mentioning '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_config) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' does not mention '" << needle << "'";
  }
}

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// ---------------------------------------------------------------------------------------
// RateLimiter

const RateLimiter::Clock::time_point t0 = RateLimiter::Clock::time_point{} + 1000h;

TEST(RateLimiter, RefusesAfterTheBurstWithTheExactWait) {
  RateLimiter limiter(10, 3);  // one token every 6 s
  ASSERT_TRUE(limiter.enabled());
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(limiter.take("ip:a", t0)) << "request " << i + 1 << " of the burst";
  auto wait = limiter.take("ip:a", t0);
  ASSERT_TRUE(wait) << "the 4th request at once must be refused";
  EXPECT_NEAR(*wait, 6.0, 1e-6);
}

TEST(RateLimiter, ARefusedRequestTakesNothing) {
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(limiter.take("ip:a", t0));
  // Hammering while empty must not push the next token further away.
  for (int i = 0; i < 20; ++i) {
    auto wait = limiter.take("ip:a", t0 + 1s);
    ASSERT_TRUE(wait);
    EXPECT_NEAR(*wait, 5.0, 1e-6) << "refusal " << i;
  }
  auto later = limiter.take("ip:a", t0 + 3s);
  ASSERT_TRUE(later);
  EXPECT_NEAR(*later, 3.0, 1e-6);
  EXPECT_FALSE(limiter.take("ip:a", t0 + 6s)) << "a refused request must not have taken a token";
}

TEST(RateLimiter, RefillsOneTokenEverySixSecondsAtTenAMinute) {
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(limiter.take("ip:a", t0));
  auto almost = limiter.take("ip:a", t0 + 5900ms);
  ASSERT_TRUE(almost) << "no whole token before 6 s";
  EXPECT_NEAR(*almost, 0.1, 1e-6);
  EXPECT_FALSE(limiter.take("ip:a", t0 + 6s));
  auto next = limiter.take("ip:a", t0 + 6s);
  ASSERT_TRUE(next) << "only one token came back in 6 s";
  EXPECT_NEAR(*next, 6.0, 1e-6);
  EXPECT_FALSE(limiter.take("ip:a", t0 + 12s));
}

TEST(RateLimiter, RefillStopsAtTheBurst) {
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(limiter.take("ip:a", t0));
  auto later = t0 + 1h;  // 600 tokens' worth of time
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.take("ip:a", later));
  EXPECT_TRUE(limiter.take("ip:a", later)) << "a quiet hour must not bank more than the burst";
}

TEST(RateLimiter, DisabledAtZeroAllowsEverythingAndTracksNothing) {
  RateLimiter limiter(0, 3);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(limiter.take("ip:a", t0)) << i;
  EXPECT_EQ(limiter.tracked(), 0u);
  RateLimiter negative(-5, 3);
  EXPECT_FALSE(negative.enabled());
  EXPECT_FALSE(negative.take("ip:a", t0));
}

TEST(RateLimiter, SeparateKeysHaveSeparateBuckets) {
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(limiter.take("sub:alice", t0));
  ASSERT_TRUE(limiter.take("sub:alice", t0));
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(limiter.take("sub:bob", t0)) << "bob's request " << i + 1;
  EXPECT_TRUE(limiter.take("sub:bob", t0));
  EXPECT_TRUE(limiter.take("sub:alice", t0)) << "bob's requests must not refill alice";
  EXPECT_EQ(limiter.tracked(), 2u);
}

TEST(RateLimiter, PruningDoesNotForgetALimitedClient) {
  RateLimiter limiter(10, 1);
  // 5000 clients, each with an empty bucket: none may be dropped, or emptiness is forgotten.
  for (int i = 0; i < 5000; ++i) ASSERT_FALSE(limiter.take("ip:" + std::to_string(i), t0));
  EXPECT_EQ(limiter.tracked(), 5000u);
  for (int i = 0; i < 5000; i += 499)
    EXPECT_TRUE(limiter.take("ip:" + std::to_string(i), t0 + 1s)) << i;
}

TEST(RateLimiter, PruningKeepsTheTableBoundedAsKeysRefill) {
  RateLimiter limiter(10, 3);
  // A new client every 10 ms; each bucket is full again 6 s (600 clients) later.
  std::size_t most = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_FALSE(limiter.take("ip:" + std::to_string(i), t0 + std::chrono::milliseconds(10 * i)));
    most = std::max(most, limiter.tracked());
  }
  EXPECT_LE(most, 4097u) << "full buckets must be dropped when the table grows";
}

TEST(RateLimiter, PruneDropsOnlyFullBuckets) {
  RateLimiter limiter(10, 3);
  for (int i = 0; i < 4096; ++i) ASSERT_FALSE(limiter.take("ip:" + std::to_string(i), t0));
  ASSERT_EQ(limiter.tracked(), 4096u);
  // 6 s later every bucket (2 tokens left) is full again: the next new key prunes them all.
  ASSERT_FALSE(limiter.take("ip:new", t0 + 6s));
  EXPECT_EQ(limiter.tracked(), 1u);
}

// ---------------------------------------------------------------------------------------
// Network

TEST(Network, RejectsWhatIsNotAnAddressOrNetwork) {
  for (const char* bad : {"10.0.0.0/33", "abc", "", "1.2.3.4/", "::1/129", "1.2.3.4/x",
                          "1.2.3.4/-1", "1.2.3", "300.1.1.1", "1.2.3.4/8/8", "/8", "fe80::1::2"})
    EXPECT_FALSE(Network::parse(bad)) << "'" << bad << "'";
}

TEST(Network, ContainsNothingThatIsNotAnAddress) {
  auto any = Network::parse("0.0.0.0/0");
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->contains("abc"));
  EXPECT_FALSE(any->contains(""));
  EXPECT_FALSE(any->contains("1.2.3.4, 5.6.7.8"));
}

TEST(Network, Ipv4HostAndCidr) {
  auto host = Network::parse("192.168.1.7");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains("192.168.1.7"));
  EXPECT_FALSE(host->contains("192.168.1.8"));
  EXPECT_FALSE(host->contains("::1"));

  auto net = Network::parse("10.0.0.0/8");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains("10.0.0.1"));
  EXPECT_TRUE(net->contains("10.255.255.255"));
  EXPECT_FALSE(net->contains("11.0.0.0"));
  EXPECT_FALSE(net->contains("9.255.255.255"));
  EXPECT_TRUE(net->contains("::ffff:10.1.2.3"))
      << "an IPv4-mapped IPv6 address is that IPv4 address";

  auto odd = Network::parse("192.168.0.0/23");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains("192.168.1.255"));
  EXPECT_FALSE(odd->contains("192.168.2.0"));

  auto all = Network::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains("8.8.8.8"));
  EXPECT_FALSE(all->contains("2001:db8::1")) << "an IPv4 network holds no native IPv6 address";
}

TEST(Network, ClearsHostBits) {
  auto messy = Network::parse("10.1.2.3/8");
  auto clean = Network::parse("10.0.0.0/8");
  ASSERT_TRUE(messy && clean);
  EXPECT_EQ(messy->address, clean->address);
  EXPECT_EQ(messy->prefix_bits, clean->prefix_bits);
  EXPECT_TRUE(messy->contains("10.200.0.1"));
  EXPECT_FALSE(messy->contains("11.1.2.3"));

  auto messy6 = Network::parse("2001:db8:1:2::5/32");
  auto clean6 = Network::parse("2001:db8::/32");
  ASSERT_TRUE(messy6 && clean6);
  EXPECT_EQ(messy6->address, clean6->address);
  EXPECT_TRUE(messy6->contains("2001:db8:ffff::1"));
}

TEST(Network, Ipv6) {
  auto loop = Network::parse("::1/128");
  ASSERT_TRUE(loop);
  EXPECT_TRUE(loop->contains("::1"));
  EXPECT_TRUE(loop->contains("[::1]"));
  EXPECT_FALSE(loop->contains("::2"));
  EXPECT_FALSE(loop->contains("127.0.0.1"));

  auto net = Network::parse("2001:db8::/32");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains("2001:db8:abcd::1"));
  EXPECT_FALSE(net->contains("2001:db9::1"));
  EXPECT_FALSE(net->contains("10.0.0.1"));

  auto everything = Network::parse("::/0");
  ASSERT_TRUE(everything);
  EXPECT_TRUE(everything->contains("fe80::1"));
  EXPECT_TRUE(everything->contains("1.2.3.4"));
}

// ---------------------------------------------------------------------------------------
// TrustedProxies

TEST(TrustedProxies, BadListThrowsInvalidConfigNamingTheEntry) {
  expect_config_error([] { TrustedProxies p("127.0.0.1, nonsense"); }, "nonsense");
  expect_config_error([] { TrustedProxies p("10.0.0.0/33"); }, "10.0.0.0/33");
  expect_config_error([] { TrustedProxies p("1.2.3.4/"); }, "1.2.3.4/");
}

TEST(TrustedProxies, UntrustedPeersHeaderIsIgnored) {
  TrustedProxies proxies("10.0.0.0/8");
  EXPECT_EQ(proxies.client_address("203.0.113.5", "1.2.3.4"), "203.0.113.5");
  EXPECT_EQ(proxies.client_address("203.0.113.5", "10.0.0.1"), "203.0.113.5");
  TrustedProxies none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.client_address("127.0.0.1", "1.2.3.4"), "127.0.0.1");
  EXPECT_TRUE(TrustedProxies(" , ").empty());
}

TEST(TrustedProxies, GarbageEntryStopsTheWalk) {
  TrustedProxies proxies("10.0.0.0/8");
  // The rightmost entry is garbage: nothing in the header can be trusted, the peer is the client.
  EXPECT_EQ(proxies.client_address("10.0.0.1", "1.1.1.1, unknown"), "10.0.0.1");
  // Garbage further left: the walk stops at the last address reached, never beyond.
  EXPECT_EQ(proxies.client_address("10.0.0.1", "1.1.1.1, garbage, 10.0.0.7"), "10.0.0.7");
  EXPECT_EQ(proxies.client_address("10.0.0.1", ""), "10.0.0.1");
  EXPECT_EQ(proxies.client_address("10.0.0.1", " , "), "10.0.0.1");
}

TEST(TrustedProxies, TrustedPeerRightmostUntrustedEntryWins) {
  TrustedProxies proxies("127.0.0.1,10.0.0.0/8");
  EXPECT_TRUE(proxies.trusted("10.9.9.9"));
  EXPECT_TRUE(proxies.trusted("127.0.0.1"));
  EXPECT_FALSE(proxies.trusted("127.0.0.2"));
  EXPECT_FALSE(proxies.trusted("11.0.0.1"));
  EXPECT_EQ(proxies.client_address("127.0.0.1", "1.2.3.4"), "1.2.3.4");
  // The client may put anything on the left: only the right end is the proxy's own.
  EXPECT_EQ(proxies.client_address("127.0.0.1", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(proxies.client_address("127.0.0.1", "  1.2.3.4  "), "1.2.3.4");
}

TEST(TrustedProxies, ChainOfTrustedProxiesIsSkipped) {
  TrustedProxies proxies("127.0.0.1,10.0.0.0/8");
  EXPECT_EQ(proxies.client_address("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.7, 10.1.1.1"), "1.2.3.4");
  EXPECT_EQ(proxies.client_address("127.0.0.1", "1.2.3.4, 127.0.0.1"), "1.2.3.4");
  // Every entry trusted: the leftmost one is as far as the chain goes.
  EXPECT_EQ(proxies.client_address("127.0.0.1", "10.0.0.7, 10.1.1.1"), "10.0.0.7");
}

TEST(TrustedProxies, Ipv6PeerAndClient) {
  TrustedProxies proxies("::1, fd00::/8");
  EXPECT_EQ(proxies.client_address("::1", "2001:db8::5"), "2001:db8::5");
  EXPECT_EQ(proxies.client_address("::1", "2001:db8::5, fd12::1"), "2001:db8::5");
  EXPECT_EQ(proxies.client_address("2001:db8::9", "2001:db8::5"), "2001:db8::9");
}

// ---------------------------------------------------------------------------------------
// CorsPolicy

TEST(CorsPolicy, EmptyIsDisabledAndAllowsNothing) {
  CorsPolicy none;
  EXPECT_FALSE(none.enabled());
  EXPECT_FALSE(none.allows("https://app.example.com"));
  CorsPolicy blank("", false);
  EXPECT_FALSE(blank.enabled());
  EXPECT_FALSE(blank.allows("http://localhost:3000"));
  CorsPolicy commas(" , ,", false);
  EXPECT_FALSE(commas.enabled());
}

TEST(CorsPolicy, BadOriginsThrow) {
  for (const char* bad :
       {"example.com", "https://x.com/path", "ftp://x.com", "https://", "null", "https://x.com?q=1",
        "https://a.com, app.example.com", "https://user@x.com"})
    expect_config_error([&] { CorsPolicy p(bad, false); }, "cors-origin");
}

TEST(CorsPolicy, StarWithCredentialsThrows) {
  expect_config_error([] { CorsPolicy p("*", true); }, "cors-allow-credentials");
  expect_config_error([] { CorsPolicy p("https://a.com, *", true); }, "cors-allow-credentials");
}

TEST(CorsPolicy, NullOriginIsNeverAllowed) {
  EXPECT_FALSE(CorsPolicy("*", false).allows("null"));
  EXPECT_FALSE(CorsPolicy("*", false).allows(""));
  EXPECT_FALSE(CorsPolicy("https://a.com", false).allows("null"));
}

TEST(CorsPolicy, ExactOriginMatchCaseInsensitive) {
  CorsPolicy cors("https://App.Example.com/, http://localhost:3000", false);
  EXPECT_TRUE(cors.enabled());
  EXPECT_FALSE(cors.allow_credentials());
  EXPECT_FALSE(cors.allows("https://evil.com"));
  EXPECT_FALSE(cors.allows("http://app.example.com")) << "another scheme is another origin";
  EXPECT_FALSE(cors.allows("https://app.example.com:8443")) << "another port is another origin";
  EXPECT_FALSE(cors.allows("https://app.example.com.evil.com"));
  EXPECT_FALSE(cors.allows("https://example.com"));
  EXPECT_FALSE(cors.allows("http://localhost:3001"));
  EXPECT_TRUE(cors.allows("https://app.example.com"))
      << "the trailing slash in the config is tolerated";
  EXPECT_TRUE(cors.allows("HTTPS://APP.EXAMPLE.COM"));
  EXPECT_TRUE(cors.allows("http://localhost:3000"));
  EXPECT_EQ(cors.allow_origin_value("https://app.example.com"), "https://app.example.com");
  EXPECT_TRUE(CorsPolicy("https://a.com", true).allow_credentials());
}

TEST(CorsPolicy, StarAllowsAnyOrigin) {
  CorsPolicy cors("*", false);
  EXPECT_TRUE(cors.enabled());
  EXPECT_TRUE(cors.allows("https://anything.example"));
  EXPECT_TRUE(cors.allows("http://localhost:1234"));
  EXPECT_EQ(cors.allow_origin_value("https://anything.example"), "*");
  EXPECT_FALSE(cors.allow_credentials());
}

TEST(CorsPolicy, PreflightMethodsAndHeaders) {
  EXPECT_FALSE(CorsPolicy::method_allowed("PUT"));
  EXPECT_FALSE(CorsPolicy::method_allowed("PATCH"));
  EXPECT_FALSE(CorsPolicy::method_allowed("GET, PUT"));
  EXPECT_FALSE(CorsPolicy::method_allowed("GE"));
  EXPECT_TRUE(CorsPolicy::method_allowed("POST"));
  EXPECT_TRUE(CorsPolicy::method_allowed("DELETE"));
  EXPECT_TRUE(CorsPolicy::method_allowed("GET, DELETE"));

  EXPECT_FALSE(CorsPolicy::headers_allowed("X-Custom"));
  EXPECT_FALSE(CorsPolicy::headers_allowed("Authorization, Cookie"));
  EXPECT_FALSE(CorsPolicy::headers_allowed("Author"));
  EXPECT_TRUE(CorsPolicy::headers_allowed("authorization, content-type"));
  EXPECT_TRUE(CorsPolicy::headers_allowed("X-API-Key"));
  EXPECT_TRUE(CorsPolicy::headers_allowed("prefer,last-event-id,x-request-id"));
  EXPECT_TRUE(CorsPolicy::headers_allowed(""));
}

// ---------------------------------------------------------------------------------------
// Authenticator: API keys and the /metrics key

class ApiKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = http::make_api_key("alice", false);
    root_ = http::make_api_key("root", true);
    keys_file_ = dir_ / "keys";
    write_file(keys_file_,
               "# sonic-server API keys\n" + alice_.line + "\n\n" + root_.line + "  # the admin\n");
  }
  AuthSettings settings(const std::string& mode) const {
    AuthSettings s;
    s.mode = mode;
    s.api_keys_file = keys_file_.string();
    return s;
  }
  // A keys file with `bad` as its line 3 (after a comment and a good key).
  std::string file_with_line3(const std::string& bad) {
    auto path = dir_ / ("bad" + std::to_string(++files_));
    write_file(path, "# keys\n" + alice_.line + "\n" + bad + "\n");
    return path.string();
  }

  TempDir dir_;
  http::NewApiKey alice_, root_;
  std::filesystem::path keys_file_;
  int files_ = 0;
  const std::string secret_ = "a-jwt-secret-of-more-than-32-bytes-0123456789";
};

TEST_F(ApiKeys, WrongKeyFailsWithTokenPresent) {
  Authenticator auth(settings("apikey"));
  AuthFailure failure;
  EXPECT_FALSE(auth.authenticate("Bearer sk_sonic_" + std::string(64, '0'), now_s(), failure));
  EXPECT_TRUE(failure.token_present);
  EXPECT_FALSE(failure.description.empty());

  EXPECT_FALSE(auth.authenticate("", now_s(), failure, "sk_sonic_" + std::string(64, 'f')));
  EXPECT_TRUE(failure.token_present);

  // A key with one character changed, and the stored hash itself sent as the key.
  std::string altered = alice_.key;
  altered.back() = altered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(auth.authenticate("Bearer " + altered, now_s(), failure));
  EXPECT_TRUE(failure.token_present);
  EXPECT_FALSE(auth.authenticate("Bearer " + http::sha256_hex(alice_.key), now_s(), failure));
  EXPECT_FALSE(auth.authenticate("Basic " + alice_.key, now_s(), failure));
  EXPECT_TRUE(failure.token_present);
}

TEST_F(ApiKeys, NoCredentialsFailsWithoutTokenPresent) {
  Authenticator auth(settings("apikey"));
  AuthFailure failure;
  EXPECT_FALSE(auth.authenticate("", now_s(), failure));
  EXPECT_FALSE(failure.token_present);
  EXPECT_FALSE(failure.description.empty());
}

TEST_F(ApiKeys, ApikeyModeRefusesJwts) {
  Authenticator auth(settings("apikey"));
  AuthFailure failure;
  EXPECT_FALSE(auth.authenticate("Bearer " + http::mint_hs256_token(secret_, "alice", 600, true),
                                 now_s(), failure));
  EXPECT_TRUE(failure.token_present);
}

TEST_F(ApiKeys, MalformedKeysFilesThrowNamingTheLine) {
  auto with = [&](const std::string& line) {
    auto s = settings("apikey");
    s.api_keys_file = file_with_line3(line);
    return s;
  };
  std::string hash = "sha256:" + std::string(64, 'a');
  expect_config_error([&] { Authenticator a(with("bob")); }, "line 3");
  expect_config_error([&] { Authenticator a(with("bob md5:" + std::string(32, 'a'))); }, "line 3");
  expect_config_error([&] { Authenticator a(with("bob sha256:" + std::string(63, 'a'))); },
                      "line 3");
  expect_config_error([&] { Authenticator a(with("bob sha256:" + std::string(64, 'g'))); },
                      "line 3");
  expect_config_error([&] { Authenticator a(with("bob " + hash + " superuser")); }, "superuser");
  expect_config_error([&] { Authenticator a(with("bob " + hash + " admin extra")); }, "line 3");
  // The same key twice (even under another subject) is refused at its second line.
  std::string alice_hash = alice_.line.substr(alice_.line.find(' ') + 1);
  expect_config_error([&] { Authenticator a(with("mallory " + alice_hash)); }, "line 3");
  expect_config_error([&] { Authenticator a(with("mallory " + alice_hash)); }, "twice");
}

TEST_F(ApiKeys, EmptyOrMissingKeysFileThrows) {
  auto s = settings("apikey");
  write_file(dir_ / "empty", "");
  s.api_keys_file = (dir_ / "empty").string();
  expect_config_error([&] { Authenticator a(s); }, "no API keys");
  write_file(dir_ / "comments", "# nothing here\n   \n# still nothing\n");
  s.api_keys_file = (dir_ / "comments").string();
  expect_config_error([&] { Authenticator a(s); }, "no API keys");
  s.api_keys_file = (dir_ / "missing").string();
  expect_config_error([&] { Authenticator a(s); }, "missing");
  s.api_keys_file.clear();
  expect_config_error([&] { Authenticator a(s); }, "api-keys-file");
}

TEST_F(ApiKeys, AuthNoneWithAKeysFileThrows) {
  expect_config_error([&] { Authenticator a(settings("none")); }, "--api-keys-file");
  expect_config_error([&] { Authenticator a(settings("basic")); }, "basic");
}

TEST_F(ApiKeys, ApikeyModeAuthenticatesBearerAndXApiKey) {
  Authenticator auth(settings("apikey"));
  EXPECT_TRUE(auth.enabled());
  EXPECT_EQ(auth.api_key_count(), 2u);
  AuthFailure failure;
  auto by_bearer = auth.authenticate("Bearer " + alice_.key, now_s(), failure);
  ASSERT_TRUE(by_bearer) << failure.description;
  EXPECT_EQ(by_bearer->subject, "alice");
  EXPECT_FALSE(by_bearer->admin);

  auto by_header = auth.authenticate("", now_s(), failure, alice_.key);
  ASSERT_TRUE(by_header) << failure.description;
  EXPECT_EQ(by_header->subject, "alice");

  auto admin = auth.authenticate("Bearer " + root_.key, now_s(), failure);
  ASSERT_TRUE(admin) << failure.description;
  EXPECT_EQ(admin->subject, "root");
  EXPECT_TRUE(admin->admin);
  auto admin_header = auth.authenticate("", now_s(), failure, root_.key);
  ASSERT_TRUE(admin_header);
  EXPECT_TRUE(admin_header->admin);
}

TEST_F(ApiKeys, JwtModeWithKeysFileAcceptsBoth) {
  auto s = settings("jwt");
  s.jwt_secret = secret_;
  Authenticator auth(s);
  AuthFailure failure;
  EXPECT_FALSE(auth.authenticate(
      "Bearer " + http::mint_hs256_token(secret_ + "x", "bob", 600, false), now_s(), failure));
  EXPECT_TRUE(failure.token_present);
  EXPECT_FALSE(auth.authenticate("Bearer sk_sonic_" + std::string(64, '0'), now_s(), failure));

  auto jwt = auth.authenticate("Bearer " + http::mint_hs256_token(secret_, "bob", 600, false),
                               now_s(), failure);
  ASSERT_TRUE(jwt) << failure.description;
  EXPECT_EQ(jwt->subject, "bob");
  EXPECT_FALSE(jwt->admin);
  auto key = auth.authenticate("Bearer " + alice_.key, now_s(), failure);
  ASSERT_TRUE(key) << failure.description;
  EXPECT_EQ(key->subject, "alice");
  auto header = auth.authenticate("", now_s(), failure, root_.key);
  ASSERT_TRUE(header) << failure.description;
  EXPECT_EQ(header->subject, "root");
  EXPECT_TRUE(header->admin);
}

TEST_F(ApiKeys, MakeApiKeyLinesMatchTheKey) {
  EXPECT_THROW(http::make_api_key("", false), Error);
  EXPECT_THROW(http::make_api_key("two words", false), Error);
  EXPECT_THROW(http::make_api_key("a#b", false), Error);
  EXPECT_EQ(alice_.key.rfind("sk_sonic_", 0), 0u);
  EXPECT_EQ(alice_.key.size(), 9u + 64u);
  EXPECT_NE(alice_.key, http::make_api_key("alice", false).key) << "keys are random";
  EXPECT_EQ(alice_.line, "alice sha256:" + http::sha256_hex(alice_.key));
  EXPECT_EQ(root_.line, "root sha256:" + http::sha256_hex(root_.key) + " admin");
  EXPECT_EQ(alice_.line.find(alice_.key), std::string::npos)
      << "the line must not hold the key itself";
}

TEST(MetricsKey, ShorterThan32BytesThrows) {
  AuthSettings s;
  s.metrics_key = std::string(31, 'm');
  expect_config_error([&] { Authenticator a(s); }, "32 bytes");
  s.metrics_key = std::string(32, 'm');
  Authenticator ok(s);
  EXPECT_TRUE(ok.has_metrics_key());
  EXPECT_FALSE(ok.enabled());
}

TEST(MetricsKey, MatchesExactlyOnly) {
  AuthSettings none;
  Authenticator without(none);
  EXPECT_FALSE(without.has_metrics_key());
  EXPECT_FALSE(without.metrics_key_matches("Bearer "));
  EXPECT_FALSE(without.metrics_key_matches(""));

  AuthSettings s;
  const std::string key = "metrics-key-0123456789abcdef0123456789";
  s.metrics_key = key;
  Authenticator auth(s);
  EXPECT_FALSE(auth.metrics_key_matches(key)) << "no Bearer scheme";
  EXPECT_FALSE(auth.metrics_key_matches("Bearer " + key + "x"));
  EXPECT_FALSE(auth.metrics_key_matches("Bearer " + key.substr(0, key.size() - 1)));
  EXPECT_FALSE(auth.metrics_key_matches("Bearer x" + key));
  EXPECT_FALSE(auth.metrics_key_matches("Basic " + key));
  EXPECT_FALSE(auth.metrics_key_matches("Bearer"));
  EXPECT_FALSE(auth.metrics_key_matches("Bearer "));
  EXPECT_TRUE(auth.metrics_key_matches("Bearer " + key));
  EXPECT_TRUE(auth.metrics_key_matches("bearer " + key));
}

}  // namespace
}  // namespace sonic::test
