// Integration: HTTPS (--tls-cert/--tls-key), CORS (--cors-origin), static API keys
// (--auth apikey, `sonic-server apikey`) and the /metrics key (--metrics-key-file) over
// real sockets against the real binary (issue 5, docs/auth.md).
//
// Negative cases first in every section: start-up refusals (exit 2 with a message that
// names the flag or file to fix), clients that must not get an answer, origins, methods
// and headers a preflight must refuse, missing or wrong keys. Then what works.
//
// Certificates are made here with the `openssl` CLI (self-signed EC P-256 for 127.0.0.1);
// clients are cpp-httplib's SSLClient, with its SSL_CTX narrowed for the old-TLS check.
// Two real generate jobs in the whole file (one over HTTPS, one with API keys), 1 s clips
// at 256 px with the portrait's face box given, so no face detection runs.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <array>
#include <sstream>

#include "integration/server_process.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

// Where the detector finds the face on portrait.png (as engine_classic_quality_test).
constexpr std::array<int, 4> kFaceBox{177, 77, 90, 90};

// --- helpers ---------------------------------------------------------------------------

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string path_of(const std::string& url) {
  auto pos = url.find('/', url.find("//") + 2);
  return pos == std::string::npos ? "/" : url.substr(pos);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void expect_status(const httplib::Result& r, int status, const std::string& code = {}) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  if (!code.empty()) {
    EXPECT_EQ(body_json(r)["code"], code) << r->body;
  }
}

// 401 with a Bearer challenge; `invalid` = a credential was sent and refused.
void expect_401(const httplib::Result& r, bool invalid) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(body_json(r)["code"], "unauthorized") << r->body;
  std::string challenge = r->get_header_value("WWW-Authenticate");
  EXPECT_EQ(challenge.rfind("Bearer", 0), 0u) << challenge;
  EXPECT_EQ(contains(challenge, "invalid_token"), invalid) << challenge;
}

// `sonic-server serve` with `args` that must be refused: returns its exit code and output
// (stdout + stderr). A server that wrongly starts is ended by `timeout` (exit 124).
CommandResult serve_refused(const std::vector<std::string>& args, const std::string& env = {}) {
  TempDir dir;
  std::string command = env;
  command += " timeout 30 ";
  command += shell_quote(sonic_binary().string());
  command += " serve --host 127.0.0.1 --port 0 --rate-limit-per-min 0 --data-dir ";
  command += shell_quote((dir / "data").string());
  for (const auto& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  auto started = std::chrono::steady_clock::now();
  CommandResult r = run(command + " </dev/null");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s) << "a refusal must be immediate: " << command;
  return r;
}

