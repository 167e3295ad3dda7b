// Integration: access control over real HTTP (issue 5, docs/auth.md). Negative cases
// first: no token, expired, not yet valid, wrong issuer/audience, wrong key, tampered
// payload, alg none, HS/RS confusion; then isolation (another user's job id on every
// route, lists, the cache), signed download URLs (tampered, expired), the refusal to
// serve a non-loopback address without auth, admin access and the token command.
//
// Tokens are made here with OpenSSL directly (not with the server's code), so a bug in
// the server's JWT handling cannot hide itself. One HS256 server and one RS256 server
// serve every test of their suite; jobs are 1 s clips at 256 px.
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <ctime>

#include "integration/server_process.h"
#include "support/base64url.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIssuer = "sonic-test";
constexpr const char* kAudience = "sonic-api";

std::string hmac_sha256(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string rs256_sign(const std::string& private_pem, const std::string& message) {
  BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EXPECT_TRUE(key);
  if (!key) return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                 message.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(message.data()), message.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return sig;
}

// ES256 as JWS wants it: the raw 32-byte r and s, not OpenSSL's DER.
std::string es256_sign(const std::string& private_pem, const std::string& message) {
  std::string der = rs256_sign(private_pem, message);  // EVP_DigestSign: DER for EC keys
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_TRUE(sig);
  if (!sig) return {};
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

json claims_for(const std::string& sub, std::int64_t ttl = 600) {
  return {
      {"sub", sub}, {"exp", now_s() + ttl}, {"iat", now_s()}, {"iss", kIssuer}, {"aud", kAudience}};
}

std::string signing_input(const json& header, const json& claims) {
  return base64url(header.dump()) + "." + base64url(claims.dump());
}

std::string hs256(const std::string& secret, const json& claims) {
  std::string input = signing_input({{"alg", "HS256"}, {"typ", "JWT"}}, claims);
  return input + "." + base64url(hmac_sha256(secret, input));
}

std::string rs256(const std::string& private_pem, const json& claims) {
  std::string input = signing_input({{"alg", "RS256"}, {"typ", "JWT"}}, claims);
  return input + "." + base64url(rs256_sign(private_pem, input));
}

httplib::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string path_of(const std::string& url) {
  auto pos = url.find("/", url.find("//") + 2);
  return url.substr(pos);
}

// Asserts a 401 with the Bearer challenge; `invalid` = a token was sent and refused.
void expect_401(const httplib::Result& r, bool invalid = true) {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(body_json(r)["code"], "unauthorized") << r->body;
  EXPECT_EQ(body_json(r)["success"], false);
  std::string challenge = r->get_header_value("WWW-Authenticate");
  EXPECT_EQ(challenge.rfind("Bearer", 0), 0u) << challenge;
  EXPECT_EQ(challenge.find("invalid_token") != std::string::npos, invalid) << challenge;
}

void expect_status(const httplib::Result& r, int status, const std::string& code = {}) {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, status) << r->body;
  if (!code.empty()) {
    EXPECT_EQ(body_json(r)["code"], code) << r->body;
  }
}

// ---------------------------------------------------------------------------------------
// HS256 server: tokens, isolation, signed URLs, admin, the token command.

class ServerAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir;
    secret_ = "test-secret-" + std::string(40, 'k');
    write_file(*keys_ / "secret", secret_ + "\n");
    server_ = new ServerProcess({"--auth", "jwt", "--jwt-secret-file", (*keys_ / "secret").string(),
                                 "--jwt-issuer", kIssuer, "--jwt-audience", kAudience, "--workers",
                                 "1", "--sse-keepalive-s", "1"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete keys_;
    server_ = nullptr;
    keys_ = nullptr;
  }
  static std::string token(const std::string& sub) { return hs256(secret_, claims_for(sub)); }
  static std::string admin_token() {
    json c = claims_for("root");
    c["admin"] = true;
    return hs256(secret_, c);
  }
  // The URL key as docs/auth.md describes it: HMAC-SHA256(secret, label).
  static std::string url_sig(const std::string& path, std::int64_t expires) {
    std::string key = hmac_sha256(secret_, "sonic-server signed download URLs v1");
    return hex(hmac_sha256(key, path + "?expires=" + std::to_string(expires)));
  }
  // One succeeded job of alice's, made once for the suite.
  static json alice_job() {
    static json job;
    if (job.is_null()) {
      auto c = server_->client();
      auto r = c->Post("/api/sonic/generate", bearer(token("alice")), quick_job(0));
      EXPECT_TRUE(r);
      if (!r) return job;
      EXPECT_EQ(r->status, 200) << r->body;
      job = body_json(r);
    }
    return job;
  }

  static TempDir* keys_;
  static std::string secret_;
  static ServerProcess* server_;
};
TempDir* ServerAuth::keys_ = nullptr;
std::string ServerAuth::secret_;
ServerProcess* ServerAuth::server_ = nullptr;

TEST_F(ServerAuth, NoTokenIs401WithBearerChallenge) {
  auto c = server_->client();
  expect_401(c->Get("/api/jobs"), /*invalid=*/false);
  expect_401(c->Get("/api/jobs/00000000-0000-4000-8000-000000000000"), false);
  expect_401(c->Post("/api/sonic/generate", quick_job(0)), false);
  expect_401(c->Get("/metrics"), false);
  expect_401(c->Get("/api/jobs", {{"Authorization", "Basic YWxpY2U6cHc="}}));
  expect_401(c->Get("/api/jobs", bearer("not-a-jwt")));
  expect_401(c->Get("/api/jobs", bearer("a.b.c")));
}

TEST_F(ServerAuth, ExpiredTokenIs401ButClockSkewIsTolerated) {
  auto c = server_->client();
  json expired = claims_for("alice");
  expired["exp"] = now_s() - 120;  // beyond the 60 s skew
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, expired))));
  json missing_exp = claims_for("alice");
  missing_exp.erase("exp");
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, missing_exp))));
  json within_skew = claims_for("alice");
  within_skew["exp"] = now_s() - 20;
  expect_status(c->Get("/api/jobs", bearer(hs256(secret_, within_skew))), 200);
}

