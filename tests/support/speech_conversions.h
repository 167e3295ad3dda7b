// A test suite base that converts the speech fixture with sox or ffmpeg into a folder that
// lives as long as the suite, so the media tests make every format they need at test time.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/test_media.h"

namespace sonic::test {

class SpeechConversionSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = std::make_unique<TempDir>(); }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::filesystem::path path(const std::string& name) { return *dir_ / name; }
  static std::filesystem::path speech() { return fixture("speech_en_5s.wav"); }
  // sox conversion of the speech fixture with extra output options.
  static std::filesystem::path sox(const std::string& name, const std::string& options) {
    auto out = path(name);
    run_ok("sox " + shell_quote(speech().string()) + " " + options + " " + shell_quote(out.string()));
    return out;
  }
  // ffmpeg conversion of the speech fixture with extra output options.
  static std::filesystem::path ffmpeg(const std::string& name, const std::string& options) {
    auto out = path(name);
    run_ok("ffmpeg -nostdin -hide_banner -loglevel error -y -i " + shell_quote(speech().string()) + " " +
           options + " " + shell_quote(out.string()));
    return out;
  }

 private:
  static inline std::unique_ptr<TempDir> dir_;
};

}  // namespace sonic::test