// Runs a sonic-server subcommand; returns its stdout alone (stderr is only in the
// CommandResult) and fails the test on a non-zero exit.
std::string command_stdout(const std::string& arguments) {
  TempDir dir;
  auto out = dir / "stdout";
  CommandResult r = run("{ " + shell_quote(sonic_binary().string()) + " " + arguments + " >" +
                        shell_quote(out.string()) + "; }");
  EXPECT_EQ(r.exit_code, 0) << arguments << "\n" << r.output;
  return read_file(out);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// An HS256 token made by `sonic-server token` with the server's secret file.
std::string token_for(const fs::path& secret_file, const std::string& sub, bool admin = false) {
  auto lines = lines_of(command_stdout("token --sub " + shell_quote(sub) + " --ttl 1h --secret-file " +
                                       shell_quote(secret_file.string()) + (admin ? " --admin" : "")));
  EXPECT_EQ(lines.size(), 1u);
  return lines.empty() ? std::string() : lines[0];
}

struct ApiKey {
  std::string key;   // stdout line 1
  std::string line;  // stdout line 2: the keys-file line
};

ApiKey make_key(const std::string& sub, bool admin = false) {
  auto lines = lines_of(command_stdout("apikey --sub " + shell_quote(sub) + (admin ? " --admin" : "")));
  EXPECT_EQ(lines.size(), 2u);
  if (lines.size() < 2) return {};
  return {lines[0], lines[1]};
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {digits[digest[i] >> 4], digits[digest[i] & 15]};
  return out;
}

// Portrait + 5 s speech cut to 1 s at 256 px with the face box given: the cheapest real job.
httplib::MultipartFormDataItems small_job(int seed) {
  json config = {{"min_resolution", 256}, {"duration", 1.0}, {"seed", seed}, {"face_box", kFaceBox}};
  return {file_part("image", fixture("portrait.png"), "image/png"),
          file_part("audio", fixture("speech_en_5s.wav"), "audio/wav"), text_part("config", config.dump())};
}

// A self-signed EC P-256 certificate for 127.0.0.1 / localhost.
void make_cert(const fs::path& key, const fs::path& cert) {
  run_ok("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
         "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
         shell_quote(key.string()) + " -out " + shell_quote(cert.string()) + " 2>/dev/null");
}

// An HTTPS client for 127.0.0.1:port that verifies the server against `ca` (empty: the
// system's trust store only).
std::unique_ptr<httplib::SSLClient> tls_client(int port, const fs::path& ca) {
  auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  if (!ca.empty()) c->set_ca_cert_path(ca.string());
  c->enable_server_certificate_verification(true);
  c->set_connection_timeout(10);
  c->set_read_timeout(600);
  c->set_write_timeout(60);
  return c;
}

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// CORS: start-up refusals.

TEST(ServerCorsStartup, WildcardWithCredentialsIsRefused) {
  auto r = serve_refused({"--cors-origin", "*", "--cors-allow-credentials"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--cors-allow-credentials")) << r.output;
  auto env = serve_refused({}, "SONIC_CORS_ORIGIN='*' SONIC_CORS_ALLOW_CREDENTIALS=true");
  EXPECT_EQ(env.exit_code, 2) << env.output;
}

TEST(ServerCorsStartup, ValueThatIsNotAnOriginIsRefused) {
  for (const char* bad : {"example.com", "https://app.example/path", "ftp://app.example",
                          "https://app.example,example.com"}) {
    auto r = serve_refused({"--cors-origin", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "--cors-origin")) << r.output;
  }
}

// CORS: the default (same origin only).

TEST(ServerCorsDefault, NoOtherOriginIsAllowed) {
  ServerProcess server;
  auto c = server.client();
  auto pre = c->Options("/api/sonic/generate",
                        {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  expect_status(pre, 403, "forbidden");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Methods"));
  auto get = c->Get("/api/presets", {{"Origin", "https://app.example"}});
  expect_status(get, 200);
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Credentials"));
  EXPECT_FALSE(get->has_header("Access-Control-Expose-Headers"));
  // A plain OPTIONS (no Origin) is answered with Allow.
  auto plain = c->Options("/api/sonic/generate");
  expect_status(plain, 204);
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "POST")) << plain->get_header_value("Allow");
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "GET")) << plain->get_header_value("Allow");
  EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));
}

// CORS: one listed origin.

class ServerCors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--cors-origin", kAllowed}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static httplib::Result preflight(const std::string& origin, const std::string& method,
                                   const std::string& headers = {}) {
    httplib::Headers h = {{"Origin", origin}, {"Access-Control-Request-Method", method}};
    if (!headers.empty()) h.emplace("Access-Control-Request-Headers", headers);
    return server_->client()->Options("/api/sonic/generate", h);
  }
  static constexpr const char* kAllowed = "https://app.example";
  static ServerProcess* server_;
};
ServerProcess* ServerCors::server_ = nullptr;

TEST_F(ServerCors, PreflightFromAnotherOriginIs403WithoutCorsHeaders) {
  for (const char* origin : {"https://evil.example", "http://app.example", "https://app.example.evil.example",
                             "https://app.example:8443", "null"}) {
    auto r = preflight(origin, "POST", "authorization, content-type");
    expect_status(r, 403, "forbidden");
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Methods")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Headers")) << origin;
  }
}

