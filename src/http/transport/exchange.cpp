// Serving one request on a worker (see exchange.h).
#include "http/transport/exchange.h"

#include <cstring>

#include "http/transport/response_writer.h"
#include "http/wire/chunked.h"
#include "util/error.h"
#include "util/log.h"

namespace sonic::http {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

// The body of one request, read from the connection: Content-Length or chunked, bytes
// already received with the head first. Every wait for the client is bounded by the body
// timeout; after the grace period the average rate must stay above the minimum.
class ConnectionBody : public BodySource {
 public:
  ConnectionBody(Connection& c, const wire::RequestHead& head, const TransportConfig& config,
                 const std::atomic<bool>& stopping)
      : c_(c), head_(head), config_(config), stopping_(stopping), start_(Clock::now()) {
    chunked_ = head.chunked;
    remaining_ = head.content_length.value_or(0);
    done_ = !chunked_ && remaining_ == 0;
  }

  std::size_t read(char* out, std::size_t size) override {
    if (done_ || size == 0) return 0;
    if (failed_) throw Error(ErrorCode::bad_request, "The request body could not be read.");
    ask_for_body();
    if (!chunked_) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, remaining_));
      std::size_t n = 0;
      if (!c_.in.empty()) {
        n = std::min(want, c_.in.size());
        std::memcpy(out, c_.in.data(), n);
        c_.in.erase(0, n);
      } else {
        n = receive(out, want);
      }
      remaining_ -= n;
      read_ += n;
      done_ = remaining_ == 0;
      return n;
    }
    while (decoded_.size() == decoded_pos_ && !done_) {
      if (c_.in.empty()) {
        char buf[kReadChunk];
        std::size_t n = receive(buf, sizeof buf);
        c_.in.append(buf, n);
      }
      decoded_.clear();
      decoded_pos_ = 0;
      std::size_t consumed = 0;
      while (true) {
        std::string_view data;
        auto status = decoder_.next(std::string_view(c_.in).substr(consumed), consumed, data);
        if (status == wire::ChunkedDecoder::Status::data) {
          decoded_.append(data);
          continue;
        }
        if (status == wire::ChunkedDecoder::Status::error) {
          failed_ = true;
          throw Error(ErrorCode::bad_request, "The chunked request body is malformed: " + decoder_.error());
        }
        if (status == wire::ChunkedDecoder::Status::done) done_ = true;
        break;
      }
      c_.in.erase(0, consumed);
    }
    std::size_t n = std::min(size, decoded_.size() - decoded_pos_);
    std::memcpy(out, decoded_.data() + decoded_pos_, n);
    decoded_pos_ += n;
    read_ += n;
    if (decoded_pos_ == decoded_.size() && done_) return n;
    return n;
  }

  bool complete() const override { return done_ && decoded_pos_ == decoded_.size(); }
  std::uint64_t bytes_read() const override { return read_; }

  bool discard(std::uint64_t max_bytes) override { return drop(max_bytes, config_.body_timeout); }

  // Drops the rest within `max_bytes`; each wait at most `patience`. True at the end.
  bool drop(std::uint64_t max_bytes, std::chrono::milliseconds patience) {
    if (complete()) return true;
    if (failed_) return false;
    if (head_.expect_continue && !continue_sent_) return false;
    if (!chunked_ && remaining_ > max_bytes) return false;
    patience_ = patience;
    std::uint64_t dropped = 0;
    char buf[kReadChunk];
    try {
      while (!complete()) {
        std::size_t n = read(buf, sizeof buf);
        dropped += n;
        if (dropped > max_bytes) return false;
      }
    } catch (const Error&) {
      return false;
    }
    return true;
  }

  bool failed() const { return failed_; }
  bool waiting_for_continue() const { return head_.expect_continue && !continue_sent_ && !complete(); }

 private:
  // Expect: 100-continue — the client waits for this before sending the body.
  void ask_for_body() {
    if (!head_.expect_continue || continue_sent_) return;
    continue_sent_ = true;
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!write_all(*c_.stream, kContinue, sizeof kContinue - 1, config_.write_timeout)) {
      failed_ = true;
      throw Error(ErrorCode::bad_request, "The client went away.");
    }
  }

  std::size_t receive(char* out, std::size_t size) {
    auto now = Clock::now();
    auto elapsed = now - start_;
    if (elapsed > config_.body_grace) {
      double seconds = std::chrono::duration<double>(elapsed).count();
      if (static_cast<double>(read_) / seconds < config_.min_body_bytes_per_s) {
        failed_ = true;
        throw Error(ErrorCode::request_timeout,
                    "The request body arrives too slowly (under " +
                        std::to_string(static_cast<long>(config_.min_body_bytes_per_s / 1024)) + " KiB/s on average).");
      }
    }
    IoResult r = read_with_deadline(*c_.stream, out, size, now + patience_, &stopping_);
    switch (r.status) {
      case IoStatus::ok: return r.bytes;
      case IoStatus::timeout:
        failed_ = true;
        throw Error(ErrorCode::request_timeout,
                    "No byte of the request body arrived for " +
                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(patience_).count()) + " s.");
      case IoStatus::stopped:
        failed_ = true;
        throw Error(ErrorCode::shutting_down, "The server is stopping.");
      default:
        failed_ = true;
        throw Error(ErrorCode::bad_request, "The request body ended before its end (cut off).");
    }
  }

  Connection& c_;
  const wire::RequestHead& head_;
  const TransportConfig& config_;
  const std::atomic<bool>& stopping_;
  Clock::time_point start_;
  std::chrono::milliseconds patience_{config_.body_timeout};
  bool chunked_ = false;
  std::uint64_t remaining_ = 0;
  bool done_ = false;
  bool failed_ = false;
  bool continue_sent_ = false;
  std::uint64_t read_ = 0;
  wire::ChunkedDecoder decoder_;
  std::string decoded_;
  std::size_t decoded_pos_ = 0;
};

}  // namespace

void serve_exchange(Dispatch& work, const TransportConfig& config, Dispatcher& dispatcher,
                    const std::atomic<bool>& stopping) {
  Connection& c = *work.connection;
  Request request;
  request.head = std::move(work.head);
  request.peer_address = c.peer;
  request.peer_port = c.peer_port;
  request.local_port = c.local_port;
  request.tls = c.stream->tls();
  ConnectionBody body(c, request.head, config, stopping);
  request.set_body(&body);
  Response response;
  try {
    dispatcher.handle(request, response);
  } catch (const std::exception& e) {
    log::error("request handler failed", {{"error", e.what()}, {"path", request.path()}});
    response = Response{};
    response.status = 500;
    response.set_content(R"({"success":false,"error":"Internal error.","code":"internal"})", "application/json");
    response.close = true;
  }
  ++c.requests;

  // Settle the body before answering, so Connection: close is said when it applies.
  bool keep = request.head.keep_alive && !response.close && !stopping.load() && !body.failed();
  if (keep && !body.complete()) {
    keep = !body.waiting_for_continue() && body.drop(kDrainBytes, std::chrono::milliseconds(2000));
  }
  WriteOptions options;
  options.head_only = request.is_head();
  options.http10 = request.head.minor_version == 0;
  options.chunked = !options.http10;
  if (response.stream && options.http10) keep = false;  // close-delimited
  options.keep_alive = keep;
  options.progress_timeout = config.write_timeout;
  if (!write_response(*c.stream, response, options)) {
    c.phase = Connection::Phase::dispatched;  // gone or stuck: just close
    return;
  }
  c.phase = keep ? Connection::Phase::head : Connection::Phase::lingering;
}

}  // namespace sonic::http