TEST_F(ServerAuth, NotYetValidTokenIs401) {
  auto c = server_->client();
  json early = claims_for("alice");
  early["nbf"] = now_s() + 600;
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, early))));
}

TEST_F(ServerAuth, WrongAudienceOrIssuerIs401) {
  auto c = server_->client();
  json aud = claims_for("alice");
  aud["aud"] = "another-api";
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, aud))));
  json no_aud = claims_for("alice");
  no_aud.erase("aud");
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, no_aud))));
  json iss = claims_for("alice");
  iss["iss"] = "evil-issuer";
  expect_401(c->Get("/api/jobs", bearer(hs256(secret_, iss))));
  json aud_list = claims_for("alice");
  aud_list["aud"] = json::array({"other", kAudience});
  expect_status(c->Get("/api/jobs", bearer(hs256(secret_, aud_list))), 200);
}

TEST_F(ServerAuth, WrongKeyIs401) {
  auto c = server_->client();
  expect_401(c->Get("/api/jobs",
                    bearer(hs256("another-secret-" + std::string(40, 'x'), claims_for("alice")))));
}

TEST_F(ServerAuth, TamperedPayloadIs401) {
  auto c = server_->client();
  std::string good = token("alice");
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  json admin = claims_for("alice");
  admin["admin"] = true;
  std::string tampered = good.substr(0, dot1 + 1) + base64url(admin.dump()) + good.substr(dot2);
  expect_401(c->Get("/api/jobs", bearer(tampered)));
  std::string flipped = good;
  flipped[dot1 + 5] = flipped[dot1 + 5] == 'A' ? 'B' : 'A';
  expect_401(c->Get("/api/jobs", bearer(flipped)));
  expect_status(c->Get("/api/jobs", bearer(good)), 200);  // the untampered one passes
}

