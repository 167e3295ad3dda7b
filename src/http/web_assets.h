// The web page (web/, every file, subfolders included), compiled into the binary at build
// time by cmake/embed_web.cmake so the single binary serves it with no files beside it.
#pragma once

#include <string_view>

namespace sonic::http {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", "/examples/voice_zh.ogg", …
  std::string_view body;
};

// The asset for a request path ("/" means "/index.html"); nullptr when there is none.
const WebAsset* find_web_asset(std::string_view path);

// The Content-Type for a file of the page by its extension (routes_web.cpp):
// html/js/css/json/svg/png/jpg/webp/ico/wav/mp3/ogg/m4a/woff2, else application/octet-stream.
std::string_view web_content_type(std::string_view path);

}  // namespace sonic::http
