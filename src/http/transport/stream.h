// Stream: one client connection's bytes, over a plain TCP socket or TLS (OpenSSL) on it.
// Always non-blocking: read/write say when they would block and on which direction
// (TLS may need to write to read, and the reverse). The reactor waits with epoll, a worker
// with poll() and a deadline (wait_ready). TlsContext loads and checks the certificate and
// key once, with the messages an operator needs (server_tls_cors_test).
//
// Threads: a Stream has one owner at a time (the reactor or one worker); TlsContext is
// immutable after load and shared.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sonic::http {

using Clock = std::chrono::steady_clock;

enum class IoStatus { ok, eof, want_read, want_write, error, timeout, stopped };

struct IoResult {
  IoStatus status = IoStatus::ok;
  std::size_t bytes = 0;
};

class Stream {
 public:
  explicit Stream(int fd) : fd_(fd) {}
  virtual ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  virtual bool tls() const { return false; }
  // One TLS handshake step; plain sockets are always done.
  virtual IoResult handshake() { return {}; }
  virtual IoResult read(char* out, std::size_t size);
  virtual IoResult write(const char* data, std::size_t size);
  // No more bytes from us (TLS: close_notify first); reading stays possible.
  virtual void shutdown_write();

 protected:
  int fd_;
};

class TlsContext {
 public:
  // TLS 1.2 or newer with the PEM chain and key, checked against each other. Throws
  // Error(invalid_config) saying which file is wrong.
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  std::unique_ptr<Stream> wrap(int fd) const;

 private:
  SSL_CTX* ctx_ = nullptr;
};

// A stream over `ssl` (set up on `fd` by its context, server or client side); it owns
// both. The outbound client (http/outbound/) makes its client connections with it.
std::unique_ptr<Stream> wrap_tls(int fd, SSL* ssl);

// Waits until `fd` can do what `want` asks (want_read / want_write) or the deadline
// passes (false). Polls in short slices so `stopping` is noticed when given.
bool wait_ready(int fd, IoStatus want, Clock::time_point deadline, const std::atomic<bool>* stopping = nullptr,
                bool* stopped = nullptr);

// Blocking-style helpers for workers: retry on want_* until the deadline.
IoResult read_with_deadline(Stream& s, char* out, std::size_t size, Clock::time_point deadline,
                            const std::atomic<bool>* stopping = nullptr);
// Writes all of `data`; each wait for progress may last `progress_timeout`. False when the
// client is gone, stopped reading, or the deadline passed.
bool write_all(Stream& s, const char* data, std::size_t size, std::chrono::milliseconds progress_timeout);

}  // namespace sonic::http
