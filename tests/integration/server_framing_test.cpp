// Integration: request bodies the server refuses, seen from a raw socket (issue 5 safety
// follow-up, docs/api.md "Request bodies").
//
// What must hold: a body that is refused without being read to its end ends the
// connection right after the answer, so none of its bytes are ever taken for another
// request (behind a proxy that reuses connections, that would be request smuggling); a body
// whose Content-Length is far over the limit is refused before it is sent, not read and
// thrown away; a body on a route that takes none is never buffered; and a body moderately
// over the limit is read and dropped so the client still gets its 413 on an open
// connection. Every case sends a complete GET /healthz after the body and checks that it is
// not answered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

const std::string kSmuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

struct Exchange {
  std::string received;
  bool closed_by_server = false;  // EOF or reset before our deadline
  std::size_t sent = 0;
  double seconds = 0;
};

// Sends `head` then `body` (as far as the server takes it), then reads until the server
// closes or `patience` passes.
Exchange exchange(int port, const std::string& head, const std::string& body,
                  std::chrono::milliseconds patience = 4000ms) {
  Exchange ex;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto start = std::chrono::steady_clock::now();
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    return ex;
  }
  std::string out = head + body;
  while (ex.sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + ex.sent, out.size() - ex.sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server hung up while we were sending
    ex.sent += static_cast<std::size_t>(n);
  }
  auto deadline = std::chrono::steady_clock::now() + patience;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (::poll(&p, 1, std::max(1, left)) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ex.closed_by_server = true;
      break;
    }
    ex.received.append(buf, static_cast<std::size_t>(n));
  }
  ex.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  return ex;
}

int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (auto pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

// One answer with `status` and `code`, then the end of the connection: nothing after the
// refused body was taken as a request.
void expect_refused_and_closed(const Exchange& ex, int status, const std::string& code, const std::string& what) {
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 " + std::to_string(status), 0), 0u) << what << ":\n" << ex.received;
  EXPECT_NE(ex.received.find("\"code\":\"" + code + "\""), std::string::npos) << what << ":\n" << ex.received;
  EXPECT_EQ(count_of(ex.received, "HTTP/1.1 "), 1) << what << ": a second answer came back:\n" << ex.received;
  EXPECT_EQ(ex.received.find("\"status\":\"ok\""), std::string::npos) << what << ": the smuggled request ran";
  EXPECT_TRUE(ex.closed_by_server) << what << ": the connection stayed open";
}

std::string multipart_head(std::size_t content_length) {
  return "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
         "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

const std::string kPartHead = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n";

class ServerFraming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--max-upload-mb", "2"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    // Nothing refused is stored, and the server still answers.
    std::size_t left = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(server_->data_dir() / "uploads", ec); !ec && it != fs::directory_iterator();
         ++it)
      ++left;
    EXPECT_EQ(left, 0u) << "files left in uploads/";
    auto r = server_->client()->Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  static ServerProcess* server_;
};
ServerProcess* ServerFraming::server_ = nullptr;

TEST_F(ServerFraming, TheLimitsAreAnnouncedForClientsToCheckFirst) {
  auto r = server_->client()->Get("/api/limits");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json limits = body_json(r);
  EXPECT_EQ(limits["max_upload_bytes"], 2 * 1024 * 1024) << r->body;
  EXPECT_EQ(limits["max_audio_seconds"], 300) << r->body;
  EXPECT_EQ(limits["max_image_pixels"], 40'000'000) << r->body;
  EXPECT_EQ(limits["rate_limit_per_min"], 0) << "ServerProcess turns the rate limit off: " << r->body;
  EXPECT_EQ(limits["max_active_jobs"], 0) << r->body;
  EXPECT_EQ(limits["queue_size"], 64) << r->body;
}

TEST_F(ServerFraming, FarOverTheLimitIsRefusedBeforeTheBodyIsRead) {
  // 10 GB announced; a few bytes and a complete request follow. The answer must not wait
  // for the 10 GB (the read timeout is 30 s; the test allows 4 s).
  auto ex = exchange(server_->port(), multipart_head(10'000'000'000ull), kPartHead + kSmuggled);
  expect_refused_and_closed(ex, 413, "payload_too_large", "10 GB announced");
  EXPECT_LT(ex.seconds, 4.0);
  EXPECT_NE(ex.received.find("limit of 2 MB"), std::string::npos) << ex.received;
}

TEST_F(ServerFraming, ABodyOnARouteThatTakesNoneIsNotBuffered) {
  std::string head = "POST /api/jobs/00000000-0000-4000-8000-000000000000/cancel HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: text/plain\r\nContent-Length: 50000000\r\n\r\n";
  auto ex = exchange(server_->port(), head, std::string(1000, 'a') + kSmuggled);
  expect_refused_and_closed(ex, 413, "payload_too_large", "50 MB body on cancel");
  EXPECT_LT(ex.seconds, 4.0);

  std::string chunked = "DELETE /api/jobs/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: x\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  ex = exchange(server_->port(), chunked, "5\r\nhello\r\n" + kSmuggled);
  expect_refused_and_closed(ex, 413, "payload_too_large", "chunked body on delete");

  // A small body (a client that always sends one) is fine.
  std::string small = "POST /api/jobs/00000000-0000-4000-8000-000000000000/cancel HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
  ex = exchange(server_->port(), small, "");
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 404", 0), 0u) << ex.received;
}

TEST_F(ServerFraming, ChunkedUploadCutAtTheLimitEndsTheConnection) {
  // 3 MB in one chunk (limit 2 MB), a complete request inside the chunk's data after it.
  std::string data = kPartHead + std::string(3 * 1024 * 1024, 'x') + "\r\n" + kSmuggled;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string head = "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  auto ex = exchange(server_->port(), head, size + data + "\r\n0\r\n\r\n");
  expect_refused_and_closed(ex, 413, "payload_too_large", "chunked 3 MB");
}

TEST_F(ServerFraming, ModeratelyOverTheLimitIsReadAndAnswered) {
  // 3 MB with Content-Length (limit 2 MB, under twice the limit): read to its end and
  // dropped, so a client that sends everything before reading still gets the 413.
  std::string body = kPartHead + std::string(3 * 1024 * 1024, 'x') + "\r\n--b--\r\n";
  auto ex = exchange(server_->port(), multipart_head(body.size()), body, 1500ms);
  EXPECT_EQ(ex.sent, multipart_head(body.size()).size() + body.size()) << "the server stopped reading";
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 413", 0), 0u) << ex.received;
  EXPECT_NE(ex.received.find("payload_too_large"), std::string::npos) << ex.received;
}

TEST(ServerFramingAuth, UnauthenticatedUploadOverTheDrainLimitEndsTheConnection) {
  TempDir keys;
  write_file(keys / "secret", std::string(40, 'k'));
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (keys / "secret").string()});
  // 3 MB chunked without a token: 2 MB are read and dropped for the 401, then the
  // connection ends; the request inside the rest is never served.
  std::string data = kPartHead + std::string(3 * 1024 * 1024, 'x') + "\r\n" + kSmuggled;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string head = "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  auto ex = exchange(server.port(), head, size + data + "\r\n0\r\n\r\n");
  expect_refused_and_closed(ex, 401, "unauthorized", "3 MB without a token");
}

}  // namespace
}  // namespace sonic::test
