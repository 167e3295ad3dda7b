// GET /output/{name}: the videos, with ETag / If-None-Match, Range (one range → 206 with
// Content-Range; several → multipart/byteranges; none satisfiable → 416; policy in
// wire/range.h) and HEAD; streamed from disk with pread by the transport. Only names the
// server made (<uuid>.mp4), only regular files inside outputs/, never through a symlink.
//
// With auth on: a valid signature (video_url), or the owner's / an admin's token. Without
// either the answer is 403 whether or not the file exists (no existence oracle); another
// user's token gets the 404 of an unknown file.
#include <sys/stat.h>

#include "http/api_context.h"
#include "http/wire/range.h"

namespace sonic::http {

namespace {

bool is_output_name(const std::string& name) {
  return name.size() == 40 && name.compare(36, 4, ".mp4") == 0 && jobs::is_uuid(std::string_view(name).substr(0, 36));
}

void authorize_output(ApiContext& api, const Call& call, const std::string& name) {
  if (!api.auth_on()) return;
  const Request& req = call.req;
  std::string path = "/output/" + name;
  auto sig = req.query_param("sig");
  if (sig && api.config.auth->verify_signed_path(path, req.query_param("expires").value_or(""), *sig, unix_now())) return;
  AuthFailure failure;
  auto identity = api.config.auth->authenticate(req.header("Authorization"), unix_now(), failure, req.header("X-API-Key"));
  if (!identity)
    throw Error(ErrorCode::forbidden, sig ? "The download link is invalid or has expired."
                                          : "Downloads need a signed link (video_url) or a token.");
  if (!identity->admin && !(is_output_name(name) && api.service.output_owned_by(name, identity->subject)))
    throw Error(ErrorCode::not_found, "No such output file.");
}

void output(ApiContext& api, Call& call) {
  std::string name = call.param("name");
  authorize_output(api, call, name);
  auto not_found = [] { return Error(ErrorCode::not_found, "No such output file."); };
  if (!is_output_name(name)) throw not_found();
  auto path = api.service.outputs_dir() / name;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw not_found();
  auto file = std::make_shared<const ReadOnlyFile>(path.c_str());
  if (file->fd() < 0) throw not_found();
  auto size = static_cast<std::uint64_t>(st.st_size);
  std::string etag = "\"";
  etag += std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  etag += '"';
  Response& res = call.res;
  res.set_header("ETag", etag);
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Cache-Control", "private, max-age=3600");
  std::string inm = call.req.header("If-None-Match");
  if (!inm.empty() && (inm == etag || inm == "*" || inm.find(etag) != std::string::npos)) {
    res.status = 304;
    return;
  }
  const std::string total = std::to_string(size);
  auto range = wire::parse_range(call.req.header("Range"), size);
  if (!call.req.has_header("Range")) range.kind = wire::RangeRequest::Kind::whole;
  switch (range.kind) {
    case wire::RangeRequest::Kind::whole:
      res.status = 200;
      res.set_header("Content-Type", "video/mp4");
      res.body = {FileSlice{file, 0, size}};
      return;
    case wire::RangeRequest::Kind::unsatisfiable:
      res.set_header("Content-Range", "bytes */" + total);
      send_json(res, 416, error_body(call, ErrorCode::invalid_param, "The requested range is outside the file.", "Range"));
      return;
    case wire::RangeRequest::Kind::partial: break;
  }
  res.status = 206;
  if (range.ranges.size() == 1) {
    const auto& r = range.ranges.front();
    res.set_header("Content-Type", "video/mp4");
    res.set_header("Content-Range", "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + total);
    res.body = {FileSlice{file, r.first, r.length()}};
    return;
  }
  const std::string boundary = "sonic-" + jobs::new_uuid();
  res.set_header("Content-Type", "multipart/byteranges; boundary=" + boundary);
  res.body.clear();
  for (std::size_t i = 0; i < range.ranges.size(); ++i) {
    const auto& r = range.ranges[i];
    res.body.emplace_back(std::string(i == 0 ? "" : "\r\n") + "--" + boundary + "\r\nContent-Type: video/mp4\r\n" +
                          "Content-Range: bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
                          total + "\r\n\r\n");
    res.body.emplace_back(FileSlice{file, r.first, r.length()});
  }
  res.body.emplace_back("\r\n--" + boundary + "--\r\n");
}

}  // namespace

void add_output_routes(Router& router, ApiContext& api) {
  router.add({"GET", "/output/{name}", Access::public_route, Lane::long_running, false,
              [&api](Call& call) { output(api, call); }, nullptr});
}

}  // namespace sonic::http
