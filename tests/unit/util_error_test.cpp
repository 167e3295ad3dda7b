// Unit: the error model — every code has a distinct API name that parses back to it, and
// a status in the 4xx/5xx range (a new code without a case would fall through to
// "internal"/500 silently, which this catches).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "util/error.h"

namespace sonic {
namespace {

TEST(ErrorCodes, EveryCodeHasItsOwnNameThatParsesBack) {
  std::set<std::string> names;
  for (ErrorCode code : kAllErrorCodes) {
    const std::string name(code_name(code));
    EXPECT_TRUE(names.insert(name).second) << "two codes are both called " << name;
    ASSERT_TRUE(parse_code(name)) << name;
    EXPECT_EQ(*parse_code(name), code) << name;
    if (code != ErrorCode::internal) {
      EXPECT_NE(name, "internal");
    }
  }
  EXPECT_FALSE(parse_code("interrupted"));
  EXPECT_FALSE(parse_code(""));
}

TEST(ErrorCodes, StatusesAreThoseOfTheApi) {
  for (ErrorCode code : kAllErrorCodes) {
    const int status = http_status(code);
    EXPECT_TRUE(status >= 400 && status < 600) << code_name(code) << " -> " << status;
  }
  EXPECT_EQ(http_status(ErrorCode::bad_request), 400);
  EXPECT_EQ(http_status(ErrorCode::headers_too_large), 431);
  EXPECT_EQ(http_status(ErrorCode::insufficient_storage), 507);
  EXPECT_EQ(http_status(ErrorCode::idempotency_in_progress), 409);
  EXPECT_EQ(http_status(ErrorCode::idempotency_conflict), 422);
  EXPECT_EQ(http_status(ErrorCode::server_busy), 503);
  EXPECT_EQ(http_status(ErrorCode::request_timeout), 408);
  EXPECT_EQ(http_status(ErrorCode::no_face), 422);
}

}  // namespace
}  // namespace sonic
