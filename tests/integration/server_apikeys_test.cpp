// Integration: static API keys (--auth apikey, `sonic-server apikey`), API keys next to JWTs,
// and the /metrics key (--metrics-key-file) over real sockets against the real binary
// (issue 5, docs/auth.md). Negative cases first: start-up refusals, missing or wrong keys;
// then what works, with one real generate job.
#include "integration/server_access_support.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

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
