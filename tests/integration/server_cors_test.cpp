// Integration: CORS (--cors-origin, --cors-allow-credentials) over real sockets against the
// real binary (issue 5, docs/auth.md). Negative cases first: start-up refusals, then the
// origins, methods and headers a preflight must refuse; then what a listed origin gets.
#include "integration/server_access_support.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

// CORS: start-up refusals.

TEST(ServerCorsStartup, WildcardWithCredentialsIsRefused) {
  auto r = serve_refused({"--cors-origin", "*", "--cors-allow-credentials"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--cors-allow-credentials")) << r.output;
  auto env = serve_refused({}, "SONIC_CORS_ORIGIN='*' SONIC_CORS_ALLOW_CREDENTIALS=true");
  EXPECT_EQ(env.exit_code, 2) << env.output;
}

TEST(ServerCorsStartup, ValueThatIsNotAnOriginIsRefused) {
  for (const char* bad : {"example.com", "https://app.example/path", "ftp://app.example",
                          "https://app.example,example.com"}) {
    auto r = serve_refused({"--cors-origin", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--cors-origin")) << r.output;
  }
}

// CORS: the default (same origin only).

TEST(ServerCorsDefault, NoOtherOriginIsAllowed) {
  ServerProcess server;
  auto c = server.client();
  auto pre = c->Options("/api/sonic/generate",
                        {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  expect_status(pre, 403, "forbidden");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Methods"));
  auto get = c->Get("/api/presets", {{"Origin", "https://app.example"}});
  expect_status(get, 200);
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Credentials"));
  EXPECT_FALSE(get->has_header("Access-Control-Expose-Headers"));
  // A plain OPTIONS (no Origin) is answered with Allow.
  auto plain = c->Options("/api/sonic/generate");
  expect_status(plain, 204);
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "POST")) << plain->get_header_value("Allow");
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "GET")) << plain->get_header_value("Allow");
  EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
}

// CORS: one listed origin.

class ServerCors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--cors-origin", kAllowed}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static httplib::Result preflight(const std::string& origin, const std::string& method,
                                   const std::string& headers = {}) {
    httplib::Headers h = {{"Origin", origin}, {"Access-Control-Request-Method", method}};
    if (!headers.empty()) h.emplace("Access-Control-Request-Headers", headers);
    return server_->client()->Options("/api/sonic/generate", h);
  }
  static constexpr const char* kAllowed = "https://app.example";
  static ServerProcess* server_;
};
ServerProcess* ServerCors::server_ = nullptr;

TEST_F(ServerCors, PreflightFromAnotherOriginIs403WithoutCorsHeaders) {
  for (const char* origin : {"https://evil.example", "http://app.example", "https://app.example.evil.example",
                             "https://app.example:8443", "null"}) {
    auto r = preflight(origin, "POST", "authorization, content-type");
    expect_status(r, 403, "forbidden");
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Methods")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Headers")) << origin;
  }
}

TEST_F(ServerCors, PreflightForAnUnlistedMethodOrHeaderIs403) {
  auto put = preflight(kAllowed, "PUT");
  expect_status(put, 403, "forbidden");
  EXPECT_FALSE(put->has_header("Access-Control-Allow-Methods"));
  expect_status(preflight(kAllowed, "PATCH", "content-type"), 403, "forbidden");
  auto evil = preflight(kAllowed, "POST", "authorization, X-Evil");
  expect_status(evil, 403, "forbidden");
  EXPECT_FALSE(evil->has_header("Access-Control-Allow-Headers"));
  expect_status(preflight(kAllowed, "POST", "cookie"), 403, "forbidden");
}

