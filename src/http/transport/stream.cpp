// Plain and TLS streams, and the deadline-bounded waits workers use (see stream.h).
#include "http/transport/stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.h"

namespace sonic::http {

namespace {

std::string openssl_error() {
  char text[256] = {0};
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  ERR_clear_error();
  return text;
}

class TlsStream : public Stream {
 public:
  TlsStream(int fd, SSL* ssl) : Stream(fd), ssl_(ssl) {}
  ~TlsStream() override { SSL_free(ssl_); }
  bool tls() const override { return true; }

  IoResult handshake() override {
    ERR_clear_error();
    int r = SSL_is_server(ssl_) ? SSL_accept(ssl_) : SSL_connect(ssl_);  // client: outbound/
    if (r == 1) return {};
    return failure(r);
  }
  IoResult read(char* out, std::size_t size) override {
    ERR_clear_error();
    int r = SSL_read(ssl_, out, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    if (r > 0) return {IoStatus::ok, static_cast<std::size_t>(r)};
    return failure(r);
  }
  IoResult write(const char* data, std::size_t size) override {
    ERR_clear_error();
    int r = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    if (r > 0) return {IoStatus::ok, static_cast<std::size_t>(r)};
    return failure(r);
  }
  void shutdown_write() override {
    if (!shut_) {
      ERR_clear_error();
      SSL_shutdown(ssl_);  // best effort: close_notify
      ERR_clear_error();
      shut_ = true;
    }
    Stream::shutdown_write();
  }

 private:
  IoResult failure(int r) {
    int err = SSL_get_error(ssl_, r);
    ERR_clear_error();
    switch (err) {
      case SSL_ERROR_WANT_READ: return {IoStatus::want_read, 0};
      case SSL_ERROR_WANT_WRITE: return {IoStatus::want_write, 0};
      case SSL_ERROR_ZERO_RETURN: return {IoStatus::eof, 0};
      case SSL_ERROR_SYSCALL: return {errno == 0 ? IoStatus::eof : IoStatus::error, 0};
      default: return {IoStatus::error, 0};
    }
  }
  SSL* ssl_;
  bool shut_ = false;
};

}  // namespace

Stream::~Stream() {
  if (fd_ >= 0) ::close(fd_);
}

IoResult Stream::read(char* out, std::size_t size) {
  while (true) {
    ssize_t n = ::recv(fd_, out, size, 0);
    if (n > 0) return {IoStatus::ok, static_cast<std::size_t>(n)};
    if (n == 0) return {IoStatus::eof, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::want_read, 0};
    return {IoStatus::error, 0};
  }
}

IoResult Stream::write(const char* data, std::size_t size) {
  while (true) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) return {IoStatus::ok, static_cast<std::size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::want_write, 0};
    return {IoStatus::error, 0};
  }
}

void Stream::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

TlsContext::TlsContext(const std::string& cert, const std::string& key) {
  if (cert.empty() || key.empty())
    throw Error(ErrorCode::invalid_config, "HTTPS needs both --tls-cert and --tls-key.", cert.empty() ? "tls-cert" : "tls-key");
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw Error(ErrorCode::invalid_config, "TLS could not be set up: " + openssl_error(), "tls-cert");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::string problem;
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1) {
    problem = "Cannot use " + cert + " as the TLS certificate (PEM chain, server first): " + openssl_error();
  } else if (SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL already compares a key of the certificate's kind with it here.
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    problem = mismatch ? "The TLS key " + key + " does not belong to the certificate " + cert + "."
                       : "Cannot use " + key + " as the TLS private key (unencrypted PEM): " + openssl_error();
    ERR_clear_error();
  } else if (SSL_CTX_check_private_key(ctx_) != 1) {
    problem = "The TLS key " + key + " does not belong to the certificate " + cert + ".";
    ERR_clear_error();
  }
  if (!problem.empty()) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    throw Error(ErrorCode::invalid_config, problem, "tls-cert");
  }
}

TlsContext::~TlsContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

std::unique_ptr<Stream> TlsContext::wrap(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    if (ssl) SSL_free(ssl);
    ERR_clear_error();
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<TlsStream>(fd, ssl);
}

std::unique_ptr<Stream> wrap_tls(int fd, SSL* ssl) { return std::make_unique<TlsStream>(fd, ssl); }

bool wait_ready(int fd, IoStatus want, Clock::time_point deadline, const std::atomic<bool>* stopping, bool* stopped) {
  pollfd p{fd, static_cast<short>(want == IoStatus::want_write ? POLLOUT : POLLIN), 0};
  while (true) {
    if (stopping && stopping->load()) {
      if (stopped) *stopped = true;
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    int slice = static_cast<int>(std::min<long long>(left, stopping ? 200 : left));
    int r = ::poll(&p, 1, slice);
    if (r > 0) return true;  // ready, or an error/hang-up the next call will report
    if (r < 0 && errno != EINTR) return false;
  }
}

IoResult read_with_deadline(Stream& s, char* out, std::size_t size, Clock::time_point deadline,
                            const std::atomic<bool>* stopping) {
  while (true) {
    IoResult r = s.read(out, size);
    if (r.status != IoStatus::want_read && r.status != IoStatus::want_write) return r;
    bool stopped = false;
    if (!wait_ready(s.fd(), r.status, deadline, stopping, &stopped))
      return {stopped ? IoStatus::stopped : IoStatus::timeout, 0};
  }
}

bool write_all(Stream& s, const char* data, std::size_t size, std::chrono::milliseconds progress_timeout) {
  std::size_t done = 0;
  while (done < size) {
    IoResult r = s.write(data + done, size - done);
    if (r.status == IoStatus::ok) {
      done += r.bytes;
      continue;
    }
    if (r.status != IoStatus::want_read && r.status != IoStatus::want_write) return false;
    if (!wait_ready(s.fd(), r.status, Clock::now() + progress_timeout)) return false;
  }
  return true;
}

}  // namespace sonic::http
