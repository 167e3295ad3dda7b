// See process_support.h.
#include "app/process_support.h"

#include <algorithm>
#include <csignal>
#include <exception>
#include <iostream>

#include "util/log.h"

namespace sonic::app {

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return signals;
}

int exit_status_for_current_error(const std::string& message, std::initializer_list<ErrorCode> usage_codes) {
  try {
    throw;
  } catch (const Error& e) {
    log::error(message, {{"code", e.code_name()}, {"error", e.message()}});
    std::cerr << "error (" << e.code_name() << "): " << e.message() << "\n";
    return std::find(usage_codes.begin(), usage_codes.end(), e.code()) != usage_codes.end() ? 2 : 1;
  } catch (const std::exception& e) {
    log::error(message, {{"error", e.what()}});
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    log::error(message, {{"error", "unknown exception"}});
    std::cerr << "error: unknown exception\n";
    return 1;
  }
}

}  // namespace sonic::app
