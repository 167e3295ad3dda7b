// libFuzzer target: the chunked decoder (src/http/wire/chunked.h). The first byte picks a
// split point; decoding in two pieces must give the same payload, verdict and leftover as
// decoding at once, and the payload is never longer than the input.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/wire/chunked.h"

using sonic::http::wire::ChunkedDecoder;

namespace {
struct Outcome {
  std::string payload;
  int status = 0;  // 0 need more, 1 done, 2 error
  std::size_t consumed = 0;
};

Outcome decode(std::string_view input, std::size_t cut) {
  ChunkedDecoder d;
  Outcome o;
  std::string pending;
  for (std::string_view piece : {input.substr(0, cut), input.substr(cut)}) {
    pending.append(piece);
    std::size_t consumed = 0;
    while (true) {
      std::string_view data;
      auto s = d.next(std::string_view(pending).substr(consumed), consumed, data);
      if (s == ChunkedDecoder::Status::data) {
        o.payload.append(data);
        continue;
      }
      if (s == ChunkedDecoder::Status::error) o.status = 2;
      if (s == ChunkedDecoder::Status::done) o.status = 1;
      break;
    }
    o.consumed += consumed;
    pending.erase(0, consumed);
    if (o.status) return o;
  }
  return o;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = decode(input, input.size());
  Outcome split = decode(input, data[0] % (input.size() + 1));
  if (whole.status != split.status || whole.payload != split.payload) std::abort();
  if (whole.status == 1 && whole.consumed != split.consumed) std::abort();
  if (whole.payload.size() > input.size()) std::abort();
  return 0;
}
