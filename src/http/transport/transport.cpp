// The reactor: accept, caps, TLS handshakes, request heads under deadlines, dispatch to
// lanes, canned refusals and lingering closes (see transport.h for the whole picture).
//
// Every connection the reactor owns is in `connections_` (by descriptor) and has exactly
// one live deadline in the timer heap (older entries are recognised by their generation
// and skipped). A dispatched connection leaves the table and epoll, and comes back through
// `returned_` (locked; the worker wakes the reactor through an eventfd).
#include "http/transport/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

#include "http/transport/connection.h"
#include "http/transport/exchange.h"
#include "http/transport/lane.h"
#include "http/transport/response_writer.h"
#include "jobs/job.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::http {

namespace {

constexpr int kListenBacklog = 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr auto kRefusalWriteTimeout = std::chrono::seconds(5);
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::uint64_t kLingerBytes = 1024 * 1024;
constexpr std::size_t kQuickQueue = 4096;

std::string peer_text(const sockaddr_storage& addr, int* port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    *port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof text);
    else inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
  }
  return text;
}

int local_port_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  int port = 0;
  peer_text(addr, &port);
  return port;
}

struct Timer {
  Clock::time_point when;
  int fd;
  std::uint64_t generation;
  bool operator>(const Timer& other) const { return when > other.when; }
};

}  // namespace

int ConnectionSlots::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

ConnectionSlots::Outcome ConnectionSlots::acquire(const std::string& peer, bool exempt) {
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return Outcome::server_full;
  if (!exempt && max_per_client_ > 0) {
    int& n = per_client_[peer];
    if (n >= max_per_client_) return Outcome::client_full;
    ++n;
  }
  ++total_;
  return Outcome::ok;
}

void ConnectionSlots::release(const std::string& peer, bool exempt) {
  std::lock_guard lock(mutex_);
  --total_;
  if (exempt || max_per_client_ <= 0) return;
  auto it = per_client_.find(peer);
  if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
}

struct Transport::Impl {
  TransportConfig config;
  Dispatcher& dispatcher;
  std::unique_ptr<TlsContext> tls;
  std::shared_ptr<ConnectionSlots> slots;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int spare_fd = -1;  // given up to accept-and-close when descriptors run out
  std::atomic<bool> stopping{false};
  std::unordered_map<int, std::unique_ptr<Connection>> connections;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::uint64_t next_generation = 1;
  std::size_t in_flight = 0;  // dispatched, not yet returned (reactor thread only)
  std::mutex returned_mutex;
  std::vector<std::unique_ptr<Connection>> returned;
  std::unique_ptr<WorkerLane> quick, slow;

  Impl(TransportConfig c, Dispatcher& d) : config(std::move(c)), dispatcher(d) {
    if (!config.tls_cert_file.empty() || !config.tls_key_file.empty())
      tls = std::make_unique<TlsContext>(config.tls_cert_file, config.tls_key_file);
  }

  ~Impl() {
    connections.clear();
    for (int fd : {listen_fd, epoll_fd, wake_fd, spare_fd})
      if (fd >= 0) ::close(fd);
  }

  // --- worker side ---------------------------------------------------------------------

