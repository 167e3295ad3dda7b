// Ending one client connection from inside a request handler (issue 5 follow-up,
// docs/api.md "Request bodies").
//
// cpp-httplib 0.11 gives a handler no socket and keeps a connection open after the handler
// answers `Connection: close`, reading whatever follows as the next request. When a body
// was refused without being read to its end, that "next request" is the rest of the body —
// request smuggling behind a proxy that reuses connections. shut_down_connection() finds
// the connection's descriptor by its address pair among this process's open descriptors
// (/proc/self/fd) and shuts it down both ways; cpp-httplib's next read then sees the end
// and closes it. A scan costs microseconds for the few hundred descriptors a server holds
// and happens only for refused bodies. The descriptor cannot be closed and reused while we
// look: the calling thread is the one serving that connection.
//
// Plain POSIX (no HTTP library). Threads: any.
#pragma once

#include <string>

namespace sonic::http {

// Shuts down the TCP connection whose peer is `peer_address`:`peer_port` and whose local
// port is `local_port`. False when no such descriptor was found.
bool shut_down_connection(const std::string& peer_address, int peer_port, int local_port);

}  // namespace sonic::http
