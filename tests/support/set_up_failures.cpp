// Linked into every test program (as an object file, so the linker cannot drop it).
//
// GoogleTest marks every test of a suite SKIPPED when the suite's set-up fails (the server
// did not start, a fixture could not be made), and CTest lists skipped tests as "did not
// run" next to a green result. No test here skips on purpose, so any failure outside a test
// body ends the program at once with status 1, and CTest counts it as a failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace {

// Tracks "inside a test" itself: UnitTest::current_test_info() takes the lock GoogleTest
// already holds while it reports a result, so asking it here would deadlock.
class SetUpFailuresFail : public ::testing::EmptyTestEventListener {
  bool in_test_ = false;
  void OnTestStart(const ::testing::TestInfo&) override { in_test_ = true; }
  void OnTestEnd(const ::testing::TestInfo&) override { in_test_ = false; }
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed() || in_test_) return;
    std::fprintf(stderr, "\n%s:%d: failure outside any test (suite set-up or tear-down):\n%s\n",
                 result.file_name() ? result.file_name() : "?", result.line_number(), result.message());
    std::fflush(stderr);
    std::_Exit(1);
  }
};

const bool registered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new SetUpFailuresFail);  // gtest owns it
  return true;
}();

}  // namespace
