// Integration: HTTPS (--tls-cert/--tls-key) over real sockets against the real binary
// (issue 5, docs/auth.md). Negative cases first: start-up refusals (exit 2 with a message
// that names the flag or file to fix) and clients that must not get an answer; then a
// trusted client and one real generate job over HTTPS. Certificates are made with the
// `openssl` CLI; clients are cpp-httplib's SSLClient, its SSL_CTX narrowed for the old-TLS
// check.
#include "integration/server_access_support.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

// HTTPS: start-up refusals.

class ServerTlsStartup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    make_cert(*dir_ / "key.pem", *dir_ / "cert.pem");
    make_cert(*dir_ / "other-key.pem", *dir_ / "other-cert.pem");
    run_ok("openssl genrsa -out " + shell_quote((*dir_ / "rsa-key.pem").string()) + " 2048 2>/dev/null");
    write_file(*dir_ / "not-pem.pem", "this is not a certificate\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string file(const std::string& name) { return (*dir_ / name).string(); }
  static TempDir* dir_;
};
TempDir* ServerTlsStartup::dir_ = nullptr;

TEST_F(ServerTlsStartup, CertWithoutKeyOrKeyWithoutCertIsRefused) {
  auto only_cert = serve_refused({"--tls-cert", file("cert.pem")});
  EXPECT_EQ(only_cert.exit_code, 2) << only_cert.output;
  EXPECT_TRUE(contains(only_cert.output, "--tls-key")) << only_cert.output;
  auto only_key = serve_refused({"--tls-key", file("key.pem")});
  EXPECT_EQ(only_key.exit_code, 2) << only_key.output;
  EXPECT_TRUE(contains(only_key.output, "--tls-cert")) << only_key.output;
}

TEST_F(ServerTlsStartup, KeyOfAnotherCertificateIsRefused) {
  // Another EC P-256 key: the same kind of key as the certificate's, a different one. The
  // operator must read that the key does not match the certificate, not a hint about the
  // key file's format or encryption.
  auto ec = serve_refused({"--tls-cert", file("cert.pem"), "--tls-key", file("other-key.pem")});
  EXPECT_EQ(ec.exit_code, 2) << ec.output;
  EXPECT_TRUE(contains(ec.output, "does not belong")) << ec.output;
  EXPECT_TRUE(contains(ec.output, file("other-key.pem"))) << ec.output;
  // An RSA key next to the EC certificate.
  auto rsa = serve_refused({"--tls-cert", file("cert.pem"), "--tls-key", file("rsa-key.pem")});
  EXPECT_EQ(rsa.exit_code, 2) << rsa.output;
  EXPECT_TRUE(contains(rsa.output, "does not belong")) << rsa.output;
}

TEST_F(ServerTlsStartup, FilesThatAreNotPemAreRefused) {
  auto cert = serve_refused({"--tls-cert", file("not-pem.pem"), "--tls-key", file("key.pem")});
  EXPECT_EQ(cert.exit_code, 2) << cert.output;
  EXPECT_TRUE(contains(cert.output, file("not-pem.pem"))) << cert.output;
  auto key = serve_refused({"--tls-cert", file("cert.pem"), "--tls-key", file("not-pem.pem")});
  EXPECT_EQ(key.exit_code, 2) << key.output;
  EXPECT_TRUE(contains(key.output, file("not-pem.pem"))) << key.output;
  // The key given as the certificate, and a file that does not exist.
  EXPECT_EQ(serve_refused({"--tls-cert", file("key.pem"), "--tls-key", file("key.pem")}).exit_code, 2);
  EXPECT_EQ(serve_refused({"--tls-cert", file("missing.pem"), "--tls-key", file("key.pem")}).exit_code, 2);
}

// ---------------------------------------------------------------------------------------
// HTTPS: a running server (with --auth jwt, so video_url is signed).

class ServerTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    make_cert(*dir_ / "key.pem", *dir_ / "cert.pem");
    write_file(*dir_ / "secret", "tls-test-secret-" + std::string(40, 's') + "\n");
    server_ = new ServerProcess({"--tls-cert", (*dir_ / "cert.pem").string(), "--tls-key",
                                 (*dir_ / "key.pem").string(), "--auth", "jwt", "--jwt-secret-file",
                                 (*dir_ / "secret").string(), "--workers", "1"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }
  static fs::path ca() { return *dir_ / "cert.pem"; }
  static TempDir* dir_;
  static ServerProcess* server_;
};
TempDir* ServerTls::dir_ = nullptr;
ServerProcess* ServerTls::server_ = nullptr;

