#include "http/cors.h"

#include <algorithm>
#include <cctype>

#include "http/header_text.h"
#include "util/error.h"

namespace sonic::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// scheme://host[:port] with nothing after it: what browsers send as Origin.
bool is_origin(std::string_view o) {
  std::string_view rest;
  if (o.substr(0, 7) == "http://") rest = o.substr(7);
  else if (o.substr(0, 8) == "https://") rest = o.substr(8);
  else return false;
  if (rest.empty() || rest.size() > 253) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

// Comma-separated tokens of `list`, each compared case-insensitively against `allowed`.
bool all_in(std::string_view list, std::string_view allowed) {
  std::string allowed_lower = ", " + lower(allowed) + ",";
  for (std::string_view item : comma_items(list)) {
    if (item.empty()) continue;
    if (allowed_lower.find(", " + lower(item) + ",") == std::string::npos) return false;
  }
  return true;
}

}  // namespace

CorsPolicy::CorsPolicy(std::string_view list, bool allow_credentials) : credentials_(allow_credentials) {
  for (std::string_view item : comma_items(list)) {
    if (item.empty()) continue;
    if (item == "*") {
      any_ = true;
      continue;
    }
    while (!item.empty() && item.back() == '/') item.remove_suffix(1);
    if (!is_origin(item))
      throw Error(ErrorCode::invalid_config,
                  "--cors-origin: '" + std::string(item) +
                      "' is not an origin; write scheme://host[:port], e.g. https://app.example.com.",
                  "cors-origin");
    origins_.push_back(lower(item));
  }
  if (any_ && credentials_)
    throw Error(ErrorCode::invalid_config,
                "--cors-allow-credentials cannot be combined with --cors-origin '*': list the origins instead.",
                "cors-allow-credentials");
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty() || origin == "null") return false;
  if (any_) return true;
  std::string o = lower(origin);
  return std::find(origins_.begin(), origins_.end(), o) != origins_.end();
}

std::string CorsPolicy::allow_origin_value(std::string_view origin) const {
  return any_ ? "*" : std::string(origin);
}

bool CorsPolicy::method_allowed(std::string_view method) { return all_in(method, kMethods); }

bool CorsPolicy::headers_allowed(std::string_view request_headers) {
  return all_in(request_headers, kRequestHeaders);
}

}  // namespace sonic::http
