// Router: which route serves a method and path. Patterns are paths whose segments are
// literals, `{name}` (one segment) or a final `{name*}` (the rest of the path, for the
// page's assets); parameters are percent-decoded (a malformed escape matches nothing).
// A path that matches no pattern is 404; a path that matches only with other methods is
// 405 with `Allow`. HEAD is served by the GET route (the transport drops the body).
// A route may add a predicate so a catch-all claims only paths that exist.
//
// Threads: built once before the transport runs, then read-only (the reactor asks it for
// lanes while workers route).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/transport/transport.h"

namespace sonic::http {

struct Call;

// Who may call a route (docs/auth.md). metrics: an admin, or the --metrics-key-file key.
enum class Access { public_route, user, admin, metrics };

struct Route {
  std::string method;   // GET, POST, DELETE
  std::string pattern;  // "/api/jobs/{id}"; also the metrics label
  Access access = Access::public_route;
  Lane lane = Lane::quick;
  bool takes_body = false;  // false: a body over 64 KiB or chunked is refused unread
  std::function<void(Call&)> handler;
  std::function<bool(const std::map<std::string, std::string>& params)> exists;  // optional
};

class Router {
 public:
  void add(Route route);

  struct Match {
    const Route* route = nullptr;  // null: not found, or another method (allow set)
    std::map<std::string, std::string> params;
    std::string allow;             // "GET, HEAD, OPTIONS" when only other methods match
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Compiled {
    Route route;
    std::vector<std::string> segments;  // literal, "{name}" or "{name*}"
  };
  static bool match_path(const Compiled& c, const std::vector<std::string_view>& parts,
                         std::map<std::string, std::string>& params);
  std::vector<Compiled> routes_;
};

}  // namespace sonic::http
