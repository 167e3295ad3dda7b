// The web page (web/), compiled into the binary at build time by cmake/embed_web.cmake so
// the single binary serves it with no files beside it.
#pragma once

#include <string_view>

namespace sonic::http {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", …
  std::string_view content_type;
  std::string_view body;
};

// The asset for a request path ("/" means "/index.html"); nullptr when there is none.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace sonic::http