TEST_F(ServerCors, PreflightForAnUnlistedMethodOrHeaderIs403) {
  auto put = preflight(kAllowed, "PUT");
  expect_status(put, 403, "forbidden");
  EXPECT_FALSE(put->has_header("Access-Control-Allow-Methods"));
  expect_status(preflight(kAllowed, "PATCH", "content-type"), 403, "forbidden");
  auto evil = preflight(kAllowed, "POST", "authorization, X-Evil");
  expect_status(evil, 403, "forbidden");
  EXPECT_FALSE(evil->has_header("Access-Control-Allow-Headers"));
  expect_status(preflight(kAllowed, "POST", "cookie"), 403, "forbidden");
}

TEST_F(ServerCors, PreflightFromTheListedOriginIs204) {
  auto r = preflight(kAllowed, "POST", "authorization, content-type");
  expect_status(r, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kAllowed);
  EXPECT_TRUE(contains(r->get_header_value("Vary"), "Origin")) << r->get_header_value("Vary");
  EXPECT_TRUE(contains(r->get_header_value("Access-Control-Allow-Methods"), "POST"));
  std::string allowed_headers = r->get_header_value("Access-Control-Allow-Headers");
  EXPECT_TRUE(contains(lower(allowed_headers), "authorization")) << allowed_headers;
  EXPECT_TRUE(contains(lower(allowed_headers), "content-type")) << allowed_headers;
  EXPECT_FALSE(r->get_header_value("Access-Control-Max-Age").empty());
  EXPECT_GT(std::atoi(r->get_header_value("Access-Control-Max-Age").c_str()), 0);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  EXPECT_TRUE(r->body.empty()) << r->body;
  // Other listed methods and headers, and the origin in another case, pass too.
  expect_status(preflight(kAllowed, "DELETE", "X-API-Key"), 204);
  expect_status(preflight(kAllowed, "GET", "Last-Event-ID, Range"), 204);
  auto upper = preflight("https://APP.example", "POST");
  expect_status(upper, 204);
  EXPECT_TRUE(upper->has_header("Access-Control-Allow-Origin"));
}

TEST_F(ServerCors, ResponsesToTheListedOriginCarryCorsHeaders) {
  auto c = server_->client();
  auto check = [](const httplib::Result& r) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kAllowed);
    EXPECT_TRUE(contains(r->get_header_value("Vary"), "Origin"));
    std::string exposed = r->get_header_value("Access-Control-Expose-Headers");
    EXPECT_TRUE(contains(exposed, "Retry-After")) << exposed;
    EXPECT_TRUE(contains(exposed, "X-Request-Id")) << exposed;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  };
  auto presets = c->Get("/api/presets", {{"Origin", kAllowed}});
  expect_status(presets, 200);
  check(presets);
  // An error answer carries them too, so the page can read the JSON error.
  auto error = c->Post("/api/sonic/generate", {{"Origin", kAllowed}}, "not a form", "text/plain");
  ASSERT_TRUE(error);
  EXPECT_GE(error->status, 400) << error->body;
  EXPECT_EQ(body_json(error)["success"], false) << error->body;
  check(error);
  auto unknown = c->Get("/api/jobs/00000000-0000-4000-8000-000000000000", {{"Origin", kAllowed}});
  expect_status(unknown, 404, "not_found");
  check(unknown);
}

TEST_F(ServerCors, ResponsesToOtherOriginsCarryNoCorsHeaders) {
  auto c = server_->client();
  for (const char* origin : {"https://evil.example", "null"}) {
    auto r = c->Get("/api/presets", {{"Origin", origin}});
    expect_status(r, 200);  // the browser, not the server, keeps the answer from the page
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Expose-Headers")) << origin;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Credentials")) << origin;
  }
  auto no_origin = c->Get("/api/presets");
  expect_status(no_origin, 200);
  EXPECT_FALSE(no_origin->has_header("Access-Control-Allow-Origin"));
  auto plain = c->Options("/api/jobs");
  expect_status(plain, 204);
  EXPECT_TRUE(contains(plain->get_header_value("Allow"), "OPTIONS")) << plain->get_header_value("Allow");
}

// CORS: any origin, and credentials for a listed one.

