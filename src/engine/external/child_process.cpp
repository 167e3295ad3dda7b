// ChildProcess: posix_spawnp with file actions and attributes (see child_process.h).
#include "engine/external/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

extern char** environ;

namespace sonic::engine::external {
namespace {

// Variables an engine may need from the server's own environment; nothing else is passed
// (the server's secrets, e.g. SONIC_JWT_SECRET, must not reach a model process).
constexpr const char* kInheritedVariables[] = {"PATH",   "HOME", "LANG",   "LC_ALL", "LC_CTYPE", "TZ",
                                               "TMPDIR", "USER", "LOGNAME", "CUDA_VISIBLE_DEVICES",
                                               "NVIDIA_VISIBLE_DEVICES", "HF_HOME"};

struct Pipe {
  FileDescriptor read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error(ErrorCode::engine_unavailable, std::string("Cannot create a pipe: ") + std::strerror(errno));
  return {FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// posix_spawn attribute and file-action objects, destroyed on every way out.
struct SpawnAttributes {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttributes() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void FileDescriptor::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

ChildProcess::ChildProcess(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    throw Error(ErrorCode::engine_unavailable, "The engine command is empty.");
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();

  SpawnAttributes sa;
  posix_spawn_file_actions_adddup2(&sa.actions, in.read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, out.write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, err.write.get(), STDERR_FILENO);
  // Everything else the server has open (sockets, the database, other engines' pipes) stays
  // out of the child, whether or not it was opened with O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
  if (!spec.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&sa.actions, spec.working_dir.c_str());

  // Own process group; no blocked signals (serve blocks SIGTERM/SIGINT in every thread);
  // SIGPIPE back to its default (serve ignores it, and ignored signals survive exec).
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setsigmask(&sa.attr, &empty);
  posix_spawnattr_setsigdefault(&sa.attr, &defaults);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_strings;
  for (const auto& [key, value] : spec.environment) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &sa.actions, &sa.attr, argv.data(), envp.data());
  if (rc != 0)
    throw Error(ErrorCode::engine_unavailable,
                "Cannot start '" + spec.argv[0] + "': " + std::strerror(rc) +
                    (spec.working_dir.empty() ? "" : " (working folder " + spec.working_dir.string() + ")") + ".");
  pid_ = pid;
  stdin_ = std::move(in.write);
  stdout_ = std::move(out.read);
  stderr_ = std::move(err.read);
  set_nonblocking(stdin_.get());
  set_nonblocking(stdout_.get());
  set_nonblocking(stderr_.get());
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) kill_and_reap();
}

void ChildProcess::signal_group(int signal) {
  if (pid_ > 0 && !status_) ::kill(-pid_, signal);
}

std::optional<int> ChildProcess::try_reap() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return status_;
}

int ChildProcess::kill_and_reap() {
  if (status_) return *status_;
  if (pid_ <= 0) return 0;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
  return status;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "stopped (status " + std::to_string(status) + ")";
}

std::map<std::string, std::string> engine_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (const char* name : kInheritedVariables)
    if (const char* value = std::getenv(name)) env[name] = value;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [key, value] : extra) env[key] = value;
  return env;
}

bool LineSplitter::feed(const char* data, std::size_t size, std::vector<std::string>& lines) {
  bool ok = true;
  for (std::size_t i = 0; i < size; ++i) {
    char c = data[i];
    if (c == '\n') {
      if (!skipping_) {
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        lines.push_back(std::move(partial_));
      }
      partial_.clear();
      skipping_ = false;
    } else if (skipping_) {
      continue;
    } else if (partial_.size() >= max_line_) {
      // The first max_line bytes become a line of their own; the rest is dropped.
      lines.push_back(std::move(partial_));
      partial_.clear();
      skipping_ = true;
      ok = false;
    } else {
      partial_.push_back(c);
    }
  }
  return ok;
}

std::string LineSplitter::take_rest() {
  std::string rest = std::move(partial_);
  partial_.clear();
  return rest;
}

}  // namespace sonic::engine::external
