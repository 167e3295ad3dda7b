// RedisConnection over hiredis (see redis_connection.h).
#include "jobs/remote/redis_connection.h"

#include <hiredis.h>
#include <openssl/evp.h>
#include <sys/time.h>

#include <charconv>
#include <random>
#include <thread>

#include "util/hex.h"

namespace sonic::jobs::remote {
namespace {

constexpr std::chrono::milliseconds kMaxBackoff{5000};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// hiredis frees replies with freeReplyObject; one owner for each.
struct ReplyOwner {
  redisReply* reply = nullptr;
  ~ReplyOwner() {
    if (reply) freeReplyObject(reply);
  }
};

// Copies a reply; error replies (at any depth) are collected in `error`.
RedisReply copy_reply(const redisReply* r, std::string& error) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i], error));
      break;
    case REDIS_REPLY_ERROR:
      if (error.empty()) error.assign(r->str, r->len);
      break;
    default: break;  // nil
  }
  return out;
}

std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  return util::to_hex(digest, size);
}

}  // namespace

std::string RedisUrl::display() const {
  std::string out = "redis://";
  if (!user.empty() || !password.empty()) {
    out += user;
    if (!password.empty()) out += ":***";
    out += '@';
  }
  out += host;
  out += ':';
  out += std::to_string(port);
  if (db != 0) {
    out += '/';
    out += std::to_string(db);
  }
  return out;
}

RedisUrl parse_redis_url(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::invalid_config,
                 "The Redis URL '" + std::string(text) + "' is not valid: " + why +
                     " (expected redis://[user:password@]host:port/db).",
                 "redis");
  };
  constexpr std::string_view scheme = "redis://";
  if (text.rfind("rediss://", 0) == 0)
    throw bad("this build's Redis client (Debian's hiredis) has no TLS; use a tunnel or a private network");
  if (text.rfind(scheme, 0) != 0) throw bad("it must start with redis://");
  std::string_view rest = text.substr(scheme.size());
  RedisUrl url;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = credentials.find(':');
    if (colon == std::string_view::npos) {
      url.password = std::string(credentials);  // redis://secret@host, as redis-cli reads it
    } else {
      url.user = std::string(credentials.substr(0, colon));
      url.password = std::string(credentials.substr(colon + 1));
    }
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), url.db);
      if (ec != std::errc() || p != db.data() + db.size() || url.db < 0) throw bad("the database must be a number");
    }
  }
  std::string_view host = hostport;
  if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
    auto close = hostport.find(']');
    if (close == std::string_view::npos) throw bad("an IPv6 address needs its closing ]");
    host = hostport.substr(1, close - 1);
    hostport = hostport.substr(close + 1);
    if (!hostport.empty() && hostport.front() != ':') throw bad("unexpected text after the address");
    if (!hostport.empty()) hostport = hostport.substr(1);
    else hostport = {};
    if (!hostport.empty()) {
      auto [p, ec] = std::from_chars(hostport.data(), hostport.data() + hostport.size(), url.port);
      if (ec != std::errc() || p != hostport.data() + hostport.size()) throw bad("the port must be a number");
    }
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    std::string_view port = hostport.substr(colon + 1);
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), url.port);
    if (ec != std::errc() || p != port.data() + port.size()) throw bad("the port must be a number");
  }
  if (host.empty()) throw bad("the host is missing");
  if (url.port < 1 || url.port > 65535) throw bad("the port must be 1-65535");
  url.host = std::string(host);
  return url;
}

std::string RedisReply::text() const {
  if (type == Type::integer) return std::to_string(integer);
  return str;
}

long long RedisReply::as_integer() const {
  if (type == Type::integer) return integer;
  long long value = 0;
  auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), value);
  return ec == std::errc() && p == str.data() + str.size() ? value : 0;
}

std::optional<std::string> field_value(const RedisReply& pairs, std::string_view field) {
  for (std::size_t i = 0; i + 1 < pairs.elements.size(); i += 2)
    if (pairs.elements[i].str == field) return pairs.elements[i + 1].text();
  return std::nullopt;
}

RedisScript::RedisScript(std::string text) : source(std::move(text)), sha1(sha1_hex(source)) {}

RedisConnection::RedisConnection(RedisUrl url, std::string name, std::chrono::milliseconds timeout)
    : url_(std::move(url)), name_(std::move(name)), timeout_(timeout) {}