  void serve(Dispatch& work) {
    serve_exchange(work, config, dispatcher, stopping);
    {
      std::lock_guard lock(returned_mutex);
      returned.push_back(std::move(work.connection));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  // --- reactor side --------------------------------------------------------------------

  void arm(Connection& c, Clock::time_point when) {
    c.deadline = when;
    c.timer = next_generation++;
    timers.push({when, c.stream->fd(), c.timer});
  }

  void want(Connection& c, std::uint32_t events) {
    if (c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c.stream->fd();
    ::epoll_ctl(epoll_fd, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.stream->fd(), &ev);
    c.interest = events;
  }

  void close(int fd) {
    auto it = connections.find(fd);
    if (it == connections.end()) return;
    if (it->second->interest) ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    connections.erase(it);  // closes the socket, frees the slot
  }

  void adopt(std::unique_ptr<Connection> c) {
    int fd = c->stream->fd();
    c->interest = 0;
    Connection& ref = *c;
    connections[fd] = std::move(c);
    if (ref.phase == Connection::Phase::lingering) return linger(ref);
    if (ref.phase != Connection::Phase::head || stopping) return close(fd);
    ref.head_started = !ref.in.empty();
    arm(ref, Clock::now() + (ref.head_started ? config.head_timeout : config.keepalive_timeout));
    want(ref, EPOLLIN);
    read_head(ref);  // pipelined bytes, or bytes TLS already holds
  }

  void refuse(Connection& c, int status, ErrorCode code, const std::string& message, const wire::RequestHead* head,
              int retry_after = 0) {
    std::string id = jobs::new_uuid();
    c.out = canned_response(status, code_name(code), message, id, retry_after);
    c.out_pos = 0;
    c.phase = Connection::Phase::refusing;
    arm(c, Clock::now() + kRefusalWriteTimeout);
    TransportRefusal r{status, std::string(code_name(code)), message, c.peer,
                       head ? head->method : std::string(), head ? head->path : std::string(), id};
    dispatcher.refused(r);
    write_refusal(c);
  }

  void write_refusal(Connection& c) {
    while (c.out_pos < c.out.size()) {
      IoResult r = c.stream->write(c.out.data() + c.out_pos, c.out.size() - c.out_pos);
      if (r.status == IoStatus::ok) {
        c.out_pos += r.bytes;
        continue;
      }
      if (r.status == IoStatus::want_write) return want(c, EPOLLOUT);
      if (r.status == IoStatus::want_read) return want(c, EPOLLIN);
      return close(c.stream->fd());
    }
    linger(c);
  }

  // Half-close, then read and drop what the client still sends for a short while, so the
  // answer is not destroyed by a reset when unread bytes meet a closed socket.
  void linger(Connection& c) {
    c.phase = Connection::Phase::lingering;
    c.stream->shutdown_write();
    c.lingered = 0;
    arm(c, Clock::now() + kLingerTime);
    want(c, EPOLLIN);
    drop_lingering(c);
  }

  void drop_lingering(Connection& c) {
    char buf[kReadChunk];
    while (true) {
      ssize_t n = ::recv(c.stream->fd(), buf, sizeof buf, 0);
      if (n > 0) {
        c.lingered += static_cast<std::uint64_t>(n);
        if (c.lingered > kLingerBytes) return close(c.stream->fd());
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      return close(c.stream->fd());
    }
  }

  void read_head(Connection& c) {
    int fd = c.stream->fd();
    while (true) {
      if (!c.in.empty()) {
        if (!c.head_started) {
          c.head_started = true;
          arm(c, Clock::now() + config.head_timeout);
        }
        auto result = c.scanner.scan(c.in);
        if (result == wire::HeadScanner::Result::complete) return dispatch(c);
        if (result == wire::HeadScanner::Result::refused) {
          const auto& r = c.scanner.refusal();
          return refuse(c, r.status, r.code, r.message, nullptr);
        }
      }
      std::size_t old = c.in.size();
      c.in.resize(old + kReadChunk);
      IoResult r = c.stream->read(c.in.data() + old, kReadChunk);
      c.in.resize(old + (r.status == IoStatus::ok ? r.bytes : 0));
      if (r.status == IoStatus::ok) continue;
      if (r.status == IoStatus::want_read) return want(c, EPOLLIN);
      if (r.status == IoStatus::want_write) return want(c, EPOLLOUT);
      return close(fd);  // the client hung up (mid-head or idle) or failed
    }
  }

  void dispatch(Connection& c) {
    int fd = c.stream->fd();
    std::size_t end = c.scanner.head_bytes(), skipped = c.scanner.skipped_bytes();
    wire::Refusal refusal;
    auto head = wire::parse_request_head(std::string_view(c.in).substr(skipped, end - skipped), config.head_limits, refusal);
    if (!head) return refuse(c, refusal.status, refusal.code, refusal.message, nullptr);
    c.in.erase(0, end);
    c.scanner.reset();
    c.head_started = false;
    Lane lane = dispatcher.lane(*head);
    if (c.interest) ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    c.interest = 0;
    c.phase = Connection::Phase::dispatched;
    auto node = connections.extract(fd);
    Dispatch work{std::move(node.mapped()), std::move(*head)};
    WorkerLane& target = lane == Lane::quick ? *quick : *slow;
    if (target.submit(work)) {
      ++in_flight;
      return;
    }
    // Every thread of the lane is busy: refuse now rather than queue behind uploads.
    Connection& back = *work.connection;
    connections[fd] = std::move(work.connection);
    refuse(back, 503, ErrorCode::server_busy, "Every connection slot for this kind of request is in use; retry shortly.",
           &work.head, 5);
  }

  void on_timeout(Connection& c) {
    switch (c.phase) {
      case Connection::Phase::head:
        if (c.head_started)
          return refuse(c, 408, ErrorCode::request_timeout,
                        "The request head did not arrive within " +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config.head_timeout).count()) +
                            " s.",
                        nullptr);
        return close(c.stream->fd());  // idle: close quietly
      default: return close(c.stream->fd());
    }
  }

  void on_event(Connection& c, std::uint32_t events) {
    switch (c.phase) {
      case Connection::Phase::handshake: {
        IoResult r = c.stream->handshake();
        if (r.status == IoStatus::want_read) return want(c, EPOLLIN);
        if (r.status == IoStatus::want_write) return want(c, EPOLLOUT);
        if (r.status != IoStatus::ok) return close(c.stream->fd());
        c.phase = Connection::Phase::head;
        want(c, EPOLLIN);
        return read_head(c);
      }
      case Connection::Phase::head:
        if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) return close(c.stream->fd());
        return read_head(c);
      case Connection::Phase::refusing: return write_refusal(c);
      case Connection::Phase::lingering: return drop_lingering(c);
      case Connection::Phase::dispatched: return;
    }
  }

  void accept_all() {
    while (!stopping) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
          // Out of descriptors: take the connection with the spare one and close it, so it
          // does not sit in the backlog making the listener readable forever.
          ::close(spare_fd);
          int extra = ::accept(listen_fd, nullptr, nullptr);
          if (extra >= 0) ::close(extra);
          spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          log::warn("out of file descriptors: a connection was closed at once", {{"connections", connections.size()}});
        }
        return;
      }
      int port = 0;
      std::string peer = peer_text(addr, &port);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      bool exempt = config.exempt_from_client_cap && config.exempt_from_client_cap(peer);
      auto outcome = slots->acquire(peer, exempt);
      if (outcome != ConnectionSlots::Outcome::ok) {
        bool client = outcome == ConnectionSlots::Outcome::client_full;
        std::string id = jobs::new_uuid();
        std::string message = client ? "Too many connections from your address (at most " +
                                           std::to_string(config.max_connections_per_client) + ")."
                                     : "The server has no connection slot free; retry shortly.";
        if (!tls) {  // a best-effort answer; over TLS there is no cheap way to say it
          std::string out = canned_response(client ? 429 : 503, client ? "rate_limited" : "server_busy", message, id, 5);
          [[maybe_unused]] auto n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          ::shutdown(fd, SHUT_WR);
        }
        ::close(fd);
        dispatcher.refused({client ? 429 : 503, client ? "rate_limited" : "server_busy", message, peer, "", "", id});
        continue;
      }
      std::unique_ptr<Stream> stream = tls ? tls->wrap(fd) : std::make_unique<Stream>(fd);
      if (!stream) {
        slots->release(peer, exempt);
        continue;
      }
      auto c = std::make_unique<Connection>(std::move(stream), peer, port, local_port_of(fd), slots, exempt,
                                            config.head_limits);
      c->phase = tls ? Connection::Phase::handshake : Connection::Phase::head;
      Connection& ref = *c;
      connections[fd] = std::move(c);
      arm(ref, Clock::now() + config.head_timeout);
      want(ref, EPOLLIN);
    }
  }

  void take_returned() {
    std::uint64_t count = 0;
    [[maybe_unused]] auto n = ::read(wake_fd, &count, sizeof count);
    std::vector<std::unique_ptr<Connection>> back;
    {
      std::lock_guard lock(returned_mutex);
      back.swap(returned);
    }
    for (auto& c : back) {
      --in_flight;
      adopt(std::move(c));
    }
  }

  void expire_timers() {
    auto now = Clock::now();
    while (!timers.empty() && timers.top().when <= now) {
      Timer t = timers.top();
      timers.pop();
      auto it = connections.find(t.fd);
      if (it == connections.end() || it->second->timer != t.generation) continue;
      on_timeout(*it->second);
    }
  }

  int next_wait_ms() {
    while (!timers.empty()) {
      const Timer& t = timers.top();
      auto it = connections.find(t.fd);
      if (it != connections.end() && it->second->timer == t.generation) break;
      timers.pop();
    }
    if (timers.empty()) return stopping ? 100 : 1000;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timers.top().when - Clock::now()).count() + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
  }

  bool run() {
    quick = std::make_unique<WorkerLane>("quick", config.quick_threads, config.quick_threads, kQuickQueue,
                                         [this](Dispatch& d) { serve(d); });
    slow = std::make_unique<WorkerLane>("long", 0, config.long_threads, 0, [this](Dispatch& d) { serve(d); });
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.fd = wake_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);

    std::vector<epoll_event> events(256);
    bool listening = true;
    while (true) {
      if (stopping && listening) {
        ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        ::close(listen_fd);
        listen_fd = -1;
        listening = false;
        std::vector<int> idle;
        for (auto& [fd, c] : connections) idle.push_back(fd);
        for (int fd : idle) close(fd);
      }
      if (stopping && in_flight == 0) break;
      int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), next_wait_ms());
      for (int i = 0; i < n; ++i) {
        int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == wake_fd) {
          take_returned();
        } else if (auto it = connections.find(fd); it != connections.end()) {
          on_event(*it->second, events[static_cast<std::size_t>(i)].events);
        }
      }
      expire_timers();
    }
    quick->stop();
    slow->stop();
    take_returned();
    connections.clear();
    return true;
  }
};

