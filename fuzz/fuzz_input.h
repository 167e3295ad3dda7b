// Shared by the fuzz targets: a fuzzer's input as a file, because the media probes take
// paths (they must never buffer an upload whole). The file is a memfd — no disk I/O, gone
// with the process — rewritten for each input and named by its /proc/self/fd path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sonic::fuzz {

class InputFile {
 public:
  InputFile() : fd_(::memfd_create("sonic-fuzz-input", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Replaces the file's content with `data` and returns its path.
  std::filesystem::path write(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// A finding: something the code promised did not hold. libFuzzer saves the input.
[[noreturn]] inline void broken_promise() { __builtin_trap(); }

}  // namespace sonic::fuzz
