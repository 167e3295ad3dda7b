// Request and Response helpers (see message.h).
#include "http/transport/message.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace sonic::http {

std::size_t StringBody::read(char* out, std::size_t size) {
  std::size_t n = std::min(size, text_.size() - pos_);
  std::memcpy(out, text_.data() + pos_, n);
  pos_ += n;
  return n;
}

bool StringBody::discard(std::uint64_t max_bytes) {
  if (text_.size() - pos_ > max_bytes) return false;
  pos_ = text_.size();
  return true;
}

const wire::QueryParams& Request::query() const {
  if (!query_) {
    auto parsed = wire::parse_query(head.query);
    if (!parsed) throw Error(ErrorCode::bad_request, "The query string has a malformed %-escape.");
    query_ = std::move(*parsed);
  }
  return *query_;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const auto& [key, value] : query())
    if (key == name) return value;
  return std::nullopt;
}

std::string Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

void Response::set_header(std::string_view name, std::string value) {
  remove_header(name);
  headers.push_back({std::string(name), std::move(value)});
}

void Response::add_header(std::string name, std::string value) { headers.push_back({std::move(name), std::move(value)}); }

std::string Response::header(std::string_view name) const {
  for (const auto& h : headers)
    if (wire::iequals(h.name, name)) return h.value;
  return {};
}

bool Response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const HeaderField& h) { return wire::iequals(h.name, name); });
}

void Response::remove_header(std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const HeaderField& h) { return wire::iequals(h.name, name); }),
                headers.end());
}

void Response::set_content(std::string text, std::string content_type) {
  body.clear();
  body.emplace_back(std::move(text));
  set_header("Content-Type", std::move(content_type));
}

std::uint64_t Response::body_length() const {
  std::uint64_t n = 0;
  for (const auto& piece : body)
    n += std::holds_alternative<std::string>(piece) ? std::get<std::string>(piece).size()
                                                    : std::get<FileSlice>(piece).length;
  return n;
}

}  // namespace sonic::http
