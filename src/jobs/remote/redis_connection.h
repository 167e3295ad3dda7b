// jobs/remote/ — scale-out on Redis Streams (issue 12, docs/scaling.md): the server side
// that feeds per-engine streams and applies the workers' events (RedisDispatcher), the
// `worker` side that takes jobs, holds leases and reports (RemoteWorker), the Lua scripts
// that make every lease decision atomic, the signed per-attempt file URLs, and this thin
// client. Calls jobs/, engine/ and util/; never http/ (files travel over FileTransfer,
// which http/ implements).
//
// RedisConnection: one hiredis connection, RAII, reconnecting with back-off. hiredis types
// never leave this file: replies are copied into RedisReply, a plain value tree, so the
// callers read Redis answers like JSON. A transport failure (refused, reset, timeout)
// throws RedisUnavailable and drops the socket; the next command connects again, and
// wait_backoff() is the caller's pause between tries (100 ms doubling to 5 s, with
// jitter, reset by a success). An error reply (NOGROUP, BUSYGROUP, a script error) throws
// RedisReplyError with Redis's own message and leaves the connection usable.
//
// Debian's hiredis 0.14 has no TLS: the URL scheme is redis:// only (docs/scaling.md says
// how the traffic is protected instead).
//
// Threads: every method locks one mutex, so a connection may be shared for short commands;
// blocking reads (XREADGROUP BLOCK) get a connection of their own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

struct redisContext;

namespace sonic::jobs::remote {

// redis://[user:password@]host[:port][/db]; `redis://:password@host` for a password alone.
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;

  // The URL without the password, for logs and /api/workers.
  std::string display() const;
};
// Error(invalid_config, field "redis") naming what is wrong.
RedisUrl parse_redis_url(std::string_view text);

// Redis cannot be reached (or the connection broke mid-command). 503 if it reaches HTTP.
class RedisUnavailable : public Error {
 public:
  explicit RedisUnavailable(const std::string& message)
      : Error(ErrorCode::server_busy, "The job queue (Redis) is unreachable: " + message) {}
};

// Redis answered with an error (its own text, e.g. "NOGROUP No such key ...").
class RedisReplyError : public Error {
 public:
  explicit RedisReplyError(const std::string& message) : Error(ErrorCode::internal, "Redis: " + message), text_(message) {}
  const std::string& text() const { return text_; }
  bool starts_with(std::string_view prefix) const { return text_.rfind(prefix, 0) == 0; }

 private:
  std::string text_;
};

struct RedisReply {
  enum class Type { nil, string, integer, array, status };
  Type type = Type::nil;
  std::string str;        // string and status replies
  long long integer = 0;  // integer replies
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::nil; }
  bool is_array() const { return type == Type::array; }
  // The text of a string/status reply, the decimal of an integer; "" for nil.
  std::string text() const;
  long long as_integer() const;  // integer replies and decimal strings; 0 otherwise
  std::size_t size() const { return elements.size(); }
  const RedisReply& operator[](std::size_t i) const { return elements.at(i); }
};

// A Lua script and its SHA-1, run with EVALSHA (EVAL once when Redis does not know it yet).
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1;
};

class RedisConnection {
 public:
  // `name` is set with CLIENT SETNAME (visible in CLIENT LIST); `timeout` bounds connecting
  // and each reply (a blocking command adds its own BLOCK time to it).
  RedisConnection(RedisUrl url, std::string name, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command, binary-safe arguments. Connects first when needed.
  RedisReply command(const std::vector<std::string>& args);
  // A blocking command (XREADGROUP ... BLOCK `block`): the reply may take that long more.
  RedisReply blocking_command(const std::vector<std::string>& args, std::chrono::milliseconds block);
  // Several commands in one round trip; an error reply throws after all replies are read.
  std::vector<RedisReply> pipeline(const std::vector<std::vector<std::string>>& commands);
  // EVALSHA script keys args (EVAL when the script is not loaded yet).
  RedisReply eval(const RedisScript& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args);

  // True after a successful command, false after a transport failure.
  bool connected() const;
  // Successful (re)connections so far; a caller notices a reconnect by a change.
  std::uint64_t connections() const;
  // Sleeps the current back-off (or until `stop` is requested), then doubles it.
  void wait_backoff(const std::stop_token& stop);
  const RedisUrl& url() const { return url_; }

 private:
  void connect_locked();
  void drop_locked();
  RedisReply run_locked(const std::vector<std::string>& args);

  RedisUrl url_;
  std::string name_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  redisContext* context_ = nullptr;  // owned; null when not connected
  std::uint64_t connections_ = 0;
  std::chrono::milliseconds backoff_{100};
};

// Pairs of a flat field/value list (stream entries, HGETALL) → the value of `field`.
std::optional<std::string> field_value(const RedisReply& pairs, std::string_view field);

}  // namespace sonic::jobs::remote
