// ChildProcess: one spawned program with pipes on its stdin, stdout and stderr, owned by
// exactly one object. It is started without a shell (posix_spawnp), in a process group of
// its own (so a kill reaches whatever it started too), with an explicit environment, every
// descriptor but 0–2 closed in the child, signals unblocked and SIGPIPE at its default.
// The destructor kills the group and reaps the child if nobody did, so no zombie and no
// pipe outlives the object.
//
// Threads: one owner at a time; the pipe descriptors are read and written by that owner.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sonic::engine::external {

// A file descriptor closed when the object dies.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct SpawnSpec {
  std::vector<std::string> argv;                 // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> environment;  // the child's whole environment
  std::filesystem::path working_dir;             // empty = the server's
};

class ChildProcess {
 public:
  // Throws Error(engine_unavailable) when the program cannot be started (not found, not
  // executable, bad working folder), with the reason.
  explicit ChildProcess(const SpawnSpec& spec);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_.get(); }   // non-blocking
  int stdout_fd() const { return stdout_.get(); }  // non-blocking
  int stderr_fd() const { return stderr_.get(); }  // non-blocking
  void close_stdin() { stdin_.reset(); }
  void close_stdout() { stdout_.reset(); }

  // Sends `signal` to the whole process group (no-op once reaped).
  void signal_group(int signal);
  // Reaps the child if it has exited: its wait status, else nullopt. Never blocks.
  std::optional<int> try_reap();
  // Kills the group with SIGKILL and reaps the child (blocks only for the kernel to do it).
  int kill_and_reap();
  bool reaped() const { return status_.has_value(); }
  std::optional<int> exit_status() const { return status_; }

 private:
  pid_t pid_ = -1;
  FileDescriptor stdin_, stdout_, stderr_;
  std::optional<int> status_;
};

// "exited with code 1", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// The environment an engine gets: the listed variables copied from this process when set
// (PATH, HOME, locale, TMPDIR, GPU selection), then `extra` on top.
std::map<std::string, std::string> engine_environment(const std::map<std::string, std::string>& extra);

// Splits stdout/stderr bytes into lines of at most `max_line` bytes. A longer line is an
// overflow: the caller decides (the protocol stream treats it as a broken engine, the log
// stream cuts it).
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}
  // Appends bytes; complete lines (without '\n', '\r' trimmed) are added to `lines`. Returns
  // false when a line was longer than max_line: its first max_line bytes are added as a
  // line and the rest, up to the next newline, is dropped.
  bool feed(const char* data, std::size_t size, std::vector<std::string>& lines);
  // What is left without a final newline (end of stream).
  std::string take_rest();

 private:
  std::size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
};

}  // namespace sonic::engine::external
