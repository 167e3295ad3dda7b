// Unit: the router (src/http/router.h): path parameters (decoded; malformed escapes and
// empty segments match nothing), the rest-of-path parameter of the page's assets (no `.`,
// `..`, encoded slash, backslash or NUL), existence predicates, 404 versus 405 with the
// Allow list, and HEAD served by GET routes. Negative cases first.
#include <gtest/gtest.h>

#include "http/router.h"

namespace sonic::test {
namespace {

using http::Access;
using http::Lane;
using http::Route;
using http::Router;

Router make_router() {
  Router r;
  auto add = [&r](const char* method, const char* pattern, Lane lane = Lane::quick) {
    r.add(Route{method, pattern, Access::public_route, lane, false, nullptr, nullptr});
  };
  add("GET", "/api/jobs");
  add("GET", "/api/jobs/{id}");
  add("DELETE", "/api/jobs/{id}");
  add("POST", "/api/jobs/{id}/cancel");
  add("GET", "/api/jobs/{id}/events", Lane::long_running);
  r.add(Route{"GET", "/{asset*}", Access::public_route, Lane::quick, false, nullptr,
              [](const std::map<std::string, std::string>& p) {
                return p.at("asset") == "app.js" || p.at("asset") == "examples/voice zh.ogg";
              }});
  return r;
}

TEST(HttpRouter, UnknownPathsAre404AndOtherMethods405WithAllow) {
  Router r = make_router();
  auto m = r.match("PUT", "/api/jobs/42");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD, OPTIONS");
  m = r.match("GET", "/api/jobs/42/cancel");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "OPTIONS, POST");
  for (const char* path : {"/api/jobs/%zz", "/api/jobs//events", "/api/jobs/", "/missing.js", "/a/../b",
                           "/a/%2e%2e/b", "/a%2fb", "/a/%5cb", "/a/%00", "/a//b", "relative"}) {
    m = r.match("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_TRUE(m.allow.empty()) << path;
  }
}

TEST(HttpRouter, ParametersAreDecodedAndHeadUsesGet) {
  Router r = make_router();
  auto m = r.match("GET", "/api/jobs/a%20b/events");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/jobs/{id}/events");
  EXPECT_EQ(m.route->lane, Lane::long_running);
  EXPECT_EQ(m.params.at("id"), "a b");
  m = r.match("HEAD", "/api/jobs");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
  ASSERT_NE(r.match("GET", "/app.js").route, nullptr);
  m = r.match("GET", "/examples/voice%20zh.ogg");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("asset"), "examples/voice zh.ogg");
}

}  // namespace
}  // namespace sonic::test
