// libFuzzer target: the outbound client's response-head parser (src/http/wire/response_head.h)
// on bytes a hostile server could send. Properties besides memory safety: a parsed head
// has a 3-digit status, never both framings (chunked clears Content-Length), at most
// kMaxResponseFields fields, and no CR, LF or NUL in any name or value.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "http/wire/response_head.h"

using namespace sonic::http::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t end = find_head_end(bytes);
  if (end == 0) return 0;
  std::string why;
  auto head = parse_response_head(bytes.substr(0, end), why);
  if (!head) {
    if (why.empty()) sonic::fuzz::broken_promise();
    return 0;
  }
  if (head->status < 100 || head->status > 999) sonic::fuzz::broken_promise();
  if (head->chunked && head->content_length) sonic::fuzz::broken_promise();
  if (head->fields.size() > kMaxResponseFields) sonic::fuzz::broken_promise();
  for (const auto& f : head->fields)
    for (const std::string* s : {&f.name, &f.value})
      if (s->find_first_of(std::string("\r\n\0", 3)) != std::string::npos) sonic::fuzz::broken_promise();
  return 0;
}
