// Unit tests of shut_down_connection(): a real loopback connection inside the test process;
// the server side is found by its address pair and shut down, the client sees the end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/peer_socket.h"

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

int port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return rc == 0 ? ntohs(a.sin_port) : -1;
}

// A listening socket, a client connected to it, and the accepted server side.
struct Connection {
  Fd listener{::socket(AF_INET, SOCK_STREAM, 0)};
  Fd client{::socket(AF_INET, SOCK_STREAM, 0)};
  Fd server{-1};
  Connection() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listener.fd, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&a), &len);
    EXPECT_EQ(::connect(client.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    server.fd = ::accept(listener.fd, nullptr, nullptr);
    EXPECT_GE(server.fd, 0);
  }
  // What the client reads within `ms`: -1 nothing yet, 0 end of stream, else bytes read.
  int client_reads(int ms) const {
    pollfd p{client.fd, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return -1;
    char buf[16];
    return static_cast<int>(::recv(client.fd, buf, sizeof buf, 0));
  }
};

TEST(PeerSocket, AConnectionThatIsNotThereIsReported) {
  Connection c;
  // A wrong peer address, a peer port nobody uses, a wrong local port: nothing is found and
  // nothing is shut down.
  EXPECT_FALSE(sonic::http::shut_down_connection("127.0.0.1", port_of(c.client.fd, false), 1));
  EXPECT_FALSE(sonic::http::shut_down_connection("10.9.8.7", port_of(c.client.fd, false), port_of(c.server.fd, false)));
  EXPECT_FALSE(sonic::http::shut_down_connection("127.0.0.1", 1, port_of(c.server.fd, false)));
  EXPECT_EQ(c.client_reads(100), -1) << "the connection must still be open";
  ASSERT_EQ(::send(c.server.fd, "hi", 2, 0), 2);
  EXPECT_EQ(c.client_reads(1000), 2);
}

TEST(PeerSocket, TheServerSideIsFoundByItsAddressPairAndShutDown) {
  Connection c;
  ASSERT_TRUE(
      sonic::http::shut_down_connection("127.0.0.1", port_of(c.client.fd, false), port_of(c.server.fd, false)));
  EXPECT_EQ(c.client_reads(1000), 0) << "the client should see the end of the stream";
  char byte = 0;
  EXPECT_LE(::recv(c.server.fd, &byte, 1, MSG_DONTWAIT), 0) << "the server side reads nothing more";
}

}  // namespace
