// Unit: the HTTP wire parsers without sockets (src/http/wire/, docs/http-transport.md):
// the request head scanner and parser, the chunked decoder, the multipart reader, the
// Range parser and percent-decoding. Negative cases first in each group. Incremental
// parsers are fed whole and split at every byte, and must give the same result.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "http/wire/chunked.h"
#include "http/wire/multipart.h"
#include "http/wire/query.h"
#include "http/wire/range.h"
#include "http/wire/request_head.h"

namespace sonic::test {
namespace {

using namespace sonic::http::wire;

// Scans and parses `text` as one head; the refusal status (0 when accepted).
int head_status(const std::string& text, RequestHead* out = nullptr, HeadLimits limits = {}) {
  HeadScanner scanner(limits);
  auto result = scanner.scan(text);
  if (result == HeadScanner::Result::refused) return scanner.refusal().status;
  if (result == HeadScanner::Result::need_more) return -1;
  Refusal refusal;
  auto head = parse_request_head(std::string_view(text).substr(scanner.skipped_bytes(),
                                                               scanner.head_bytes() - scanner.skipped_bytes()),
                                 limits, refusal);
  if (!head) return refusal.status;
  if (out) *out = *head;
  return 0;
}

TEST(HttpWireHead, RefusesAmbiguousFraming) {
  const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n";
  EXPECT_EQ(head_status(get + "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Content-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Content-Length: 1 2\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Content-Length: 1234567890123456789\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Transfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(head_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(head_status(get + "Authorization: a\r\nauthorization: b\r\n\r\n"), 400);
}

TEST(HttpWireHead, RefusesMalformedLines) {
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 400);   // obs-fold
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);             // space before colon
  EXPECT_EQ(head_status("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);                // bare LF
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n"), 400);           // bare CR
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\n\r\n"), 400);                         // no Host
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("G@T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\n: empty name\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(head_status("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n"), 417);
}

TEST(HttpWireHead, LimitsAreEnforcedWhileScanning) {
  HeadLimits limits;
  limits.max_headers = 3;
  limits.max_head_bytes = 200;
  limits.max_target_bytes = 50;
  std::string four = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
  HeadScanner scanner(limits);
  EXPECT_EQ(scanner.scan(four), HeadScanner::Result::refused) << "refused before the head ends";
  EXPECT_EQ(scanner.refusal().status, 431);
  scanner.reset();
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nX: " + std::string(300, 'a')), HeadScanner::Result::refused);
  EXPECT_EQ(scanner.refusal().status, 431);
  scanner.reset();
  EXPECT_EQ(scanner.scan("GET /" + std::string(200, 'a')), HeadScanner::Result::refused);
  EXPECT_EQ(scanner.refusal().status, 414);
  EXPECT_EQ(head_status("GET /" + std::string(60, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", nullptr, limits), 414);
  EXPECT_EQ(head_status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", nullptr, limits), 0);
}

TEST(HttpWireHead, ParsesAValidHeadFedByteByByte) {
  std::string text = "\r\nPOST /api/jobs?limit=5&x=%20 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 12\r\n"
                     "Connection: keep-alive, Close\r\nExpect: 100-Continue\r\nX-Value:  spaced\tvalue  \r\n\r\nBODY";
  HeadScanner scanner;
  std::size_t fed = 0;
  HeadScanner::Result result = HeadScanner::Result::need_more;
  while (result == HeadScanner::Result::need_more && fed < text.size())
    result = scanner.scan(std::string_view(text).substr(0, ++fed));
  ASSERT_EQ(result, HeadScanner::Result::complete);
  EXPECT_EQ(scanner.skipped_bytes(), 2u);
  EXPECT_EQ(text.substr(scanner.head_bytes()), "BODY");
  RequestHead head;
  ASSERT_EQ(head_status(text, &head), 0);
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.path, "/api/jobs");
  EXPECT_EQ(head.query, "limit=5&x=%20");
  EXPECT_EQ(head.minor_version, 1);
  EXPECT_EQ(head.content_length, 12u);
  EXPECT_FALSE(head.chunked);
  EXPECT_FALSE(head.keep_alive) << "close wins";
  EXPECT_TRUE(head.expect_continue);
  EXPECT_EQ(head.field("x-value"), "spaced\tvalue");
  EXPECT_EQ(head.field("HOST"), "example.com:8080");

  ASSERT_EQ(head_status("GET / HTTP/1.0\r\n\r\n", &head), 0);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(head_status("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &head), 0);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(head_status("OPTIONS * HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n", &head), 0);
  EXPECT_TRUE(head.chunked);
  EXPECT_EQ(head.path, "*");
}

// Decodes `input` split into pieces of `step` bytes; "ERR" on an error.
std::string dechunk(const std::string& input, std::size_t step, std::string* rest = nullptr) {
  ChunkedDecoder d;
  std::string out, pending;
  for (std::size_t i = 0; i < input.size(); i += step) {
    pending += input.substr(i, step);
    std::size_t consumed = 0;
    while (true) {
      std::string_view data;
      auto s = d.next(std::string_view(pending).substr(consumed), consumed, data);
      if (s == ChunkedDecoder::Status::data) {
        out.append(data);
        continue;
      }
      if (s == ChunkedDecoder::Status::error) return "ERR";
      break;
    }
    pending.erase(0, consumed);
    if (d.done()) {
      if (rest) *rest = pending + input.substr(i + step < input.size() ? i + step : input.size());
      return out;
    }
  }
  return d.done() ? out : "INCOMPLETE";
}

TEST(HttpWireChunked, RefusesMalformedChunks) {
  for (const std::string bad : {"zz\r\n", "-1\r\n", " 5\r\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n",
                                "5\r\nhello\r\n0\r\n\r", "1234567890abcdef0\r\n", "5\nhello\r\n",
                                "0\r\nBad Trailer\r\n\r\n", "0\r\n: x\r\n\r\n", "5;\x01\r\nhello\r\n"}) {
    std::string result = dechunk(bad + "0\r\n\r\n", bad.size() + 5);
    EXPECT_TRUE(result == "ERR" || result == "INCOMPLETE") << bad << " -> " << result;
    EXPECT_NE(result, "hello") << bad;
  }
  EXPECT_EQ(dechunk("1;" + std::string(2000, 'e') + "\r\na\r\n0\r\n\r\n", 4096), "ERR") << "extension too long";
  std::string trailers;
  for (int i = 0; i < 1000; ++i) trailers += "T: " + std::string(10, 't') + "\r\n";
  EXPECT_EQ(dechunk("0\r\n" + trailers + "\r\n", 4096), "ERR") << "trailers too large";
}

TEST(HttpWireChunked, DecodesAtEverySplitAndLeavesTheNextRequest) {
  std::string input = "5;name=val\r\nhello\r\na\r\n0123456789\r\n0\r\nX-T: y\r\n\r\nGET / HTTP/1.1\r\n";
  for (std::size_t step = 1; step <= input.size(); ++step) {
    std::string rest;
    EXPECT_EQ(dechunk(input, step, &rest), "hello0123456789") << "step " << step;
    EXPECT_EQ(rest, "GET / HTTP/1.1\r\n") << "step " << step;
  }
  EXPECT_EQ(dechunk("fffffffffffffff\r\nab", 100), "INCOMPLETE") << "15 hex digits are fine";
}

struct FormResult {
  std::map<std::string, std::string> parts;
  std::optional<FormError> error;
  bool ok = false;
};

FormResult read_form(const std::string& body, std::size_t step, const std::string& boundary = "XyZ") {
  FormResult out;
  std::string current;
  MultipartReader reader(boundary, {[&](const FormPart& p) {
                                      current = p.name;
                                      out.parts[current];
                                      return true;
                                    },
                                    [&](std::string_view d) {
                                      out.parts[current].append(d);
                                      return true;
                                    }});
  bool going = true;
  for (std::size_t i = 0; i < body.size() && going; i += step) going = reader.feed(std::string_view(body).substr(i, step));
  out.ok = going && reader.finish();
  out.error = reader.error();
  return out;
}

std::string part(const std::string& disposition, const std::string& data) {
  return "--XyZ\r\nContent-Disposition: " + disposition + "\r\n\r\n" + data + "\r\n";
}

TEST(HttpWireMultipart, RefusesWhatIsAmbiguousOrBroken) {
  auto twice = read_form(part("form-data; name=\"config\"", "{}") + part("form-data; name=\"config\"", "{}") + "--XyZ--", 7);
  EXPECT_FALSE(twice.ok);
  ASSERT_TRUE(twice.error);
  EXPECT_EQ(twice.error->field, "config");
  auto crlf = read_form(part("form-data; name=\"image\"; filename=\"a\r\nb.png\"", "x") + "--XyZ--", 3);
  ASSERT_TRUE(crlf.error);
  EXPECT_EQ(crlf.error->field, "image");
  auto nul = read_form(part(std::string("form-data; name=\"image\"; filename=\"a\0b\"", 39), "x") + "--XyZ--", 3);
  ASSERT_TRUE(nul.error);
  EXPECT_EQ(nul.error->field, "image");
  auto cut = read_form(part("form-data; name=\"image\"", "abc"), 5);
  EXPECT_FALSE(cut.ok);
  auto noname = read_form(part("form-data; filename=\"a\"", "abc") + "--XyZ--", 5);
  EXPECT_FALSE(noname.ok);
  auto dup_param = read_form(part("form-data; name=\"a\"; name=\"b\"", "abc") + "--XyZ--", 5);
  EXPECT_FALSE(dup_param.ok);
  auto huge_head = read_form("--XyZ\r\nX: " + std::string(9000, 'h') + "\r\n\r\nx\r\n--XyZ--", 1000);
  EXPECT_FALSE(huge_head.ok);
  std::string many;
  for (int i = 0; i < 40; ++i) many += part("form-data; name=\"f" + std::to_string(i) + "\"", "v");
  EXPECT_FALSE(read_form(many + "--XyZ--", 64).ok);
}

TEST(HttpWireMultipart, ReadsPartsAtEverySplit) {
  std::string data = "line1\r\n--XyXnot-the-boundary\r\n--Xy";
  std::string body = "preamble\r\n" + part("form-data; name=\"image\"; filename=\"C:\\\\dir\\\\p.png\"", data) +
                     part("form-data; name=config", "{\"a\":1}") + "--XyZ--\r\nepilogue";
  for (std::size_t step = 1; step <= body.size(); ++step) {
    auto r = read_form(body, step);
    ASSERT_TRUE(r.ok) << "step " << step << ": " << (r.error ? r.error->message : "");
    EXPECT_EQ(r.parts["image"], data) << "step " << step;
    EXPECT_EQ(r.parts["config"], "{\"a\":1}") << "step " << step;
  }
  EXPECT_TRUE(read_form("", 1).ok) << "an empty body is a form without fields";
  EXPECT_TRUE(read_form("--XyZ--\r\n", 1).ok);
}

TEST(HttpWireMultipart, BoundaryFromContentType) {
  std::string why;
  EXPECT_FALSE(form_data_boundary("text/plain", why));
  EXPECT_TRUE(why.empty());
  EXPECT_FALSE(form_data_boundary("multipart/form-data", why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=" + std::string(71, 'a'), why));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=\"a \"", why));
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=a; boundary=b", why));
  EXPECT_EQ(form_data_boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"--abc 123\"", why), "--abc 123");
  EXPECT_EQ(form_data_boundary("multipart/form-data;boundary=----WebKitFormBoundaryx7", why), "----WebKitFormBoundaryx7");
}

TEST(HttpWireRange, PolicyForSingleSeveralAndBadRanges) {
  using Kind = RangeRequest::Kind;
  EXPECT_EQ(parse_range("items=0-1", 100).kind, Kind::whole);
  EXPECT_EQ(parse_range("bytes=5-2", 100).kind, Kind::whole);
  EXPECT_EQ(parse_range("bytes=-", 100).kind, Kind::whole);
  EXPECT_EQ(parse_range("bytes=1-2-3", 100).kind, Kind::whole);
  EXPECT_EQ(parse_range("bytes=18446744073709551616-", 100).kind, Kind::whole);
  std::string many = "bytes=";
  for (int i = 0; i < 17; ++i) many += std::to_string(i * 2) + "-" + std::to_string(i * 2) + ",";
  EXPECT_EQ(parse_range(many, 100).kind, Kind::whole);
  EXPECT_EQ(parse_range("bytes=100-", 100).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 100).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-0", 0).kind, Kind::unsatisfiable);

  auto one = parse_range("bytes=10-", 100);
  ASSERT_EQ(one.kind, Kind::partial);
  ASSERT_EQ(one.ranges.size(), 1u);
  EXPECT_EQ(one.ranges[0].first, 10u);
  EXPECT_EQ(one.ranges[0].last, 99u);
  auto clipped = parse_range("bytes=90-1000", 100);
  EXPECT_EQ(clipped.ranges[0].last, 99u);
  auto suffix = parse_range("bytes=-500", 100);
  EXPECT_EQ(suffix.ranges[0].first, 0u);
  auto several = parse_range("bytes=50-59, 0-1, 200-300", 100);
  ASSERT_EQ(several.ranges.size(), 2u) << "the unsatisfiable one is dropped, order kept";
  EXPECT_EQ(several.ranges[0].first, 50u);
  EXPECT_EQ(several.ranges[1].first, 0u);
  auto merged = parse_range("bytes=0-,0-,5-9", 100);
  ASSERT_EQ(merged.ranges.size(), 1u);
  EXPECT_EQ(merged.ranges[0].first, 0u);
  EXPECT_EQ(merged.ranges[0].last, 99u);
  auto adjacent = parse_range("bytes=0-4,5-9", 100);
  ASSERT_EQ(adjacent.ranges.size(), 1u);
  EXPECT_EQ(adjacent.ranges[0].last, 9u);
}

TEST(HttpWireQuery, PercentDecodingIsStrict) {
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(parse_query("a=%g0"));
  EXPECT_EQ(percent_decode("%2e%2E/%41+b"), "../A+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  auto q = parse_query("limit=5&&offset=&flag&x=%26%3D");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ((*q)[0], std::make_pair(std::string("limit"), std::string("5")));
  EXPECT_EQ((*q)[1].second, "");
  EXPECT_EQ((*q)[2].first, "flag");
  EXPECT_EQ((*q)[3].second, "&=");
}

}  // namespace
}  // namespace sonic::test