Transport::Transport(TransportConfig config, Dispatcher& dispatcher)
    : impl_(std::make_unique<Impl>(std::move(config), dispatcher)) {}

Transport::~Transport() = default;

const TransportConfig& Transport::config() const { return impl_->config; }

int Transport::bind() {
  auto& c = impl_->config;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    if (limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &limit);
      ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    // Room for the database, uploads, engines and logs besides connections.
    long room = static_cast<long>(limit.rlim_cur) - 256;
    if (limit.rlim_cur != RLIM_INFINITY && room < c.max_connections) c.max_connections = static_cast<int>(std::max(16L, room));
  }
  impl_->slots = std::make_shared<ConnectionSlots>(c.max_connections, c.max_connections_per_client);

  auto fail = [&] {
    return Error(ErrorCode::internal, "Cannot listen on " + c.host + ":" + std::to_string(c.port) +
                                          " (in use, or not an address of this machine).");
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(c.port);
  if (::getaddrinfo(c.host.empty() ? nullptr : c.host.c_str(), port.c_str(), &hints, &found) != 0 || !found) throw fail();
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;  // SO_REUSEADDR only: two servers must never share a port by accident
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, kListenBacklog) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) throw fail();
  impl_->listen_fd = fd;
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  impl_->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (impl_->epoll_fd < 0 || impl_->wake_fd < 0) throw fail();
  c.port = local_port_of(fd);
  return c.port;
}

bool Transport::run() {
  if (impl_->listen_fd < 0) return false;
  return impl_->run();
}

void Transport::stop() {
  impl_->stopping = true;
  if (impl_->wake_fd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(impl_->wake_fd, &one, sizeof one);
  }
}

}  // namespace sonic::http
