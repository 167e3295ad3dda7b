// Helpers shared by the access tests over real sockets (server_tls_test, server_cors_test,
// server_apikeys_test; issue 5, docs/auth.md): start-up refusals, tokens and API keys made by
// the binary's own commands, self-signed certificates (the `openssl` CLI), HTTPS clients,
// and the cheapest real generate job (1 s at 256 px with the portrait's face box given, so no
// face detection runs).
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <array>
#include <sstream>

#include "integration/server_process.h"

namespace sonic::test {


// Where the detector finds the face on portrait.png (as engine_classic_quality_test).
inline constexpr std::array<int, 4> kFaceBox{177, 77, 90, 90};

// --- helpers ---------------------------------------------------------------------------

inline httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

inline std::string path_of(const std::string& url) {
  auto pos = url.find('/', url.find("//") + 2);
  return pos == std::string::npos ? "/" : url.substr(pos);
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline void expect_status(const httplib::Result& r, int status, const std::string& code = {}) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  if (!code.empty()) {
    EXPECT_EQ(body_json(r)["code"], code) << r->body;
  }
}

// 401 with a Bearer challenge; `invalid` = a credential was sent and refused.
inline void expect_401(const httplib::Result& r, bool invalid) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(body_json(r)["code"], "unauthorized") << r->body;
  std::string challenge = r->get_header_value("WWW-Authenticate");
  EXPECT_EQ(challenge.rfind("Bearer", 0), 0u) << challenge;
  EXPECT_EQ(contains(challenge, "invalid_token"), invalid) << challenge;
}

// `sonic-server serve` with `args` that must be refused: returns its exit code and output
// (stdout + stderr). A server that wrongly starts is ended by `timeout` (exit 124).
inline CommandResult serve_refused(const std::vector<std::string>& args, const std::string& env = {}) {
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
inline std::string command_stdout(const std::string& arguments) {
  TempDir dir;
  auto out = dir / "stdout";
  CommandResult r = run("{ " + shell_quote(sonic_binary().string()) + " " + arguments + " >" +
                        shell_quote(out.string()) + "; }");
  EXPECT_EQ(r.exit_code, 0) << arguments << "\n" << r.output;
  return read_file(out);
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// An HS256 token made by `sonic-server token` with the server's secret file.
inline std::string token_for(const std::filesystem::path& secret_file, const std::string& sub, bool admin = false) {
  auto lines = lines_of(command_stdout("token --sub " + shell_quote(sub) + " --ttl 1h --secret-file " +
                                       shell_quote(secret_file.string()) + (admin ? " --admin" : "")));
  EXPECT_EQ(lines.size(), 1u);
  return lines.empty() ? std::string() : lines[0];
}

struct ApiKey {
  std::string key;   // stdout line 1
  std::string line;  // stdout line 2: the keys-file line
};

inline ApiKey make_key(const std::string& sub, bool admin = false) {
  auto lines = lines_of(command_stdout("apikey --sub " + shell_quote(sub) + (admin ? " --admin" : "")));
  EXPECT_EQ(lines.size(), 2u);
  if (lines.size() < 2) return {};
  return {lines[0], lines[1]};
}

inline std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {digits[digest[i] >> 4], digits[digest[i] & 15]};
  return out;
}

// Portrait + 5 s speech cut to 1 s at 256 px with the face box given: the cheapest real job.
inline httplib::MultipartFormDataItems small_job(int seed) {
  json config = {{"min_resolution", 256}, {"duration", 1.0}, {"seed", seed}, {"face_box", kFaceBox}};
  return {file_part("image", fixture("portrait.png"), "image/png"),
          file_part("audio", fixture("speech_en_5s.wav"), "audio/wav"), text_part("config", config.dump())};
}

// A self-signed EC P-256 certificate for 127.0.0.1 / localhost.
inline void make_cert(const std::filesystem::path& key, const std::filesystem::path& cert) {
  run_ok("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
         "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
         shell_quote(key.string()) + " -out " + shell_quote(cert.string()) + " 2>/dev/null");
}

// An HTTPS client for 127.0.0.1:port that verifies the server against `ca` (empty: the
// system's trust store only).
inline std::unique_ptr<httplib::SSLClient> tls_client(int port, const std::filesystem::path& ca) {
  auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  if (!ca.empty()) c->set_ca_cert_path(ca.string());
  c->enable_server_certificate_verification(true);
  c->set_connection_timeout(10);
  c->set_read_timeout(600);
  c->set_write_timeout(60);
  return c;
}


}  // namespace sonic::test
