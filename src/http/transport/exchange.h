// One request on a worker thread: the route runs with a body reader bound to deadlines
// (ConnectionBody), then the transport settles the body (drained up to kDrainBytes or the
// connection closes — an unread body is never parsed as a request), writes the response
// and decides whether the connection may carry another request.
//
// Threads: runs on a lane's worker; the Connection is owned by the Dispatch meanwhile.
#pragma once

#include <atomic>

#include "http/transport/connection.h"
#include "http/transport/transport.h"

namespace sonic::http {

constexpr std::uint64_t kDrainBytes = 64 * 1024;

// Serves the request of `work`. Afterwards the connection's phase says what comes next:
// `head` (keep-alive, any pipelined bytes in `in`) or `lingering` (close after the client
// has had time to read the answer). A connection that failed is left with phase `dispatched`
// and should simply be closed.
void serve_exchange(Dispatch& work, const TransportConfig& config, Dispatcher& dispatcher,
                    const std::atomic<bool>& stopping);

}  // namespace sonic::http
