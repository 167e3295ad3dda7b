// The web page: GET / and every asset by its path, subfolders included
// (/examples/voice_zh.ogg). Embedded in the binary (web_assets.h), or served from
// --web-dir while editing the page: then only regular files inside that folder, never
// through a symlink, never above it (the router already refuses `.`, `..`, empty segments,
// NUL and backslashes in the path).
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "http/api_context.h"
#include "http/web_assets.h"

namespace sonic::http {
namespace fs = std::filesystem;

namespace {

// A file of --web-dir for `relative` (already free of . and ..), or empty when none.
fs::path web_dir_file(const fs::path& root, const std::string& relative) {
  fs::path p = root;
  const fs::path parts(relative);
  for (const auto& part : parts) {
    p /= part;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return {};
  }
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return p;
}

void serve_asset(ApiContext& api, Call& call, const std::string& relative) {
  if (!api.config.web_dir.empty()) {
    fs::path p = web_dir_file(api.config.web_dir, relative);
    if (p.empty()) throw Error(ErrorCode::not_found, "No such page.");
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    call.res.set_content(ss.str(), std::string(web_content_type(relative)));
    return;
  }
  const WebAsset* asset = find_web_asset("/" + relative);
  if (!asset) throw Error(ErrorCode::not_found, "No such page.");
  call.res.set_content(std::string(asset->body), std::string(web_content_type(asset->path)));
}

}  // namespace

std::string_view web_content_type(std::string_view path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string_view::npos ? std::string() : std::string(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},         {"svg", "image/svg+xml"},
      {"png", "image/png"},                 {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},               {"webp", "image/webp"},
      {"ico", "image/x-icon"},              {"wav", "audio/wav"},
      {"mp3", "audio/mpeg"},                {"ogg", "audio/ogg"},
      {"m4a", "audio/mp4"},                 {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},     {"md", "text/plain; charset=utf-8"},
      {"opus", "audio/ogg"},
  };
  for (const auto& [e, type] : kTypes)
    if (ext == e) return type;
  return "application/octet-stream";
}

void add_web_routes(Router& router, ApiContext& api) {
  router.add({"GET", "/", Access::public_route, Lane::quick, false,
              [&api](Call& call) { serve_asset(api, call, "index.html"); }, nullptr});
  // Only paths that name an asset belong to this route, so other paths stay 404/405.
  router.add({"GET", "/{asset*}", Access::public_route, Lane::quick, false,
              [&api](Call& call) { serve_asset(api, call, call.param("asset")); },
              [&api](const std::map<std::string, std::string>& params) {
                const std::string& asset = params.at("asset");
                if (!api.config.web_dir.empty()) return !web_dir_file(api.config.web_dir, asset).empty();
                return find_web_asset("/" + asset) != nullptr;
              }});
}

}  // namespace sonic::http
