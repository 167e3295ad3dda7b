// The route table (see router.h).
#include "http/router.h"

#include <set>

#include "http/wire/query.h"

namespace sonic::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return parts;
  path.remove_prefix(1);
  while (true) {
    std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    path.remove_prefix(slash + 1);
  }
}

bool is_parameter(const std::string& segment) { return segment.size() > 2 && segment.front() == '{' && segment.back() == '}'; }

}  // namespace

void Router::add(Route route) {
  Compiled c;
  std::string_view pattern = route.pattern;
  for (auto part : split_path(pattern)) c.segments.emplace_back(part);
  c.route = std::move(route);
  routes_.push_back(std::move(c));
}

bool Router::match_path(const Compiled& c, const std::vector<std::string_view>& parts,
                        std::map<std::string, std::string>& params) {
  params.clear();
  for (std::size_t i = 0; i < c.segments.size(); ++i) {
    const std::string& seg = c.segments[i];
    if (is_parameter(seg) && seg[seg.size() - 2] == '*') {  // the rest of the path
      if (i >= parts.size()) return false;
      std::string rest;
      for (std::size_t j = i; j < parts.size(); ++j) {
        auto decoded = wire::percent_decode(parts[j]);
        if (!decoded || decoded->empty() || *decoded == "." || *decoded == ".." ||
            decoded->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
          return false;
        if (j > i) rest += '/';
        rest += *decoded;
      }
      params[seg.substr(1, seg.size() - 3)] = rest;
      return true;
    }
    if (i >= parts.size()) return false;
    if (is_parameter(seg)) {
      auto decoded = wire::percent_decode(parts[i]);
      if (!decoded || decoded->empty()) return false;
      params[seg.substr(1, seg.size() - 2)] = std::move(*decoded);
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return parts.size() == c.segments.size();
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  auto parts = split_path(path);
  std::set<std::string> allowed;
  std::map<std::string, std::string> params;
  for (const auto& c : routes_) {
    if (!match_path(c, parts, params)) continue;
    if (c.route.exists && !c.route.exists(params)) continue;
    bool same = c.route.method == method || (method == "HEAD" && c.route.method == "GET");
    if (same) {
      m.route = &c.route;
      m.params = std::move(params);
      return m;
    }
    allowed.insert(c.route.method);
    if (c.route.method == "GET") allowed.insert("HEAD");
  }
  if (!allowed.empty()) {
    allowed.insert("OPTIONS");
    for (const auto& a : allowed) m.allow += (m.allow.empty() ? "" : ", ") + a;
  }
  return m;
}

}  // namespace sonic::http
