// Key files (see key_file.h).
#include "util/key_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "util/error.h"
#include "util/hex.h"

namespace sonic::util {
namespace fs = std::filesystem;

void create_key_file_if_missing(const fs::path& path, std::size_t bytes) {
  std::error_code ec;
  if (fs::exists(path, ec)) return;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  std::string raw(bytes, '\0');
  for (std::size_t got = 0; got < bytes;) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n <= 0) throw Error(ErrorCode::internal, "No randomness available for " + path.string() + ".");
    got += static_cast<std::size_t>(n);
  }
  const std::string hex = to_hex(raw.data(), raw.size());
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, hex.data(), hex.size()) != static_cast<ssize_t>(hex.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw Error(ErrorCode::internal, "Cannot write " + tmp.string() + ".");
  }
  ::close(fd);
  fs::rename(tmp, path, ec);
  if (ec) throw Error(ErrorCode::internal, "Cannot write " + path.string() + ": " + ec.message());
}

std::string read_key_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!in.good() && !in.eof()) throw Error(ErrorCode::internal, "Cannot read the key file " + path.string() + ".");
  if (text.empty()) throw Error(ErrorCode::internal, "The key file " + path.string() + " is empty or unreadable.");
  return text;
}

}  // namespace sonic::util
