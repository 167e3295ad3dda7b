// libFuzzer target: the multipart/form-data reader and the boundary parser
// (src/http/wire/multipart.h). The first byte picks a feeding step; reading in steps must
// give the same parts and verdict as reading at once; field names are never repeated and
// never hold CR, LF or NUL.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "http/wire/multipart.h"

using namespace sonic::http::wire;

namespace {
struct Outcome {
  std::map<std::string, std::string> parts;
  bool ok = false;
};

Outcome read(std::string_view body, std::size_t step) {
  Outcome o;
  std::string current;
  MultipartReader reader("fuzz-b", {[&](const FormPart& p) {
                                      if (o.parts.count(p.name) || p.name.empty()) std::abort();
                                      if (p.name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
                                      current = p.name;
                                      o.parts[current];
                                      return true;
                                    },
                                    [&](std::string_view d) {
                                      o.parts[current].append(d);
                                      return true;
                                    }});
  bool going = true;
  for (std::size_t i = 0; i < body.size() && going; i += step) going = reader.feed(body.substr(i, step));
  o.ok = going && reader.finish();
  return o;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = read(body, body.size() + 1);
  Outcome stepped = read(body, 1 + data[0] % 17);
  if (whole.ok != stepped.ok || (whole.ok && whole.parts != stepped.parts)) std::abort();
  std::string why;
  auto boundary = form_data_boundary(body, why);
  if (boundary && (boundary->empty() || boundary->size() > 70)) std::abort();
  return 0;
}
