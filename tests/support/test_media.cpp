#include "support/test_media.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>

namespace sonic::test {
namespace fs = std::filesystem;

static fs::path env_path(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return fs::path(value && *value ? value : fallback);
}

fs::path fixtures_dir() { return env_path("SONIC_FIXTURES", SONIC_DEFAULT_FIXTURES); }
fs::path sonic_binary() { return env_path("SONIC_BINARY", SONIC_DEFAULT_BINARY); }
fs::path source_dir() { return env_path("SONIC_SOURCE_DIR", SONIC_DEFAULT_SOURCE_DIR); }

fs::path fixture(const std::string& name) {
  fs::path p = fixtures_dir() / name;
  if (!fs::exists(p)) ADD_FAILURE() << "fixture missing: " << p;
  return p;
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate = fs::temp_directory_path() / ("sonic-test-" + std::to_string(rd()));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::size_t TempDir::file_count() const {
  std::size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(path_); it != fs::recursive_directory_iterator(); ++it) ++n;
  return n;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CommandResult run(const std::string& command) {
  CommandResult result;
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string run_ok(const std::string& command) {
  CommandResult r = run(command);
  if (r.exit_code != 0) ADD_FAILURE() << "command failed (" << r.exit_code << "): " << command << "\n" << r.output;
  return r.output;
}

void make_speech(const fs::path& out, const std::string& voice, const std::string& text) {
  fs::path raw = out;
  raw += ".espeak.wav";
  run_ok("espeak-ng -v " + shell_quote(voice) + " -w " + shell_quote(raw.string()) + " " + shell_quote(text));
  run_ok("sox " + shell_quote(raw.string()) + " -r 16000 -c 1 -b 16 " + shell_quote(out.string()));
  fs::remove(raw);
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace sonic::test