TEST_F(ServerAuth, AlgNoneIs401) {
  auto c = server_->client();
  json claims = claims_for("alice");
  claims["admin"] = true;
  for (const char* alg : {"none", "None", "NONE"}) {
    std::string input = signing_input({{"alg", alg}, {"typ", "JWT"}}, claims);
    expect_401(c->Get("/api/jobs", bearer(input + ".")));
    expect_401(c->Get("/metrics", bearer(input + ".")));
  }
  // An HS512 token with the right secret is still the wrong algorithm.
  std::string input = signing_input({{"alg", "HS512"}, {"typ", "JWT"}}, claims_for("alice"));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha512(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  expect_401(
      c->Get("/api/jobs",
             bearer(input + "." + base64url(std::string(reinterpret_cast<char*>(mac), len)))));
}

// Issue 10: a correctly signed token whose header lists critical extensions (`crit`) was
// accepted. RFC 7515 §4.1.11: a recipient that does not understand them must refuse it.
TEST_F(ServerAuth, UnknownCritHeaderIs401) {
  auto c = server_->client();
  auto signed_with = [&](const json& header) {
    std::string input = signing_input(header, claims_for("alice"));
    return input + "." + base64url(hmac_sha256(secret_, input));
  };
  for (const json& header : {json{{"alg", "HS256"}, {"typ", "JWT"}, {"crit", {"exp_ext"}}, {"exp_ext", 1}},
                             json{{"alg", "HS256"}, {"crit", {"b64"}}, {"b64", false}},
                             json{{"alg", "HS256"}, {"crit", json::array()}}}) {
    auto r = c->Get("/api/jobs", bearer(signed_with(header)));
    expect_401(r);
    EXPECT_NE(body_json(r)["error"].get<std::string>().find("crit"), std::string::npos) << r->body;
  }
  // The same token without `crit` passes: the refusal is about the header, not the signature.
  expect_status(c->Get("/api/jobs", bearer(signed_with({{"alg", "HS256"}, {"typ", "JWT"}}))), 200);
}

TEST_F(ServerAuth, PublicRoutesNeedNoTokenAndMetricsNeedsAdmin) {
  auto c = server_->client();
  for (const char* path :
       {"/healthz", "/readyz", "/", "/openapi.json", "/api/presets", "/api/engines"})
    expect_status(c->Get(path), 200);
  auto metrics = c->Get("/metrics", bearer(token("alice")));
  expect_status(metrics, 403, "forbidden");
  expect_status(c->Get("/metrics", bearer(admin_token())), 200);
}

TEST_F(ServerAuth, AnotherUsersJobDoesNotExist) {
  json job = alice_job();
  ASSERT_EQ(job["success"], true) << job.dump();
  std::string id = job["job_id"];
  auto c = server_->client();
  auto bob = bearer(token("bob"));
  expect_status(c->Get("/api/jobs/" + id, bob), 404, "not_found");
  expect_status(c->Get("/api/jobs/" + id + "/events", bob), 404, "not_found");
  expect_status(c->Post("/api/jobs/" + id + "/cancel", bob, "", "text/plain"), 404, "not_found");
  expect_status(c->Delete("/api/jobs/" + id, bob), 404, "not_found");
  // Bob's bearer on alice's file (no signature): the 404 of an unknown file.
  expect_status(c->Get("/output/" + id + ".mp4", bob), 404, "not_found");
  json bobs_list = body_json(c->Get("/api/jobs", bob));
  EXPECT_EQ(bobs_list["total"], 0) << bobs_list.dump();
  EXPECT_EQ(bobs_list.dump().find(id), std::string::npos);

  // The owner and an admin still see it; the job survived bob's delete.
  expect_status(c->Get("/api/jobs/" + id, bearer(token("alice"))), 200);
  json alices_list = body_json(c->Get("/api/jobs", bearer(token("alice"))));
  EXPECT_NE(alices_list.dump().find(id), std::string::npos);
  expect_status(c->Get("/api/jobs/" + id, bearer(admin_token())), 200);
  auto events = read_events(*c, "/api/jobs/" + id + "/events");  // no header: 401, no events
  EXPECT_TRUE(events.empty());
}

TEST_F(ServerAuth, CacheHitGivesTheOtherUserItsOwnJob) {
  json first = alice_job();
  ASSERT_EQ(first["success"], true);
  std::string alice_id = first["job_id"];
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate", bearer(token("carol")), quick_job(0));
  expect_status(r, 200);
  json hit = body_json(r);
  EXPECT_EQ(hit["cached"], true) << hit.dump();
  std::string carol_id = hit["job_id"];
  EXPECT_NE(carol_id, alice_id);
  // Nothing in carol's answer names alice's job.
  EXPECT_EQ(hit.dump().find(alice_id), std::string::npos) << hit.dump();
  json status = body_json(c->Get("/api/jobs/" + carol_id, bearer(token("carol"))));
  EXPECT_EQ(status.dump().find(alice_id), std::string::npos) << status.dump();
  // Carol's signed link plays; her file is the same video.
  auto video = c->Get(path_of(hit["video_url"]));
  expect_status(video, 200);
  EXPECT_EQ(video->body, read_file(first["output_path"].get<std::string>()));
  // Carol deleting her job leaves alice's video in place.
  expect_status(c->Delete("/api/jobs/" + carol_id, bearer(token("carol"))), 200);
  expect_status(c->Get(path_of(first["video_url"])), 200);
}

TEST_F(ServerAuth, IdenticalRequestsInFlightAreNotJoinedAcrossUsers) {
  auto c = server_->client();
  auto d = server_->client();
  httplib::Headers alice = bearer(token("alice")), dave = bearer(token("dave"));
  alice.emplace("Prefer", "respond-async");
  dave.emplace("Prefer", "respond-async");
  auto a = c->Post("/api/sonic/generate", alice, quick_job(7));
  auto b = d->Post("/api/sonic/generate", dave, quick_job(7));
  expect_status(a, 202);
  expect_status(b, 202);
  EXPECT_NE(body_json(a)["job_id"], body_json(b)["job_id"]);
  EXPECT_EQ(body_json(b)["joined"], false);
  std::string dave_id = body_json(b)["job_id"];
  // Let both finish so later tests see an idle queue.
  for (const auto& [h, id] :
       {std::pair{alice, body_json(a)["job_id"].get<std::string>()}, std::pair{dave, dave_id}}) {
    auto deadline = std::chrono::steady_clock::now() + 600s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string s = body_json(c->Get("/api/jobs/" + id, h))["status"];
      if (s == "succeeded" || s == "failed" || s == "canceled") break;
      std::this_thread::sleep_for(100ms);
    }
  }
}