TEST_F(ServerCors, PreflightFromTheListedOriginIs204) {
  auto r = preflight(kAllowed, "POST", "authorization, content-type");
  expect_status(r, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kAllowed);
  EXPECT_TRUE(contains(r->get_header_value("Vary"), "Origin")) << r->get_header_value("Vary");
  EXPECT_TRUE(contains(r->get_header_value("Access-Control-Allow-Methods"), "POST"));
  std::string allowed_headers = r->get_header_value("Access-Control-Allow-Headers");
  EXPECT_TRUE(contains(lower(allowed_headers), "authorization")) << allowed_headers;
  EXPECT_TRUE(contains(lower(allowed_headers), "content-type")) << allowed_headers;
  EXPECT_FALSE(r->get_header_value("Access-Control-Max-Age").empty());
  EXPECT_GT(std::atoi(r->get_header_value("Access-Control-Max-Age").c_str()), 0);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  EXPECT_TRUE(r->body.empty()) << r->body;
  // Other listed methods and headers, and the origin in another case, pass too.
  expect_status(preflight(kAllowed, "DELETE", "X-API-Key"), 204);
  expect_status(preflight(kAllowed, "GET", "Last-Event-ID, Range"), 204);
  auto upper = preflight("https://APP.example", "POST");
  expect_status(upper, 204);
  EXPECT_TRUE(upper->has_header("Access-Control-Allow-Origin"));
}

TEST_F(ServerCors, ResponsesToTheListedOriginCarryCorsHeaders) {
  auto c = server_->client();
  auto check = [](const httplib::Result& r) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kAllowed);
    EXPECT_TRUE(contains(r->get_header_value("Vary"), "Origin"));
    std::string exposed = r->get_header_value("Access-Control-Expose-Headers");
    EXPECT_TRUE(contains(exposed, "Retry-After")) << exposed;
    EXPECT_TRUE(contains(exposed, "X-Request-Id")) << exposed;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  };
  auto presets = c->Get("/api/presets", {{"Origin", kAllowed}});
  expect_status(presets, 200);
  check(presets);
  // An error answer carries them too, so the page can read the JSON error.
  auto error = c->Post("/api/sonic/generate", {{"Origin", kAllowed}}, "not a form", "text/plain");
  ASSERT_TRUE(error);
  EXPECT_GE(error->status, 400) << error->body;
  EXPECT_EQ(body_json(error)["success"], false) << error->body;
  check(error);
  auto unknown = c->Get("/api/jobs/00000000-0000-4000-8000-000000000000", {{"Origin", kAllowed}});
  expect_status(unknown, 404, "not_found");
  check(unknown);
}

TEST_F(ServerCors, ResponsesToOtherOriginsCarryNoCorsHeaders) {
  auto c = server_->client();
  for (const char* origin : {"https://evil.example", "null"}) {
    auto r = c->Get("/api/presets", {{"Origin", origin}});
    expect_status(r, 200);  // the browser, not the server, keeps the answer from the page
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Expose-Headers")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials")) << origin;
  }
  auto no_origin = c->Get("/api/presets");
  expect_status(no_origin, 200);
  EXPECT_FALSE(no_origin->has_header("Access-Control-Allow-Origin"));
  auto plain = c->Options("/api/jobs");
  expect_status(plain, 204);
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "OPTIONS")) << plain->get_header_value("Allow");
}

// CORS: any origin, and credentials for a listed one.

TEST(ServerCorsWildcard, AnyOriginGetsStarAndNeverCredentials) {
  ServerProcess server({"--cors-origin", "*"});
  auto c = server.client();
  auto get = c->Get("/api/presets", {{"Origin", "https://anywhere.example"}});
  expect_status(get, 200);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Credentials"));
  auto pre = c->Options("/api/sonic/generate", {{"Origin", "http://localhost:3000"},
                                                {"Access-Control-Request-Method", "POST"},
                                                {"Access-Control-Request-Headers", "Authorization"}});
  expect_status(pre, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Credentials"));
  // Still only the listed methods.
  expect_status(c->Options("/api/sonic/generate", {{"Origin", "https://anywhere.example"},
                                                   {"Access-Control-Request-Method", "PUT"}}),
                403, "forbidden");
}

TEST(ServerCorsCredentials, ListedOriginGetsAllowCredentials) {
  ServerProcess server({"--cors-origin", "https://a.example", "--cors-allow-credentials"});
  auto c = server.client();
  auto other = c->Get("/api/presets", {{"Origin", "https://b.example"}});
  expect_status(other, 200);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Credentials"));
  auto get = c->Get("/api/presets", {{"Origin", "https://a.example"}});
  expect_status(get, 200);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Credentials"), "true");
  auto pre = c->Options("/api/jobs", {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "GET"}});
  expect_status(pre, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Credentials"), "true");
}

}  // namespace
}  // namespace sonic::test
