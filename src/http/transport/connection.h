// Connection: one client connection as it moves between the reactor and a worker, and
// ConnectionSlots, the global and per-client caps it holds a place in for its whole life.
//
// Threads: a Connection has one owner at a time (the reactor's table, or the worker it was
// dispatched to, passed by unique_ptr through a lane's queue or the return queue).
// ConnectionSlots is shared and locked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/transport/stream.h"
#include "http/wire/request_head.h"

namespace sonic::http {

class ConnectionSlots {
 public:
  enum class Outcome { ok, client_full, server_full };
  ConnectionSlots(int max_total, int max_per_client) : max_total_(max_total), max_per_client_(max_per_client) {}
  Outcome acquire(const std::string& peer, bool exempt);
  void release(const std::string& peer, bool exempt);
  int total() const;

 private:
  mutable std::mutex mutex_;
  int max_total_, max_per_client_;
  int total_ = 0;
  std::map<std::string, int> per_client_;
};

struct Connection {
  enum class Phase { handshake, head, dispatched, refusing, lingering };

  Connection(std::unique_ptr<Stream> s, std::string peer_address, int peer, int local,
             std::shared_ptr<ConnectionSlots> slot_owner, bool exempt_from_cap, wire::HeadLimits limits)
      : stream(std::move(s)), peer(std::move(peer_address)), peer_port(peer), local_port(local),
        slots(std::move(slot_owner)), exempt(exempt_from_cap), scanner(limits) {}
  ~Connection() {
    if (slots) slots->release(peer, exempt);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::unique_ptr<Stream> stream;
  std::string peer;
  int peer_port = 0;
  int local_port = 0;
  std::shared_ptr<ConnectionSlots> slots;
  bool exempt = false;

  Phase phase = Phase::head;
  std::string in;            // received and not yet consumed (head, body start, pipelined bytes)
  wire::HeadScanner scanner;
  bool head_started = false;  // a byte of the current head arrived
  Clock::time_point deadline;
  std::uint64_t timer = 0;    // generation of the live timer entry
  std::uint32_t interest = 0; // epoll events asked for
  std::string out;            // a canned refusal being written
  std::size_t out_pos = 0;
  std::uint64_t lingered = 0; // bytes dropped while lingering
  std::uint64_t requests = 0; // served on this connection
};

// A connection with a complete head, on its way to a worker.
struct Dispatch {
  std::unique_ptr<Connection> connection;
  wire::RequestHead head;
};

}  // namespace sonic::http
