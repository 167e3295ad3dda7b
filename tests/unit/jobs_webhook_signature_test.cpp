// Unit: Standard Webhooks signing (the specification's published test vector), the secret
// format and file, base64, and the webhook_events values.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "jobs/webhook_sender.h"
#include "jobs/webhook_signature.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::jobs {
namespace {

TEST(WebhookSignature, ReproducesTheSpecificationTestVector) {
  WebhookSigner signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  EXPECT_EQ(signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Any change to id, timestamp or body changes the signature.
  EXPECT_NE(signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_NE(signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJel", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_NE(signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test":2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, SecretsMustBeWhsecBase64) {
  for (const std::string bad : {"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!",
                                "whsec_YWJj" /* 3 bytes: too short */, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"}) {
    try {
      WebhookSigner s(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_config) << bad;
    }
  }
  std::string made = new_webhook_secret();
  EXPECT_EQ(made.rfind("whsec_", 0), 0u);
  std::string key;
  ASSERT_TRUE(base64_decode(made.substr(6), key));
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(made, new_webhook_secret());
  WebhookSigner ok(made);
}

TEST(WebhookSignature, Base64RoundTripsAndRefusesNonsense) {
  for (std::string bytes : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                            std::string("\0\xff\x10\x80", 4)}) {
    std::string back;
    if (bytes.empty()) continue;
    ASSERT_TRUE(base64_decode(base64_encode(bytes), back)) << bytes;
    EXPECT_EQ(back, bytes);
  }
  std::string out;
  for (const char* bad : {"", "a", "abc", "ab=c", "a===", "ab$d", "YW Jj"}) EXPECT_FALSE(base64_decode(bad, out)) << bad;
}

TEST(WebhookSignature, TheSecretFileIsMadeOncePrivateAndKept) {
  test::TempDir dir;
  std::string first = load_webhook_secret(dir.path(), "");
  std::string second = load_webhook_secret(dir.path(), "");
  EXPECT_EQ(first, second);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "webhook-secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  test::write_file(dir / "mine", "  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  EXPECT_EQ(load_webhook_secret(dir.path(), (dir / "mine").string()), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  test::write_file(dir / "bad", "hunter2\n");
  EXPECT_THROW(load_webhook_secret(dir.path(), (dir / "bad").string()), Error);
  EXPECT_THROW(load_webhook_secret(dir.path(), (dir / "absent").string()), Error);
}

TEST(WebhookEvents, ListsArraysAndDefaults) {
  using V = std::vector<std::string>;
  EXPECT_EQ(parse_webhook_events(nullptr), V{"completed"});
  EXPECT_EQ(parse_webhook_events(""), V{"completed"});
  EXPECT_EQ(parse_webhook_events("completed, started"), (V{"started", "completed"}));
  EXPECT_EQ(parse_webhook_events(R"(["progress","completed"])"), (V{"progress", "completed"}));
  EXPECT_EQ(parse_webhook_events(nlohmann::json::array({"started"})), V{"started"});
  for (const nlohmann::json& bad : {nlohmann::json("done"), nlohmann::json(3), nlohmann::json::array({1}),
                                    nlohmann::json("started,finished"), nlohmann::json(R"(["x"])")}) {
    try {
      parse_webhook_events(bad);
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_param);
      EXPECT_EQ(e.field(), "webhook_events");
    }
  }
}

}  // namespace
}  // namespace sonic::jobs