TEST_F(ServerAuth, SignedUrlsTamperedOrExpiredAre403) {
  json job = alice_job();
  ASSERT_EQ(job["success"], true);
  std::string url = path_of(job["video_url"]);
  std::string name = job["job_id"].get<std::string>() + ".mp4";
  std::string path = "/output/" + name;
  ASSERT_NE(url.find("?expires="), std::string::npos) << url;
  ASSERT_NE(url.find("&sig="), std::string::npos) << url;
  auto c = server_->client();

  expect_status(c->Get(path), 403, "forbidden");  // no signature, no token
  expect_status(c->Get("/output/00000000-0000-4000-8000-000000000000.mp4"), 403,
                "forbidden");  // no oracle
  std::string tampered_sig = url;
  char& last = tampered_sig.back();
  last = last == '0' ? '1' : '0';
  expect_status(c->Get(tampered_sig), 403, "forbidden");
  auto e = url.find("expires=") + 8;
  std::string tampered_expiry = url;
  tampered_expiry[e + 3] = tampered_expiry[e + 3] == '9' ? '8' : '9';
  expect_status(c->Get(tampered_expiry), 403, "forbidden");
  std::int64_t past = now_s() - 10;
  expect_status(c->Get(path + "?expires=" + std::to_string(past) + "&sig=" + url_sig(path, past)),
                403, "forbidden");
  // Another file's signature does not open this one.
  std::string other = "/output/00000000-0000-4000-8000-000000000000.mp4";
  std::int64_t future = now_s() + 600;
  expect_status(
      c->Get(path + "?expires=" + std::to_string(future) + "&sig=" + url_sig(other, future)), 403);

  // What works: the video_url as given, a fresh signature made the documented way, the
  // owner's bearer, an admin's bearer; Range still applies.
  auto whole = c->Get(url);
  expect_status(whole, 200);
  EXPECT_EQ(whole->get_header_value("Content-Type"), "video/mp4");
  expect_status(
      c->Get(path + "?expires=" + std::to_string(future) + "&sig=" + url_sig(path, future)), 200);
  expect_status(c->Get(path, bearer(token("alice"))), 200);
  expect_status(c->Get(path, bearer(admin_token())), 200);
  auto part = c->Get(url, {{"Range", "bytes=0-99"}});
  expect_status(part, 206);
  EXPECT_EQ(part->body.size(), 100u);
}