TEST_F(ServerTls, ClientThatDoesNotTrustTheCertificateFails) {
  auto untrusted = tls_client(server_->port(), {});
  auto r = untrusted->Get("/healthz");
  ASSERT_FALSE(r) << "status " << r->status;
  EXPECT_EQ(r.error(), httplib::Error::SSLServerVerification) << httplib::to_string(r.error());
  EXPECT_NE(untrusted->get_openssl_verify_result(), X509_V_OK);
}

TEST_F(ServerTls, PlainHttpToTheTlsPortGetsNoHttpResponse) {
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_connection_timeout(5);
  plain.set_read_timeout(10);
  auto r = plain.Get("/healthz");
  EXPECT_FALSE(r) << "a plain HTTP request was answered: " << r->status << " " << r->body;
  // The server is still fine for TLS clients afterwards.
  expect_status(tls_client(server_->port(), ca())->Get("/healthz"), 200);
}

TEST_F(ServerTls, Tls11OnlyClientIsRefused) {
  auto old = tls_client(server_->port(), ca());
  SSL_CTX* ctx = old->ssl_context();
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_security_level(ctx, 0);  // OpenSSL 3 offers TLS 1.0/1.1 only at level 0
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  auto r = old->Get("/healthz");
  EXPECT_FALSE(r) << "a TLS 1.1 client was answered: " << r->status;
  if (!r) {
    EXPECT_EQ(r.error(), httplib::Error::SSLConnection) << httplib::to_string(r.error());
  }
  // The same client limited to TLS 1.2 works: the refusal above is about the version.
  auto tls12 = tls_client(server_->port(), ca());
  SSL_CTX_set_security_level(tls12->ssl_context(), 0);
  SSL_CTX_set_max_proto_version(tls12->ssl_context(), TLS1_2_VERSION);
  expect_status(tls12->Get("/healthz"), 200);
}

TEST_F(ServerTls, TrustedClientGetsHealthz) {
  auto c = tls_client(server_->port(), ca());
  auto r = c->Get("/healthz");
  expect_status(r, 200);
  EXPECT_EQ(body_json(r)["status"], "ok") << r->body;
  // Protected routes still want a token over TLS.
  expect_401(c->Get("/api/jobs"), false);
  expect_status(c->Get("/api/jobs", bearer(token_for(*dir_ / "secret", "alice"))), 200);
  EXPECT_TRUE(contains(server_->log_text(), "https://127.0.0.1:" + std::to_string(server_->port())))
      << server_->log_tail();
}

TEST_F(ServerTls, GenerateGivesASignedHttpsVideoUrlThatPlaysWithRange) {
  auto c = tls_client(server_->port(), ca());
  std::string alice = token_for(*dir_ / "secret", "alice");
  auto r = c->Post("/api/sonic/generate", bearer(alice), small_job(1));
  expect_status(r, 200);
  json job = body_json(r);
  ASSERT_EQ(job["success"], true) << job.dump();
  std::string url = job.value("video_url", "");
  std::string origin = "https://127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(url.rfind(origin + "/output/", 0), 0u) << url;
  EXPECT_EQ(job.value("status_url", "").rfind(origin + "/api/jobs/", 0), 0u) << job.dump();
  ASSERT_TRUE(contains(url, "?expires=") && contains(url, "&sig=")) << url;
  std::string signed_path = path_of(url);
  std::string bare = signed_path.substr(0, signed_path.find('?'));

  // Negative first: the bare path without a token, a tampered signature, plain HTTP.
  expect_status(c->Get(bare), 403, "forbidden");
  std::string tampered = signed_path;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  expect_status(c->Get(tampered), 403, "forbidden");
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(10);
  EXPECT_FALSE(plain.Get(signed_path));

  // The signed URL plays over TLS without any header; Range gives 206.
  std::string file = read_file(job["output_path"].get<std::string>());
  ASSERT_GT(file.size(), 100u);
  auto part = c->Get(signed_path, {{"Range", "bytes=0-99"}});
  expect_status(part, 206);
  EXPECT_EQ(part->body, file.substr(0, 100));
  EXPECT_EQ(part->get_header_value("Content-Range"), "bytes 0-99/" + std::to_string(file.size()));
  EXPECT_EQ(part->get_header_value("Content-Type"), "video/mp4");
  auto tail = c->Get(signed_path, {{"Range", "bytes=-10"}});
  expect_status(tail, 206);
  EXPECT_EQ(tail->body, file.substr(file.size() - 10));
  auto whole = c->Get(signed_path);
  expect_status(whole, 200);
  EXPECT_EQ(whole->body.size(), file.size());
  EXPECT_TRUE(whole->body == file);
  // The job's status over TLS repeats the https URL.
  json status = body_json(c->Get("/api/jobs/" + job["job_id"].get<std::string>(), bearer(alice)));
  EXPECT_EQ(status.value("video_url", "").rfind(origin + "/output/", 0), 0u) << status.dump();
}

}  // namespace
}  // namespace sonic::test
