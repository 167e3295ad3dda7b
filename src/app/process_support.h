// What the long-running process modes (`serve`, `worker`) share around their work: how they
// take SIGINT/SIGTERM, and how a failure is logged, printed and turned into an exit status.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <string>

#include "util/error.h"

namespace sonic::app {

// SIGINT and SIGTERM blocked in this thread and every thread it starts (a signal thread
// waits for them with sigwait/sigtimedwait); SIGPIPE ignored, so a peer that hangs up fails a
// write instead of killing the process. Call before starting any thread.
sigset_t block_stop_signals();

// Call inside a catch block: logs `message` with the error, prints it to stderr and returns
// the exit status — 2 when the error's code is one of `usage_codes` (a refused setting), else 1.
int exit_status_for_current_error(const std::string& message, std::initializer_list<ErrorCode> usage_codes);

}  // namespace sonic::app
