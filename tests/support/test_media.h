// Shared by all test programs: where the fixtures and the binary are, temporary folders,
// and media made at test time with Debian tools (espeak-ng, sox, ffmpeg).
#pragma once

#include <filesystem>
#include <string>

namespace sonic::test {

std::filesystem::path fixtures_dir();    // $SONIC_FIXTURES (../shared/fixtures)
std::filesystem::path fixture(const std::string& name);  // fails the test if missing
std::filesystem::path sonic_binary();    // $SONIC_BINARY
std::filesystem::path source_dir();      // $SONIC_SOURCE_DIR

// A fresh folder removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Number of entries below the folder (to check nothing was left behind).
  std::size_t file_count() const;

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs `command` through /bin/sh, capturing its output.
CommandResult run(const std::string& command);
// Runs `command` and fails the current test (ADD_FAILURE) if it exits non-zero.
std::string run_ok(const std::string& command);
std::string shell_quote(const std::string& text);

// espeak-ng speech in `voice` (e.g. "en", "cmn", "es") as a 16 kHz mono WAV at `out`.
void make_speech(const std::filesystem::path& out, const std::string& voice, const std::string& text);
void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace sonic::test