TEST(ServerCorsWildcard, AnyOriginGetsStarAndNeverCredentials) {
  ServerProcess server({"--cors-origin", "*"});
  auto c = server.client();
  auto get = c->Get("/api/presets", {{"Origin", "https://anywhere.example"}});
  expect_status(get, 200);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(get->has_header("Access-Control-Allow-Credentials"));
  auto pre = c->Options("/api/sonic/generate", {{"Origin", "http://localhost:3000"},
                                                {"Access-Control-Request-Method", "POST"},
                                                {"Access-Control-Request-Headers", "Authorization"}});
  expect_status(pre, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Credentials"));
  // Still only the listed methods.
  expect_status(c->Options("/api/sonic/generate", {{"Origin", "https://anywhere.example"},
                                                   {"Access-Control-Request-Method", "PUT"}}),
                403, "forbidden");
}

TEST(ServerCorsCredentials, ListedOriginGetsAllowCredentials) {
  ServerProcess server({"--cors-origin", "https://a.example", "--cors-allow-credentials"});
  auto c = server.client();
  auto other = c->Get("/api/presets", {{"Origin", "https://b.example"}});
  expect_status(other, 200);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Credentials"));
  auto get = c->Get("/api/presets", {{"Origin", "https://a.example"}});
  expect_status(get, 200);
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Credentials"), "true");
  auto pre = c->Options("/api/jobs", {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "GET"}});
  expect_status(pre, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Credentials"), "true");
}

// ---------------------------------------------------------------------------------------
// API keys: the command and start-up refusals.

TEST(ServerApiKeyStartup, ApikeyCommandPrintsTheKeyThenItsHashedLine) {
  auto made = make_key("scripts");
  EXPECT_EQ(made.key.rfind("sk_sonic_", 0), 0u) << made.key;
  EXPECT_EQ(made.key.size(), 9u + 64u) << made.key;
  EXPECT_EQ(made.line.rfind("scripts sha256:", 0), 0u) << made.line;
  EXPECT_FALSE(contains(made.line, made.key)) << made.line;
  EXPECT_FALSE(contains(made.line, made.key.substr(9))) << made.line;
  EXPECT_EQ(made.line, "scripts sha256:" + sha256_hex(made.key));
  auto admin = make_key("ops", true);
  EXPECT_EQ(admin.line, "ops sha256:" + sha256_hex(admin.key) + " admin");
  EXPECT_NE(admin.key, made.key);
  // A subject the keys file could not hold is refused.
  EXPECT_EQ(run(shell_quote(sonic_binary().string()) + " apikey --sub 'two words'").exit_code, 2);
}

TEST(ServerApiKeyStartup, MissingOrPlaintextKeysFileIsRefused) {
  auto none = serve_refused({"--auth", "apikey"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_TRUE(contains(none.output, "--api-keys-file")) << none.output;

  TempDir dir;
  auto made = make_key("scripts");
  write_file(dir / "plaintext", "scripts " + made.key + "\n");
  auto plain = serve_refused({"--auth", "apikey", "--api-keys-file", (dir / "plaintext").string()});
  EXPECT_EQ(plain.exit_code, 2) << plain.output;
  EXPECT_TRUE(contains(plain.output, "sha256")) << plain.output;
  EXPECT_FALSE(contains(plain.output, made.key)) << "the refusal must not echo the key: " << plain.output;
  write_file(dir / "bare", made.key + "\n");
  EXPECT_EQ(serve_refused({"--auth", "apikey", "--api-keys-file", (dir / "bare").string()}).exit_code, 2);
  write_file(dir / "empty", "# no keys yet\n");
  EXPECT_EQ(serve_refused({"--auth", "apikey", "--api-keys-file", (dir / "empty").string()}).exit_code, 2);
  EXPECT_EQ(serve_refused({"--auth", "apikey", "--api-keys-file", (dir / "missing").string()}).exit_code, 2);
  // Keys with --auth none would never be asked for.
  write_file(dir / "keys", made.line + "\n");
  EXPECT_EQ(serve_refused({"--auth", "none", "--api-keys-file", (dir / "keys").string()}).exit_code, 2);
}

// API keys: a running server with two users and an admin.

// Without an HS256 secret to derive it from, the link key is made once in the data dir:
// a video_url handed out before a restart still plays after it.
TEST(ServerApiKeyRestart, SignedLinksSurviveARestartAndTheirKeyIsPrivate) {
  TempDir dir;
  ApiKey alice = make_key("alice");
  write_file(dir / "keys", alice.line + "\n");
  ServerProcess server({"--auth", "apikey", "--api-keys-file", (dir / "keys").string()});
  auto r = server.client()->Post("/api/sonic/generate", bearer(alice.key), small_job(5));
  expect_status(r, 200);
  std::string link = path_of(body_json(r).value("video_url", ""));
  ASSERT_TRUE(contains(link, "sig=")) << link;
  expect_status(server.client()->Get(link), 200);

  struct stat st {};
  ASSERT_EQ(::stat((server.data_dir() / "url-signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(server.stop(), 0);
  server.start();
  expect_status(server.client()->Get(link), 200);

  // A server with another data dir (another key) refuses the same link.
  ServerProcess other({"--auth", "apikey", "--api-keys-file", (dir / "keys").string()}, dir / "other-data");
  std::string name = link.substr(0, link.find('?'));
  std::filesystem::create_directories(other.data_dir() / "outputs");
  std::filesystem::copy_file(server.data_dir() / "outputs" / fs::path(name).filename(),
                             other.data_dir() / "outputs" / fs::path(name).filename());
  expect_status(other.client()->Get(link), 403, "forbidden");
}

class ServerApiKeys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    alice_ = new ApiKey(make_key("alice"));
    bob_ = new ApiKey(make_key("bob"));
    admin_ = new ApiKey(make_key("ops", true));
    write_file(*dir_ / "keys", "# made by sonic-server apikey\n" + alice_->line + "\n" + bob_->line + "\n\n" +
                                   admin_->line + "  # the operator\n");
    server_ = new ServerProcess({"--auth", "apikey", "--api-keys-file", (*dir_ / "keys").string(), "--workers", "1"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete alice_;
    delete bob_;
    delete admin_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static ApiKey *alice_, *bob_, *admin_;
  static ServerProcess* server_;
};
TempDir* ServerApiKeys::dir_ = nullptr;
ApiKey* ServerApiKeys::alice_ = nullptr;
ApiKey* ServerApiKeys::bob_ = nullptr;
ApiKey* ServerApiKeys::admin_ = nullptr;
ServerProcess* ServerApiKeys::server_ = nullptr;

TEST_F(ServerApiKeys, NoKeyOrAWrongKeyIs401) {
  auto c = server_->client();
  expect_401(c->Get("/api/jobs"), false);
  expect_401(c->Post("/api/sonic/generate", small_job(2)), false);
  expect_401(c->Get("/api/jobs", bearer("sk_sonic_" + std::string(64, '0'))), true);
  expect_401(c->Get("/api/jobs", {{"X-API-Key", "sk_sonic_" + std::string(64, '0')}}), true);
  // The hash from the keys file is not a key; nor is the key with a character changed.
  std::string hash = alice_->line.substr(alice_->line.find("sha256:") + 7, 64);
  expect_401(c->Get("/api/jobs", bearer(hash)), true);
  expect_401(c->Get("/api/jobs", bearer("sha256:" + hash)), true);
  std::string changed = alice_->key;
  changed.back() = changed.back() == '0' ? '1' : '0';
  expect_401(c->Get("/api/jobs", bearer(changed)), true);
  expect_401(c->Get("/api/jobs", {{"Authorization", "Basic " + alice_->key}}), true);
  // A wrong X-API-Key is not rescued by a right Authorization.
  httplib::Headers both = bearer(alice_->key);
  both.emplace("X-API-Key", changed);
  expect_401(c->Get("/api/jobs", both), true);
  // Users are not admins.
  expect_status(c->Get("/metrics", bearer(alice_->key)), 403, "forbidden");
}

TEST_F(ServerApiKeys, KeyWorksAsBearerAndAsXApiKey) {
  auto c = server_->client();
  expect_status(c->Get("/api/jobs", bearer(alice_->key)), 200);
  expect_status(c->Get("/api/jobs", {{"Authorization", "bearer " + alice_->key}}), 200);
  expect_status(c->Get("/api/jobs", {{"X-API-Key", bob_->key}}), 200);
  expect_status(c->Get("/metrics", bearer(admin_->key)), 200);
  expect_status(c->Get("/metrics", {{"X-API-Key", admin_->key}}), 200);
}

TEST_F(ServerApiKeys, JobsAreIsolatedBetweenKeysAndVideoUrlIsSigned) {
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate", bearer(alice_->key), small_job(3));
  expect_status(r, 200);
  json job = body_json(r);
  ASSERT_EQ(job["success"], true) << job.dump();
  std::string id = job["job_id"];

  // Bob (either header) does not see alice's job, in no form.
  for (const auto& bob : {bearer(bob_->key), httplib::Headers{{"X-API-Key", bob_->key}}}) {
    expect_status(c->Get("/api/jobs/" + id, bob), 404, "not_found");
    expect_status(c->Get("/api/jobs/" + id + "/events", bob), 404, "not_found");
    expect_status(c->Delete("/api/jobs/" + id, bob), 404, "not_found");
    expect_status(c->Get("/output/" + id + ".mp4", bob), 404, "not_found");
    json list = body_json(c->Get("/api/jobs", bob));
    EXPECT_EQ(list["total"], 0) << list.dump();
    EXPECT_FALSE(contains(list.dump(), id)) << list.dump();
  }
  // Alice and the admin key see it.
  expect_status(c->Get("/api/jobs/" + id, {{"X-API-Key", alice_->key}}), 200);
  EXPECT_TRUE(contains(body_json(c->Get("/api/jobs", bearer(alice_->key))).dump(), id));
  expect_status(c->Get("/api/jobs/" + id, bearer(admin_->key)), 200);
  EXPECT_TRUE(contains(body_json(c->Get("/api/jobs?limit=100", bearer(admin_->key))).dump(), id));

  // video_url is signed and plays with no header at all; the bare path does not.
  std::string url = job.value("video_url", "");
  ASSERT_TRUE(contains(url, "?expires=") && contains(url, "&sig=")) << url;
  expect_status(c->Get("/output/" + id + ".mp4"), 403, "forbidden");
  auto video = c->Get(path_of(url));
  expect_status(video, 200);
  EXPECT_EQ(video->get_header_value("Content-Type"), "video/mp4");
  EXPECT_EQ(video->body, read_file(job["output_path"].get<std::string>()));
  expect_status(c->Get(path_of(url), {{"Range", "bytes=0-9"}}), 206);
}

// API keys next to JWTs.

TEST(ServerJwtWithApiKeys, BothATokenAndAKeyWork) {
  TempDir dir;
  write_file(dir / "secret", "jwt-and-keys-secret-" + std::string(40, 'j') + "\n");
  auto scripts = make_key("scripts");
  write_file(dir / "keys", scripts.line + "\n");
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (dir / "secret").string(), "--api-keys-file",
                        (dir / "keys").string(), "--cors-origin", "https://app.example"});
  auto c = server.client();
  // Negative first.
  expect_401(c->Get("/api/jobs"), false);
  // A browser page on the listed origin: the preflight needs no credentials, and the 401
  // is readable with its challenge exposed.
  expect_status(c->Options("/api/jobs", {{"Origin", "https://app.example"},
                                         {"Access-Control-Request-Method", "GET"},
                                         {"Access-Control-Request-Headers", "x-api-key"}}),
                204);
  auto refused = c->Get("/api/jobs", {{"Origin", "https://app.example"}});
  expect_401(refused, false);
  EXPECT_EQ(refused->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_TRUE(contains(refused->get_header_value("Access-Control-Expose-Headers"), "WWW-Authenticate"));
  expect_401(c->Get("/api/jobs", bearer("sk_sonic_" + std::string(64, 'f'))), true);
  TempDir other;
  write_file(other / "secret", "another-secret-entirely-" + std::string(40, 'o') + "\n");
  expect_401(c->Get("/api/jobs", bearer(token_for(other / "secret", "alice"))), true);
  // A token from `sonic-server token` with the same secret file, and the key both ways.
  std::string token = token_for(dir / "secret", "alice");
  ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  expect_status(c->Get("/api/jobs", bearer(token)), 200);
  expect_status(c->Get("/api/jobs", bearer(scripts.key)), 200);
  expect_status(c->Get("/api/jobs", {{"X-API-Key", scripts.key}}), 200);
  expect_status(c->Get("/metrics", bearer(scripts.key)), 403, "forbidden");
  expect_status(c->Get("/metrics", bearer(token_for(dir / "secret", "root", true))), 200);
}

// ---------------------------------------------------------------------------------------
// The /metrics key.

TEST(ServerMetricsKeyStartup, ShortKeyIsRefused) {
  TempDir dir;
  write_file(dir / "short", "0123456789");
  auto file = serve_refused({"--metrics-key-file", (dir / "short").string()});
  EXPECT_EQ(file.exit_code, 2) << file.output;
  EXPECT_TRUE(contains(file.output, "32")) << file.output;
  auto env = serve_refused({}, "SONIC_METRICS_KEY=0123456789");
  EXPECT_EQ(env.exit_code, 2) << env.output;
  EXPECT_EQ(serve_refused({"--metrics-key-file", (dir / "missing").string()}).exit_code, 2);
}

TEST(ServerMetricsKey, WithAuthNoneOnlyTheKeyOpensMetrics) {
  TempDir dir;
  std::string key = std::string(48, 'm');
  write_file(dir / "metrics.key", key + "\n");
  ServerProcess server({"--auth", "none", "--metrics-key-file", (dir / "metrics.key").string()});
  auto c = server.client();
  expect_401(c->Get("/metrics"), false);
  expect_status(c->Get("/metrics", bearer(std::string(48, 'x'))), 401, "unauthorized");
  expect_status(c->Get("/metrics", bearer(key + "m")), 401, "unauthorized");
  expect_status(c->Get("/metrics", bearer(key.substr(1))), 401, "unauthorized");
  expect_status(c->Get("/metrics", {{"Authorization", key}}), 401, "unauthorized");
  auto ok = c->Get("/metrics", bearer(key));
  expect_status(ok, 200);
  EXPECT_TRUE(contains(ok->body, "sonic_")) << ok->body.substr(0, 500);
  EXPECT_TRUE(contains(ok->get_header_value("Content-Type"), "text/plain"));
  // Only /metrics is closed: the API stays as open as --auth none says.
  expect_status(c->Get("/api/jobs"), 200);
  expect_status(c->Get("/healthz"), 200);
}

TEST(ServerMetricsKey, WithJwtTheKeyOrAnAdminOpensMetrics) {
  TempDir dir;
  write_file(dir / "secret", "metrics-jwt-secret-" + std::string(40, 'q') + "\n");
  std::string key = "metrics-" + std::string(40, 'k');
  write_file(dir / "metrics.key", key);
  ServerProcess server({"--auth", "jwt", "--jwt-secret-file", (dir / "secret").string(), "--metrics-key-file",
                        (dir / "metrics.key").string()});
  auto c = server.client();
  expect_401(c->Get("/metrics"), false);
  expect_status(c->Get("/metrics", bearer(token_for(dir / "secret", "alice"))), 403, "forbidden");
  expect_401(c->Get("/metrics", bearer("metrics-" + std::string(40, 'x'))), true);
  // The metrics key is no user credential.
  expect_401(c->Get("/api/jobs", bearer(key)), true);
  auto admin = c->Get("/metrics", bearer(token_for(dir / "secret", "root", true)));
  expect_status(admin, 200);
  EXPECT_TRUE(contains(admin->body, "sonic_"));
  auto with_key = c->Get("/metrics", bearer(key));
  expect_status(with_key, 200);
  EXPECT_TRUE(contains(with_key->body, "sonic_"));
}

TEST(ServerMetricsKey, WithoutAKeyAndAuthNoneMetricsStayOpen) {
  ServerProcess server;
  auto r = server.client()->Get("/metrics");
  expect_status(r, 200);
  EXPECT_TRUE(contains(r->body, "sonic_")) << r->body.substr(0, 500);
}

}  // namespace
}  // namespace sonic::test
