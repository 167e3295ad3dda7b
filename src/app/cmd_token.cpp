// `sonic-server token`: mints an HS256 token with the server's secret, for tests, scripts
// and small deployments without an identity provider (docs/auth.md). The token is printed
// on stdout and nothing else, so `TOKEN=$(sonic-server token --sub alice)` works.
//
// `sonic-server apikey`: makes a random static API key. Prints the key (line 1; shown once,
// never stored) and the line to append to the --api-keys-file (line 2: subject and the
// key's SHA-256 only).
#include <cstdlib>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "http/auth.h"
#include "util/error.h"

namespace sonic::app {
namespace {

struct TokenOptions {
  std::string subject;
  std::string ttl = "1h";
  bool admin = false;
  std::string secret_file;
  std::string issuer;
  std::string audience;
};

int run_token(const TokenOptions& o) {
  try {
    std::string secret;
    if (!o.secret_file.empty()) {
      secret = http::read_secret_file(o.secret_file, "secret-file");
    } else if (const char* env = std::getenv("SONIC_JWT_SECRET")) {
      secret = env;
    } else {
      throw Error(ErrorCode::invalid_config,
                  "Give --secret-file (or SONIC_JWT_SECRET_FILE / SONIC_JWT_SECRET).",
                  "secret-file");
    }
    auto ttl = http::parse_duration_s(o.ttl);
    if (!ttl)
      throw Error(ErrorCode::invalid_config, "--ttl must look like 90, 90s, 30m, 1h or 7d.", "ttl");
    std::cout << http::mint_hs256_token(secret, o.subject, *ttl, o.admin, o.issuer, o.audience)
              << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "error (" << e.code_name() << "): " << e.message() << "\n";
    return 2;
  }
}

int run_apikey(const std::string& subject, bool admin) {
  try {
    http::NewApiKey made = http::make_api_key(subject, admin);
    std::cout << made.key << "\n" << made.line << "\n";
    std::cerr << "Line 1 is the key: give it to the script, it is not stored anywhere.\n"
                 "Line 2 goes into the server's --api-keys-file.\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "error (" << e.code_name() << "): " << e.message() << "\n";
    return 2;
  }
}

}  // namespace

void add_apikey_command(CLI::App& app) {
  auto subject = std::make_shared<std::string>();
  auto admin = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("apikey", "Make a static API key and its hashed line for --api-keys-file");
  cmd->add_option("--sub", *subject, "Subject: the user who will own the jobs")->required();
  cmd->add_flag("--admin", *admin, "The key sees every job and /metrics");
  cmd->callback([subject, admin] { throw CLI::RuntimeError(run_apikey(*subject, *admin)); });
}

void add_token_command(CLI::App& app) {
  auto o = std::make_shared<TokenOptions>();
  CLI::App* cmd =
      app.add_subcommand("token", "Mint an HS256 bearer token with the server's secret");
  cmd->add_option("--sub", o->subject, "Subject: the user who will own the jobs")->required();
  cmd->add_option("--ttl", o->ttl, "Lifetime: 90, 90s, 30m, 1h, 7d")->capture_default_str();
  cmd->add_flag("--admin", o->admin, "Add admin: true (sees every job and /metrics)");
  cmd->add_option("--secret-file", o->secret_file, "The server's HS256 secret file")
      ->envname("SONIC_JWT_SECRET_FILE");
  cmd->add_option("--issuer", o->issuer, "iss claim (match the server's --jwt-issuer)");
  cmd->add_option("--audience", o->audience, "aud claim (match the server's --jwt-audience)");
  cmd->callback([o] { throw CLI::RuntimeError(run_token(*o)); });
}

}  // namespace sonic::app
