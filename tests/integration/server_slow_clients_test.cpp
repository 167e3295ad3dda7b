// Integration: slow, idle and greedy clients against the real binary (issue 10 point 1,
// docs/http-transport.md): while hundreds of connections dribble heads or say nothing,
// GET /healthz on a fresh connection is answered within 1 s every time; heads that take
// longer than --head-timeout-s get 408 and are closed, idle connections are closed; an
// upload body that stalls (--body-timeout-s) or trickles (--min-upload-kb-s) gets 408; a
// client over --max-connections-per-client is refused (429) while a --trusted-proxy peer
// is not; when every long-lane thread (--http-threads) is busy, more uploads get 503
// server_busy at once while status requests still pass.
//
// Every loop is bounded in count and time; waits are for events (a close, an answer), with
// the deadlines the server was started with plus a margin.
#include <thread>

#include "integration/raw_http.h"

namespace sonic::test {
namespace {

using Clock = std::chrono::steady_clock;

// GET /healthz on a new connection; seconds until the answer (or a large number).
double healthz_seconds(int port) {
  auto t0 = Clock::now();
  RawConnection c(port);
  if (!c.ok()) return 1e9;
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  if (!c.read_responses(1, 5000ms) || c.parse()[0].status != 200) return 1e9;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Probes /healthz every 100 ms for `how_long`; returns the slowest answer.
double worst_healthz(int port, std::chrono::milliseconds how_long, int* probes) {
  double worst = 0;
  auto end = Clock::now() + how_long;
  *probes = 0;
  while (Clock::now() < end) {
    worst = std::max(worst, healthz_seconds(port));
    ++*probes;
    std::this_thread::sleep_for(100ms);
  }
  return worst;
}

TEST(ServerSlowClients, SlowlorisOf200ConnectionsNeitherStarvesHealthNorOutlivesTheHeadDeadline) {
  ServerProcess server({"--head-timeout-s", "3", "--max-connections-per-client", "0"});
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(slow.back()->ok()) << "connection " << i;
    slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  auto started = Clock::now();
  // One header line per connection every 500 ms, while probing.
  std::atomic<bool> done{false};
  std::thread drip([&] {
    while (!done) {
      for (auto& c : slow) c->send("X-Slow: 1\r\n");
      std::this_thread::sleep_for(500ms);
    }
  });
  int probes = 0;
  double worst = worst_healthz(server.port(), 2500ms, &probes);
  done = true;
  drip.join();
  EXPECT_GT(probes, 10);
  EXPECT_LT(worst, 1.0) << "the slowest /healthz took " << worst << " s";
  // Each slow head is answered 408 and closed once its 3 s are up.
  int timed_out = 0;
  for (auto& c : slow) {
    c->read_until_closed(6000ms);
    auto r = c->parse();
    if (c->closed() && r.size() == 1 && r[0].status == 408 && r[0].body_json()["code"] == "request_timeout") ++timed_out;
  }
  EXPECT_EQ(timed_out, 200);
  EXPECT_GE(Clock::now() - started, 2900ms) << "closed before the head deadline";
}

TEST(ServerSlowClients, IdleConnectionsCostNoThreadAndAreClosed) {
  ServerProcess server({"--head-timeout-s", "2", "--keepalive-timeout-s", "1", "--max-connections-per-client", "0",
                        "--http-quick-threads", "2"});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  int probes = 0;
  EXPECT_LT(worst_healthz(server.port(), 1500ms, &probes), 1.0);
  int closed = 0;
  for (auto& c : idle) {
    c->read_until_closed(5000ms);
    if (c->closed() && c->received().empty()) ++closed;  // closed quietly: nothing was asked
  }
  EXPECT_EQ(closed, 200);
  // A keep-alive connection that goes quiet after an answer is closed after its idle time.
  RawConnection c(server.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_responses(1, 3000ms));
  auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_within(4000ms));
  EXPECT_GE(Clock::now() - t0, 900ms);
}

const std::string kUploadHead =
    "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    "Content-Length: 1000000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n";

TEST(ServerSlowClients, AStalledOrTricklingUploadIs408AndLeavesNothing) {
  ServerProcess server({"--body-timeout-s", "2", "--min-upload-kb-s", "4"});
  // Stalled: 100 bytes of a 1 MB body, then nothing.
  RawConnection stalled(server.port());
  stalled.send(kUploadHead + std::string(100, 'x'));
  int probes = 0;
  EXPECT_LT(worst_healthz(server.port(), 1000ms, &probes), 1.0);
  EXPECT_TRUE(stalled.closed_within(5000ms));
  auto r = stalled.parse();
  ASSERT_EQ(r.size(), 1u) << stalled.received();
  EXPECT_EQ(r[0].status, 408);
  EXPECT_EQ(r[0].body_json()["code"], "request_timeout");
  // Trickling: 200 bytes every second (under 4 KiB/s) — refused once the 10 s grace is over.
  RawConnection trickle(server.port());
  trickle.send(kUploadHead);
  auto t0 = Clock::now();
  while (!trickle.closed() && Clock::now() - t0 < 15s) {
    trickle.send(std::string(200, 'y'));
    trickle.read_until_closed(1000ms);
  }
  EXPECT_TRUE(trickle.closed());
  EXPECT_LT(Clock::now() - t0, 14s);
  r = trickle.parse();
  ASSERT_EQ(r.size(), 1u) << trickle.received();
  EXPECT_EQ(r[0].status, 408);
  EXPECT_NE(r[0].body_json()["error"].get<std::string>().find("too slowly"), std::string::npos) << r[0].body;
  std::size_t left = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(server.data_dir() / "uploads")) ++left;
  EXPECT_EQ(left, 0u);
}

TEST(ServerSlowClients, OneClientGetsAtMostItsConnectionsAndATrustedProxyIsExempt) {
  ServerProcess capped({"--max-connections-per-client", "8"});
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<RawConnection>(capped.port()));
  // Wait until the server holds all eight (each answers a request on it).
  for (auto& c : held) {
    c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(c->read_responses(1, 3000ms));
  }
  auto ex = raw_exchange(capped.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(ex.responses.size(), 1u) << ex.raw;
  EXPECT_EQ(ex.responses[0].status, 429);
  EXPECT_EQ(ex.responses[0].body_json()["code"], "rate_limited");
  EXPECT_TRUE(ex.closed);
  held.pop_back();  // one slot frees
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {  // the server notices the close within ms
    answered = healthz_seconds(capped.port()) < 5;
    if (!answered) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(answered);

  ServerProcess proxied({"--max-connections-per-client", "8", "--trusted-proxy", "127.0.0.1"});
  std::vector<std::unique_ptr<RawConnection>> many;
  for (int i = 0; i < 20; ++i) {
    many.push_back(std::make_unique<RawConnection>(proxied.port()));
    many.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (auto& c : many) {
    ASSERT_TRUE(c->read_responses(1, 3000ms));
    EXPECT_EQ(c->parse()[0].status, 200);
  }
}

TEST(ServerSlowClients, AFullLongLaneRefusesMoreUploadsButNotStatusRequests) {
  ServerProcess server({"--http-threads", "2", "--body-timeout-s", "20"});
  std::vector<std::unique_ptr<RawConnection>> uploads;
  for (int i = 0; i < 2; ++i) {
    uploads.push_back(std::make_unique<RawConnection>(server.port()));
    uploads.back()->send(kUploadHead + std::string(5000, 'x'));  // then nothing: holds a thread
  }
  // A third upload finds both long threads busy: 503 at once (poll: the two must be taken first).
  RawExchange ex;
  for (int i = 0; i < 100; ++i) {
    ex = raw_exchange(server.port(), kUploadHead, 1000ms);
    if (!ex.responses.empty() && ex.responses[0].status == 503) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(ex.responses.size(), 1u) << ex.raw;
  EXPECT_EQ(ex.responses[0].status, 503);
  EXPECT_EQ(ex.responses[0].body_json()["code"], "server_busy");
  EXPECT_FALSE(ex.responses[0].header("Retry-After").empty());
  int probes = 0;
  EXPECT_LT(worst_healthz(server.port(), 1000ms, &probes), 1.0);
  auto status = server.client()->Get("/api/jobs");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  uploads.clear();  // the clients go away: the threads come free
}

}  // namespace
}  // namespace sonic::test