TEST_F(ServerAuth, AdminSeesEveryJob) {
  json job = alice_job();
  ASSERT_EQ(job["success"], true);
  auto c = server_->client();
  json list = body_json(c->Get("/api/jobs?limit=100", bearer(admin_token())));
  EXPECT_NE(list.dump().find(job["job_id"].get<std::string>()), std::string::npos) << list.dump();
  EXPECT_GE(list["total"].get<int>(), 1);
  // A custom claim works as configured by default: scope containing "admin".
  json scoped = claims_for("ops");
  scoped["scope"] = "read admin";
  expect_status(c->Get("/metrics", bearer(hs256(secret_, scoped))), 200);
}

TEST_F(ServerAuth, TokenCommandRoundTrip) {
  std::string base = shell_quote(sonic_binary().string()) + " token --secret-file " +
                     shell_quote((*keys_ / "secret").string()) + " --issuer " + kIssuer +
                     " --audience " + kAudience;
  auto user = run(base + " --sub erin --ttl 1h 2>/dev/null");
  ASSERT_EQ(user.exit_code, 0) << user.output;
  std::string t = user.output.substr(0, user.output.find_last_not_of("\n") + 1);
  auto c = server_->client();
  expect_status(c->Get("/api/jobs", bearer(t)), 200);
  expect_status(c->Get("/metrics", bearer(t)), 403);
  auto admin = run(base + " --sub erin --ttl 10m --admin 2>/dev/null");
  ASSERT_EQ(admin.exit_code, 0) << admin.output;
  std::string at = admin.output.substr(0, admin.output.find_last_not_of("\n") + 1);
  expect_status(c->Get("/metrics", bearer(at)), 200);
  EXPECT_EQ(run(base + " --sub erin --ttl soon").exit_code, 2);
  write_file(*keys_ / "short", "short");
  EXPECT_EQ(run(shell_quote(sonic_binary().string()) + " token --sub erin --secret-file " +
                shell_quote((*keys_ / "short").string()))
                .exit_code,
            2);
}

// ---------------------------------------------------------------------------------------
// RS256 server: algorithm confusion.

class ServerAuthRsa : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir;
    std::string dir = shell_quote(keys_->path().string());
    for (const char* name : {"key", "other"})
      run_ok("openssl genrsa -out " + dir + "/" + name +
             ".pem 2048 2>/dev/null && openssl rsa -in " + dir + "/" + name + ".pem -pubout -out " +
             dir + "/" + name + ".pub 2>/dev/null");
    server_ =
        new ServerProcess({"--auth", "jwt", "--jwt-public-key", (*keys_ / "key.pub").string()});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete keys_;
    server_ = nullptr;
    keys_ = nullptr;
  }
  static TempDir* keys_;
  static ServerProcess* server_;
};
TempDir* ServerAuthRsa::keys_ = nullptr;
ServerProcess* ServerAuthRsa::server_ = nullptr;

