// The strict request-head parser (see request_head.h for the rules and why).
#include "http/wire/request_head.h"

#include <cstring>

namespace sonic::http::wire {

namespace {

constexpr std::size_t kMaxSkippedBytes = 64;  // leading empty lines tolerated

Refusal refusal_of(int status, ErrorCode code, std::string message) { return Refusal{status, code, std::move(message)}; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Field value characters: VCHAR, SP, HTAB and obs-text; no other control character.
bool valid_value(std::string_view v) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// uri-host [":" port]: reg-name / IPv4 / IP-literal characters only.
bool valid_host(std::string_view v) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) continue;
    if (std::strchr("-._~!$&'()*+,;=:[]%", ch) && ch != '\0') continue;
    return false;
  }
  return true;
}

// Fields that are not lists and decide framing, routing or identity: a second copy is an
// ambiguity some hop may resolve differently, so it is refused.
bool is_singleton(std::string_view name) {
  for (std::string_view s : {"host", "content-length", "transfer-encoding", "content-type", "authorization",
                             "x-api-key", "expect", "range"})
    if (iequals(name, s)) return true;
  return false;
}

}  // namespace

bool is_tchar(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (std::isalnum(c)) return c < 0x80;
  return ch != '\0' && std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view RequestHead::field(std::string_view name) const {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return f.value;
  return {};
}

bool RequestHead::has_field(std::string_view name) const {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return true;
  return false;
}

HeadScanner::Result HeadScanner::refuse(int status, ErrorCode code, std::string message) {
  refusal_ = refusal_of(status, code, std::move(message));
  return Result::refused;
}

HeadScanner::Result HeadScanner::scan(std::string_view buffer) {
  while (pos_ < buffer.size()) {
    const void* found = std::memchr(buffer.data() + pos_, '\n', buffer.size() - pos_);
    if (!found) {
      pos_ = buffer.size();
      break;
    }
    std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - buffer.data());
    pos_ = lf + 1;
    if (lf == line_start_ || buffer[lf - 1] != '\r')
      return refuse(400, ErrorCode::bad_request, "Lines of a request head must end with CRLF.");
    std::size_t length = lf - 1 - line_start_;
    if (length == 0) {
      if (lines_ == 0) {  // an empty line before the request line
        skipped_ = pos_;
        line_start_ = pos_;
        if (skipped_ > kMaxSkippedBytes) return refuse(400, ErrorCode::bad_request, "The request line is missing.");
        continue;
      }
      end_ = pos_;
      if (end_ - skipped_ > limits_.max_head_bytes)
        return refuse(431, ErrorCode::headers_too_large,
                      "The request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes.");
      return Result::complete;
    }
    if (lines_ == 0 && length > limits_.max_target_bytes + 64)
      return refuse(414, ErrorCode::bad_request,
                    "The request target is longer than " + std::to_string(limits_.max_target_bytes) + " bytes.");
    ++lines_;
    if (lines_ > limits_.max_headers + 1)
      return refuse(431, ErrorCode::headers_too_large,
                    "The request has more than " + std::to_string(limits_.max_headers) + " header fields.");
    line_start_ = pos_;
  }
  if (lines_ == 0 && buffer.size() - line_start_ > limits_.max_target_bytes + 64)
    return refuse(414, ErrorCode::bad_request,
                  "The request target is longer than " + std::to_string(limits_.max_target_bytes) + " bytes.");
  if (buffer.size() - skipped_ > limits_.max_head_bytes)
    return refuse(431, ErrorCode::headers_too_large,
                  "The request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes.");
  return Result::need_more;
}