RedisConnection::~RedisConnection() {
  std::lock_guard lock(mutex_);
  drop_locked();
}

void RedisConnection::drop_locked() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

void RedisConnection::connect_locked() {
  if (context_) return;
  redisContext* c = redisConnectWithTimeout(url_.host.c_str(), url_.port, to_timeval(timeout_));
  if (!c) throw RedisUnavailable("out of memory connecting to " + url_.display());
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    throw RedisUnavailable(url_.display() + ": " + why);
  }
  context_ = c;
  redisSetTimeout(context_, to_timeval(timeout_));
  redisEnableKeepAlive(context_);
  try {
    if (!url_.password.empty()) {
      if (url_.user.empty()) run_locked({"AUTH", url_.password});
      else run_locked({"AUTH", url_.user, url_.password});
    }
    if (url_.db != 0) run_locked({"SELECT", std::to_string(url_.db)});
    if (!name_.empty()) run_locked({"CLIENT", "SETNAME", name_});
  } catch (const RedisReplyError& e) {
    drop_locked();
    // A wrong password or an unknown database will not fix itself: say so plainly, but as
    // "unavailable" so the caller keeps retrying (an operator may be fixing the ACL now).
    throw RedisUnavailable(url_.display() + " refused the connection: " + e.text());
  }
  ++connections_;
}

RedisReply RedisConnection::run_locked(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  ReplyOwner owner{static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()))};
  if (!owner.reply) {
    std::string why = context_->errstr[0] ? context_->errstr : "connection lost";
    drop_locked();
    throw RedisUnavailable(url_.display() + ": " + why);
  }
  std::string error;
  RedisReply reply = copy_reply(owner.reply, error);
  if (!error.empty()) throw RedisReplyError(error);
  return reply;
}

RedisReply RedisConnection::command(const std::vector<std::string>& args) {
  std::lock_guard lock(mutex_);
  connect_locked();
  RedisReply reply = run_locked(args);
  backoff_ = std::chrono::milliseconds(100);
  return reply;
}

RedisReply RedisConnection::blocking_command(const std::vector<std::string>& args, std::chrono::milliseconds block) {
  std::lock_guard lock(mutex_);
  connect_locked();
  redisSetTimeout(context_, to_timeval(timeout_ + block));
  RedisReply reply = run_locked(args);
  if (context_) redisSetTimeout(context_, to_timeval(timeout_));
  backoff_ = std::chrono::milliseconds(100);
  return reply;
}

std::vector<RedisReply> RedisConnection::pipeline(const std::vector<std::vector<std::string>>& commands) {
  std::lock_guard lock(mutex_);
  connect_locked();
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
      drop_locked();
      throw RedisUnavailable(url_.display() + ": cannot queue a command");
    }
  }
  std::vector<RedisReply> replies;
  std::string error;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
      std::string why = context_->errstr[0] ? context_->errstr : "connection lost";
      drop_locked();
      throw RedisUnavailable(url_.display() + ": " + why);
    }
    ReplyOwner owner{static_cast<redisReply*>(raw)};
    replies.push_back(copy_reply(owner.reply, error));
  }
  backoff_ = std::chrono::milliseconds(100);
  if (!error.empty()) throw RedisReplyError(error);
  return replies;
}

RedisReply RedisConnection::eval(const RedisScript& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args) {
  std::vector<std::string> command = {"EVALSHA", script.sha1, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  try {
    return this->command(command);
  } catch (const RedisReplyError& e) {
    if (!e.starts_with("NOSCRIPT")) throw;
  }
  command[0] = "EVAL";
  command[1] = script.source;
  return this->command(command);
}

bool RedisConnection::connected() const {
  std::lock_guard lock(mutex_);
  return context_ != nullptr;
}

std::uint64_t RedisConnection::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

void RedisConnection::wait_backoff(const std::stop_token& stop) {
  std::chrono::milliseconds wait;
  {
    std::lock_guard lock(mutex_);
    thread_local std::mt19937 rng{std::random_device{}()};
    // ±20 % so that many workers that lost Redis together do not all knock at once.
    std::uniform_int_distribution<long> jitter(-backoff_.count() / 5, backoff_.count() / 5);
    wait = backoff_ + std::chrono::milliseconds(jitter(rng));
    backoff_ = std::min(kMaxBackoff, backoff_ * 2);
  }
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, wait, [] { return false; });
}

}  // namespace sonic::jobs::remote
