// The streaming multipart/form-data reader (see multipart.h).
#include "http/wire/multipart.h"

#include <utility>
#include <vector>

#include "http/wire/request_head.h"

namespace sonic::http::wire {

namespace {

using Parameters = std::vector<std::pair<std::string, std::string>>;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `rest` = `*( OWS ";" OWS name "=" ( token / quoted-string ) )` (RFC 9110 §5.6.6).
// Parameter names are lower-cased; a repeated name is a problem.
bool parse_parameters(std::string_view rest, Parameters& out, std::string& problem) {
  std::size_t i = 0;
  auto skip_ows = [&] {
    while (i < rest.size() && is_ows(rest[i])) ++i;
  };
  while (true) {
    skip_ows();
    if (i == rest.size()) return true;
    if (rest[i] != ';') return (problem = "Parameters must be separated by ';'.", false);
    ++i;
    skip_ows();
    if (i == rest.size()) return true;  // a trailing ';' is harmless
    std::size_t start = i;
    while (i < rest.size() && is_tchar(rest[i])) ++i;
    if (i == start) return (problem = "A parameter has no name.", false);
    std::string name = lower(rest.substr(start, i - start));
    skip_ows();
    if (i == rest.size() || rest[i] != '=') return (problem = "The parameter " + name + " has no value.", false);
    ++i;
    skip_ows();
    std::string value;
    if (i < rest.size() && rest[i] == '"') {
      ++i;
      bool closed = false;
      while (i < rest.size()) {
        char c = rest[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == rest.size()) break;
          c = rest[i++];
        }
        value += c;
      }
      if (!closed)
        return (problem = "The " + name + " parameter's quoted value is not closed (a line break inside it?).", false);
    } else {
      std::size_t vstart = i;
      while (i < rest.size() && is_tchar(rest[i])) ++i;
      if (i == vstart) return (problem = "The parameter " + name + " has no value.", false);
      value = std::string(rest.substr(vstart, i - vstart));
    }
    for (const auto& p : out)
      if (p.first == name) return (problem = "The parameter " + name + " is sent twice.", false);
    out.emplace_back(std::move(name), std::move(value));
  }
}

bool has_line_break_or_nul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

bool is_bchar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return u < 0x80;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

MultipartReader::MultipartReader(std::string boundary, Handler handler)
    : delimiter_("\r\n--" + boundary), handler_(std::move(handler)), buf_("\r\n") {}

bool MultipartReader::fail(std::string message, std::string field) {
  error_ = FormError{std::move(message), std::move(field)};
  state_ = State::stopped;
  buf_.clear();
  return false;
}

bool MultipartReader::feed(std::string_view bytes) {
  if (state_ == State::stopped) return false;
  if (!bytes.empty()) any_bytes_ = true;
  if (state_ == State::epilogue) return true;
  buf_.append(bytes);
  return step();
}

bool MultipartReader::finish() {
  if (state_ == State::stopped) return false;
  if (state_ == State::epilogue || !any_bytes_) return true;
  return fail("The multipart body ends before its closing boundary (cut off?).");
}

bool MultipartReader::step() {
  while (true) {
    switch (state_) {
      case State::preamble:
      case State::data: {
        std::size_t pos = buf_.find(delimiter_);
        std::size_t emit = pos != std::string::npos ? pos : buf_.size() - std::min(buf_.size(), delimiter_.size() - 1);
        if (state_ == State::data && emit > 0 && !handler_.data(std::string_view(buf_).substr(0, emit))) {
          state_ = State::stopped;
          return false;
        }
        if (pos == std::string::npos) {
          buf_.erase(0, emit);
          return true;
        }
        buf_.erase(0, pos + delimiter_.size());
        state_ = State::after_delimiter;
        break;
      }
      case State::after_delimiter: {
        if (buf_.size() < 2) return true;
        if (buf_.compare(0, 2, "--") == 0) {
          state_ = State::epilogue;
          buf_.clear();
          return true;
        }
        std::size_t i = 0;
        while (i < buf_.size() && is_ows(buf_[i])) ++i;
        if (i > 64) return fail("A multipart boundary line has too much padding.");
        if (buf_.size() < i + 2) return true;
        if (buf_.compare(i, 2, "\r\n") != 0) return fail("A multipart boundary is not followed by CRLF.");
        buf_.erase(0, i + 2);
        state_ = State::part_head;
        break;
      }
      case State::part_head: {
        std::size_t end;
        if (buf_.compare(0, 2, "\r\n") == 0) {
          end = 0;
        } else {
          std::size_t pos = buf_.find("\r\n\r\n");
          if (pos == std::string::npos) {
            if (buf_.size() > kMaxPartHeadBytes) return fail("The headers of a multipart part are too large.");
            return true;
          }
          end = pos + 2;
        }
        if (end > kMaxPartHeadBytes) return fail("The headers of a multipart part are too large.");
        std::string head = buf_.substr(0, end);
        buf_.erase(0, end + 2);
        if (!parse_part_head(head)) return false;
        state_ = State::data;
        break;
      }
      case State::epilogue: buf_.clear(); return true;
      case State::stopped: return false;
    }
  }
}

bool MultipartReader::parse_part_head(std::string_view head) {
  FormPart part;
  std::string problem;
  bool disposition = false;
  std::size_t fields = 0;
  auto note = [&](std::string p) {
    if (problem.empty()) problem = std::move(p);
  };
  while (!head.empty()) {
    std::size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (++fields > kMaxPartFields) {
      note("A multipart part has too many header fields.");
      break;
    }
    if (line.empty() || is_ows(line.front())) {
      note("A multipart part header is folded or empty.");
      continue;
    }
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    bool name_ok = colon != std::string_view::npos && colon > 0;
    for (char c : name) name_ok = name_ok && is_tchar(c);
    if (!name_ok) {
      note("A multipart part header line is not a header field (a line break inside a file name?).");
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
    bool clean = true;
    for (char ch : value) {
      auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\t') || c == 0x7f) clean = false;
    }
    if (!clean) note("A multipart part header has a control character (in a file name?).");
    if (iequals(name, "Content-Type")) {
      part.content_type = std::string(value);
    } else if (iequals(name, "Content-Disposition")) {
      if (disposition) {
        note("A multipart part has two Content-Disposition headers.");
        continue;
      }
      disposition = true;
      std::size_t semi = value.find(';');
      std::string_view type = value.substr(0, semi);
      while (!type.empty() && is_ows(type.back())) type.remove_suffix(1);
      if (!iequals(type, "form-data")) note("A multipart part is not Content-Disposition: form-data.");
      Parameters params;
      std::string param_problem;
      bool parsed = parse_parameters(semi == std::string_view::npos ? std::string_view() : value.substr(semi),
                                     params, param_problem);
      for (const auto& [key, v] : params) {
        if (key == "name") part.name = v;
        else if (key == "filename") part.filename = v, part.has_filename = true;
      }
      if (!parsed) note(param_problem);
    }
  }
  if (has_line_break_or_nul(part.name)) return fail("A form field name has a line break or NUL.", "");
  if (problem.empty() && !disposition) problem = "A multipart part has no Content-Disposition: form-data header.";
  if (problem.empty() && part.name.empty()) problem = "A multipart part has no name.";
  if (problem.empty() && has_line_break_or_nul(part.filename))
    problem = "The file name of '" + part.name + "' has a line break or NUL.";
  if (!problem.empty()) return fail(problem, part.name);
  if (names_.count(part.name)) return fail("The form field '" + part.name + "' is sent more than once.", part.name);
  if (names_.size() >= kMaxParts) return fail("The form has more than " + std::to_string(kMaxParts) + " parts.");
  names_.insert(part.name);
  if (!handler_.begin(part)) {
    state_ = State::stopped;
    return false;
  }
  return true;
}

std::optional<std::string> form_data_boundary(std::string_view content_type, std::string& why) {
  why.clear();
  std::size_t semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && is_ows(type.front())) type.remove_prefix(1);
  while (!type.empty() && is_ows(type.back())) type.remove_suffix(1);
  if (!iequals(type, "multipart/form-data")) return std::nullopt;
  Parameters params;
  if (semi == std::string_view::npos || !parse_parameters(content_type.substr(semi), params, why)) {
    if (why.empty()) why = "multipart/form-data needs a boundary parameter.";
    else why = "The Content-Type is malformed: " + why;
    return std::nullopt;
  }
  for (const auto& [key, value] : params) {
    if (key != "boundary") continue;
    bool ok = !value.empty() && value.size() <= 70 && value.back() != ' ';
    for (char c : value) ok = ok && is_bchar(c);
    if (!ok) {
      why = "The multipart boundary must be 1 to 70 letters, digits or '()+_,-./:=? (RFC 2046).";
      return std::nullopt;
    }
    return value;
  }
  why = "multipart/form-data needs a boundary parameter.";
  return std::nullopt;
}

}  // namespace sonic::http::wire