std::optional<RequestHead> parse_request_head(std::string_view head, const HeadLimits& limits, Refusal& refusal) {
  auto refuse = [&](int status, ErrorCode code, std::string message) {
    refusal = refusal_of(status, code, std::move(message));
    return std::nullopt;
  };
  auto bad = [&](std::string message) { return refuse(400, ErrorCode::bad_request, std::move(message)); };

  RequestHead out;
  std::size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos || eol == 0) return bad("The request line is missing.");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad("The request line must be METHOD SP target SP HTTP-version, single spaces.");
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (method.empty()) return bad("The request method is missing.");
  for (char c : method)
    if (!is_tchar(c)) return bad("The request method is not a token.");
  if (target.empty()) return bad("The request target is missing.");
  if (target.size() > limits.max_target_bytes)
    return refuse(414, ErrorCode::bad_request,
                  "The request target is longer than " + std::to_string(limits.max_target_bytes) + " bytes.");
  for (char ch : target) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return bad("The request target has a character that must be percent-encoded.");
  }
  if (target == "*") {
    if (method != "OPTIONS") return bad("The target * is only for OPTIONS.");
  } else if (target.front() != '/') {
    return bad("The request target must be a path starting with / (origin-form).");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7])))
    return bad("The HTTP version is malformed.");
  if (version == "HTTP/1.1") out.minor_version = 1;
  else if (version == "HTTP/1.0") out.minor_version = 0;
  else return refuse(505, ErrorCode::bad_request, "Only HTTP/1.0 and HTTP/1.1 are served.");
  out.method = std::string(method);
  out.target = std::string(target);
  std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));

  std::size_t pos = eol + 2;
  while (true) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) return bad("The request head does not end with an empty line.");
    std::string_view field_line = head.substr(pos, end - pos);
    pos = end + 2;
    if (field_line.empty()) break;
    if (is_ows(field_line.front())) return bad("Folded header lines (obs-fold) are not accepted.");
    std::size_t colon = field_line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("A header line has no field name.");
    std::string_view name = field_line.substr(0, colon);
    for (char c : name)
      if (!is_tchar(c)) return bad("A header field name has a character that is not allowed (whitespace before ':'?).");
    std::string_view value = trim_ows(field_line.substr(colon + 1));
    if (!valid_value(value)) return bad("The header field " + std::string(name) + " has a control character.");
    if (out.fields.size() >= limits.max_headers)
      return refuse(431, ErrorCode::headers_too_large,
                    "The request has more than " + std::to_string(limits.max_headers) + " header fields.");
    out.fields.push_back({std::string(name), std::string(value)});
  }
  if (pos != head.size()) return bad("Bytes follow the end of the request head.");

  // Framing and the fields that must not be ambiguous.
  for (std::size_t i = 0; i < out.fields.size(); ++i) {
    if (!is_singleton(out.fields[i].name)) continue;
    for (std::size_t j = i + 1; j < out.fields.size(); ++j)
      if (iequals(out.fields[i].name, out.fields[j].name))
        return bad("The header field " + out.fields[j].name + " is sent more than once.");
  }
  if (out.has_field("Content-Length")) {
    std::string_view v = out.field("Content-Length");
    if (v.empty() || v.size() > 18) return bad("Content-Length must be 1 to 18 digits.");
    std::uint64_t n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return bad("Content-Length must be digits only.");
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out.content_length = n;
  }
  if (out.has_field("Transfer-Encoding")) {
    if (!iequals(out.field("Transfer-Encoding"), "chunked"))
      return bad("Transfer-Encoding must be exactly 'chunked'.");
    if (out.content_length) return bad("Content-Length and Transfer-Encoding must not be sent together.");
    if (out.minor_version == 0) return bad("Transfer-Encoding is not allowed on HTTP/1.0.");
    out.chunked = true;
  }
  if (out.minor_version == 1 && !out.has_field("Host")) return bad("HTTP/1.1 requests need a Host header.");
  if (out.has_field("Host") && !valid_host(out.field("Host"))) return bad("The Host header is not a host[:port].");
  bool close = false, keep_alive = false;
  for (const auto& f : out.fields) {
    if (!iequals(f.name, "Connection")) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      std::string_view item = trim_ows(list.substr(0, comma));
      close = close || iequals(item, "close");
      keep_alive = keep_alive || iequals(item, "keep-alive");
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  out.keep_alive = !close && (out.minor_version == 1 || keep_alive);
  if (out.minor_version == 1 && out.has_field("Expect")) {
    if (!iequals(out.field("Expect"), "100-continue"))
      return refuse(417, ErrorCode::bad_request, "The only expectation served is 100-continue.");
    out.expect_continue = true;
  }
  return out;
}

}  // namespace sonic::http::wire
