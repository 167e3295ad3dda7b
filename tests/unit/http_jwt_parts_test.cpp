// Unit: parse_jwt, the part of JWT checking that sees the attacker's bytes before any key
// does (http/jwt_parts.h): three base64url parts, JSON objects, the configured alg only,
// no `crit`. Negative cases first; the fuzz target auth_jwt_header_fuzz drives the same code.
#include <gtest/gtest.h>

#include <string>

#include "http/jwt_parts.h"
#include "support/base64url.h"

namespace sonic::http {
namespace {

using nlohmann::json;

std::string token(const json& header, const json& claims = {{"sub", "a"}}, const std::string& sig = "sig") {
  return test::base64url(header.dump()) + "." + test::base64url(claims.dump()) + "." + test::base64url(sig);
}

std::string refusal(const std::string& text, const std::string& alg = "HS256") {
  std::string why;
  auto parts = parse_jwt(text, alg, why);
  EXPECT_FALSE(parts) << "accepted: " << text;
  EXPECT_FALSE(why.empty());
  return why;
}

TEST(JwtParts, RefusesWhatIsNotThreeParts) {
  for (const std::string& text : {std::string(), std::string("."), std::string(".."), std::string("a.b"),
                                  std::string("a.b."), std::string("a.b.c.d"), token({{"alg", "HS256"}}) + ".x"})
    EXPECT_NE(refusal(text).find("three parts"), std::string::npos) << text;
}

TEST(JwtParts, RefusesPaddingAndStandardBase64) {
  std::string good = token({{"alg", "HS256"}});
  EXPECT_NE(refusal(good + "=").find("base64url"), std::string::npos);
  std::string plus = good;
  plus[1] = '+';
  EXPECT_NE(refusal(plus).find("base64url"), std::string::npos);
}

TEST(JwtParts, RefusesHeadersOrClaimsThatAreNotObjects) {
  EXPECT_NE(refusal(test::base64url("[1]") + "." + test::base64url("{}") + ".c2ln").find("JSON"), std::string::npos);
  EXPECT_NE(refusal(token({{"alg", "HS256"}}, json::array())).find("JSON"), std::string::npos);
  EXPECT_NE(refusal(test::base64url("{\"alg\":") + "." + test::base64url("{}") + ".c2ln").find("JSON"), std::string::npos);
}

TEST(JwtParts, TheServerChoosesTheAlgorithm) {
  for (const json& alg : {json("none"), json("HS512"), json("hs256"), json(256), json(nullptr)})
    EXPECT_NE(refusal(token({{"alg", alg}})).find("must be signed with HS256"), std::string::npos) << alg;
  EXPECT_NE(refusal(token({{"typ", "JWT"}})).find("HS256"), std::string::npos);
  EXPECT_NE(refusal(token({{"alg", "HS256"}}), "RS256").find("RS256"), std::string::npos);
}

TEST(JwtParts, RefusesAnyCriticalExtension) {
  for (const json& crit : {json::array({"exp_ext"}), json::array({"b64"}), json::array(), json("x"), json(nullptr)})
    EXPECT_NE(refusal(token({{"alg", "HS256"}, {"crit", crit}, {"exp_ext", 1}, {"b64", false}})).find("crit"),
              std::string::npos)
        << crit;
}

TEST(JwtParts, SplitsAGoodToken) {
  std::string text = token({{"alg", "ES256"}, {"typ", "JWT"}, {"kid", "k1"}}, {{"sub", "alice"}, {"exp", 5}}, "\x01\x02");
  std::string why;
  auto parts = parse_jwt(text, "ES256", why);
  ASSERT_TRUE(parts) << why;
  EXPECT_EQ(parts->header["kid"], "k1");
  EXPECT_EQ(parts->claims["sub"], "alice");
  EXPECT_EQ(parts->signature, "\x01\x02");
  EXPECT_EQ(parts->signing_input, text.substr(0, text.rfind('.')));
}

TEST(Base64Url, DecodesWithoutPaddingAndRefusesOtherAlphabets) {
  EXPECT_EQ(base64url_decode("aGk"), "hi");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_FALSE(base64url_decode("aGk="));
  EXPECT_FALSE(base64url_decode("+/8"));
}

}  // namespace
}  // namespace sonic::http