TEST_F(ServerAuthRsa, HsTokenSignedWithThePublicKeyIs401) {
  auto c = server_->client();
  std::string public_pem = read_file(*keys_ / "key.pub");
  json claims = claims_for("mallory");
  claims["admin"] = true;
  expect_401(c->Get("/api/jobs", bearer(hs256(public_pem, claims))));
  std::string trimmed = public_pem.substr(0, public_pem.find_last_not_of("\n") + 1);
  expect_401(c->Get("/api/jobs", bearer(hs256(trimmed, claims))));
  expect_401(c->Get("/metrics", bearer(hs256(public_pem, claims))));
}

TEST_F(ServerAuthRsa, AlgNoneAndWrongRsaKeyAre401) {
  auto c = server_->client();
  std::string input = signing_input({{"alg", "none"}}, claims_for("mallory"));
  expect_401(c->Get("/api/jobs", bearer(input + ".")));
  expect_401(
      c->Get("/api/jobs", bearer(rs256(read_file(*keys_ / "other.pem"), claims_for("mallory")))));
}

TEST_F(ServerAuthRsa, ValidRs256TokenIsAccepted) {
  auto c = server_->client();
  std::string good = rs256(read_file(*keys_ / "key.pem"), claims_for("alice"));
  expect_status(c->Get("/api/jobs", bearer(good)), 200);
  json expired = claims_for("alice");
  expired["exp"] = now_s() - 3600;
  expect_401(c->Get("/api/jobs", bearer(rs256(read_file(*keys_ / "key.pem"), expired))));
}

// ---------------------------------------------------------------------------------------
// ES256 server.

TEST(ServerAuthEcdsa, Es256TokensVerifyAndOthersDoNot) {
  TempDir keys;
  std::string dir = shell_quote(keys.path().string());
  run_ok("openssl ecparam -name prime256v1 -genkey -noout -out " + dir +
         "/ec.pem 2>/dev/null && openssl ec -in " + dir + "/ec.pem -pubout -out " + dir +
         "/ec.pub 2>/dev/null");
  ServerProcess server({"--auth", "jwt", "--jwt-public-key", (keys / "ec.pub").string()});
  auto c = server.client();
  std::string pem = read_file(keys / "ec.pem");
  std::string input = signing_input({{"alg", "ES256"}, {"typ", "JWT"}}, claims_for("alice"));
  expect_status(c->Get("/api/jobs", bearer(input + "." + base64url(es256_sign(pem, input)))), 200);
  std::string other = signing_input({{"alg", "ES256"}, {"typ", "JWT"}}, claims_for("bob"));
  expect_401(
      c->Get("/api/jobs",
             bearer(other + "." + base64url(es256_sign(pem, input)))));  // another payload's sig
  expect_401(c->Get("/api/jobs", bearer(hs256(read_file(keys / "ec.pub"), claims_for("alice")))));
}

// ---------------------------------------------------------------------------------------
// Start-up rules: no server is left running.

TEST(ServerAuthStartup, NonLoopbackWithoutAuthIsRefused) {
  TempDir dir;
  std::string serve = shell_quote(sonic_binary().string()) + " serve --port 0 --data-dir " +
                      shell_quote((dir / "data").string());
  auto started = std::chrono::steady_clock::now();
  auto refused = run("timeout 20 " + serve + " --host 0.0.0.0");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--insecure-no-auth"), std::string::npos) << refused.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  auto env = run("SONIC_AUTH=none timeout 20 " + serve + " --host ::");
  EXPECT_EQ(env.exit_code, 2) << env.output;
  // jwt without a key, and a secret that is too short, are refused too.
  EXPECT_EQ(run("timeout 20 " + serve + " --auth jwt").exit_code, 2);
  EXPECT_EQ(run("SONIC_JWT_SECRET=short timeout 20 " + serve + " --auth jwt").exit_code, 2);
}

}  // namespace
}  // namespace sonic::test
