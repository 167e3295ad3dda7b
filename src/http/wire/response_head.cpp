// The response-head parser of the outbound client (see response_head.h).
#include "http/wire/response_head.h"

#include <cctype>

namespace sonic::http::wire {

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> parse_length(std::string_view v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view ResponseHead::field(std::string_view name) const {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return f.value;
  return {};
}

std::size_t find_head_end(std::string_view buffer) {
  auto end = buffer.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

std::optional<ResponseHead> parse_response_head(std::string_view head, std::string& why) {
  auto fail = [&](std::string message) -> std::optional<ResponseHead> {
    why = std::move(message);
    return std::nullopt;
  };
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return fail("the response head is incomplete");
  head.remove_suffix(2);  // keep one CRLF ending the last line
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || (status_line[7] != '0' && status_line[7] != '1') ||
      status_line[8] != ' ' || !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) || (status_line.size() > 12 && status_line[12] != ' '))
    return fail("the answer is not an HTTP/1.x status line");
  ResponseHead r;
  r.minor_version = status_line[7] - '0';
  r.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (r.status < 100) return fail("the status code is out of range");
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
      return fail("a response header line has a bare CR or LF");
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return fail("a response header line has no name");
    for (char c : line.substr(0, colon))
      if (!is_tchar(c)) return fail("a response header name is not a token");
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return fail("a response header value has a control character");
    }
    if (r.fields.size() >= kMaxResponseFields) return fail("the response has too many header fields");
    r.fields.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  bool keep_alive = r.minor_version == 1;
  for (const auto& f : r.fields) {
    if (iequals(f.name, "Content-Length")) {
      auto n = parse_length(f.value);
      if (!n || (r.content_length && *r.content_length != *n)) return fail("the response's Content-Length is not valid");
      r.content_length = n;
    } else if (iequals(f.name, "Transfer-Encoding")) {
      std::string_view v = trim_ows(f.value);
      auto last_comma = v.rfind(',');
      std::string_view last = trim_ows(last_comma == std::string_view::npos ? v : v.substr(last_comma + 1));
      if (!iequals(last, "chunked")) return fail("the response's Transfer-Encoding is not chunked");
      if (v != last) return fail("the response has a transfer coding other than chunked");
      r.chunked = true;
    } else if (iequals(f.name, "Connection")) {
      if (has_token(f.value, "close")) keep_alive = false;
      if (has_token(f.value, "keep-alive") && r.minor_version == 0) keep_alive = true;
    }
  }
  if (r.chunked) r.content_length.reset();
  r.close = !keep_alive;
  return r;
}

}  // namespace sonic::http::wire
