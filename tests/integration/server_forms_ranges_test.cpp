// Integration: the upload form, byte ranges and the page's assets over the real binary
// (issue 10 points 1 and 4, docs/api.md, docs/http-transport.md).
//
// Negative cases first: a form field sent twice (file or text) is 400 naming the field; a
// CRLF or NUL inside a part's file name is 400 invalid_param naming the field (never 413);
// an empty multipart body, or one with no parts, is missing_file for `image`; a body cut
// before its closing boundary is 400; a malformed boundary is 400. Then ranges: several
// ranges give a correct multipart/byteranges (each part labelled with the real size),
// overlapping ones are merged, none satisfiable is 416 with `bytes */size`. Then the page:
// every asset by its path, subfolders included, with its content type, from --web-dir
// without traversal.
#include <sys/stat.h>

#include "integration/raw_http.h"

namespace sonic::test {
namespace {

namespace fs = std::filesystem;

std::string post_form(const std::string& boundary, const std::string& body) {
  return "POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; "
         "boundary=" + boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string part(const std::string& disposition, const std::string& data) {
  return "--b\r\nContent-Disposition: " + disposition + "\r\n\r\n" + data + "\r\n";
}

class ServerForms : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    web_ = new TempDir;
    fs::create_directories(*web_ / "web" / "examples");
    write_file(*web_ / "web" / "index.html", "<html>page</html>");
    write_file(*web_ / "web" / "examples" / "voice_zh.ogg", "OggS-fake");
    write_file(*web_ / "web" / "font.woff2", "wOF2");
    write_file(*web_ / "secret.txt", "outside the web dir");
    fs::create_symlink(*web_ / "secret.txt", *web_ / "web" / "link.txt");
    server_ = new ServerProcess({"--web-dir", (*web_ / "web").string()});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete web_;
    server_ = nullptr;
    web_ = nullptr;
  }
  void TearDown() override {
    std::size_t left = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(server_->data_dir() / "uploads")) ++left;
    EXPECT_EQ(left, 0u) << "files left in uploads/";
  }
  static RawResponse one(const std::string& request) {
    auto ex = raw_exchange(server_->port(), request);
    EXPECT_EQ(ex.responses.size(), 1u) << ex.raw;
    return ex.responses.empty() ? RawResponse{} : ex.responses[0];
  }
  static void expect_error(const RawResponse& r, int status, const std::string& code, const std::string& field,
                           const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    json body = r.body_json();
    EXPECT_EQ(body["code"], code) << what << ": " << r.body;
    EXPECT_EQ(body.value("field", ""), field) << what << ": " << r.body;
  }
  static ServerProcess* server_;
  static TempDir* web_;
};
ServerProcess* ServerForms::server_ = nullptr;
TempDir* ServerForms::web_ = nullptr;

TEST_F(ServerForms, AFieldSentTwiceIs400NamingIt) {
  std::string image = read_file(fixture("portrait.png")), audio = read_file(fixture("speech_en_5s.wav"));
  std::string files = part("form-data; name=\"image\"; filename=\"p.png\"", image) +
                      part("form-data; name=\"audio\"; filename=\"s.wav\"", audio);
  for (const std::string field : {"config", "preset", "engine"}) {
    std::string body = files + part("form-data; name=\"" + field + "\"", field == "config" ? "{}" : "classic") +
                       part("form-data; name=\"" + field + "\"", field == "config" ? "{}" : "classic") + "--b--\r\n";
    expect_error(one(post_form("b", body)), 400, "invalid_param", field, field + " twice");
  }
  std::string twice_image = part("form-data; name=\"image\"; filename=\"p.png\"", image) + files + "--b--\r\n";
  expect_error(one(post_form("b", twice_image)), 400, "invalid_param", "image", "image twice");
}

TEST_F(ServerForms, LineBreaksOrNulInFileNamesAre400NotPayloadTooLarge) {
  std::string image = read_file(fixture("portrait.png"));
  auto with_name = [&](const std::string& filename) {
    return part("form-data; name=\"image\"; filename=\"" + filename + "\"", image) + "--b--\r\n";
  };
  expect_error(one(post_form("b", with_name("a\r\nb.png"))), 400, "invalid_param", "image", "CRLF");
  expect_error(one(post_form("b", with_name("a\nb.png"))), 400, "invalid_param", "image", "LF");
  expect_error(one(post_form("b", with_name(std::string("a\0b.png", 7)))), 400, "invalid_param", "image", "NUL");
  expect_error(one(post_form("b", part("form-data; filename=\"x.png\"", image) + "--b--\r\n")), 400, "invalid_param", "",
               "no name");
  expect_error(one(post_form("b", part("attachment; name=\"image\"", image) + "--b--\r\n")), 400, "invalid_param",
               "image", "not form-data");
}

TEST_F(ServerForms, AnEmptyFormIsMissingFileForImage) {
  expect_error(one(post_form("b", "")), 400, "missing_file", "image", "empty body");
  expect_error(one(post_form("b", "--b--\r\n")), 400, "missing_file", "image", "no parts");
  expect_error(one(post_form("b", "preamble only\r\n--b--\r\n")), 400, "missing_file", "image", "preamble, no parts");
}

TEST_F(ServerForms, ACutOffOrMalformedFormIs400) {
  std::string cut = part("form-data; name=\"image\"; filename=\"p.png\"", "abc");  // no closing boundary
  expect_error(one(post_form("b", cut)), 400, "invalid_param", "", "cut off");
  expect_error(one(post_form(std::string(71, 'x'), "")), 400, "invalid_param", "Content-Type", "71-char boundary");
  auto r = one("POST /api/sonic/generate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data"
               "\r\nContent-Length: 0\r\n\r\n");
  expect_error(r, 400, "invalid_param", "Content-Type", "no boundary");
}

TEST_F(ServerForms, RangesSingleSeveralMergedAndUnsatisfiable) {
  auto c = server_->client();
  auto r = c->Post("/api/sonic/generate", quick_job(11));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json job = body_json(r);
  std::string path = job["video_url"].get<std::string>();
  path = path.substr(path.find("/output/"));
  std::string bytes = read_file(job["output_path"].get<std::string>());
  const std::string size = std::to_string(bytes.size());
  auto get = [&](const std::string& range) {
    return one("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: " + range + "\r\n\r\n");
  };
  // Several ranges: multipart/byteranges with the true total in each part.
  auto multi = get("bytes=0-1,5-6");
  ASSERT_EQ(multi.status, 206) << multi.head;
  std::string type = multi.header("Content-Type");
  ASSERT_EQ(type.rfind("multipart/byteranges; boundary=", 0), 0u) << type;
  std::string boundary = type.substr(type.find('=') + 1);
  std::string expected = "--" + boundary + "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/" + size +
                         "\r\n\r\n" + bytes.substr(0, 2) + "\r\n--" + boundary +
                         "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 5-6/" + size + "\r\n\r\n" +
                         bytes.substr(5, 2) + "\r\n--" + boundary + "--\r\n";
  EXPECT_EQ(multi.body, expected);
  // Overlapping ranges are merged: bytes=0-,0- is the whole file once, as one range.
  auto merged = get("bytes=0-,0-");
  EXPECT_EQ(merged.status, 206);
  EXPECT_EQ(merged.header("Content-Range"), "bytes 0-" + std::to_string(bytes.size() - 1) + "/" + size);
  EXPECT_EQ(merged.body, bytes);
  // A suffix longer than the file is the file; a range past the end is 416 with */size.
  auto suffix = get("bytes=-999999999");
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, bytes);
  auto beyond = get("bytes=" + size + "-");
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.header("Content-Range"), "bytes */" + size);
  // Another unit, or garbage, is ignored: the whole file with 200.
  for (const std::string ignored : {"items=0-1", "bytes=a-b", "bytes=5-2"}) {
    auto whole = get(ignored);
    EXPECT_EQ(whole.status, 200) << ignored;
    EXPECT_EQ(whole.body.size(), bytes.size()) << ignored;
  }
}

TEST_F(ServerForms, EveryAssetIsServedByItsPathWithItsType) {
  auto ogg = one("GET /examples/voice_zh.ogg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ogg.status, 200);
  EXPECT_EQ(ogg.header("Content-Type"), "audio/ogg");
  EXPECT_EQ(ogg.body, "OggS-fake");
  auto font = one("GET /font.woff2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(font.header("Content-Type"), "font/woff2");
  auto index = one("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(index.body, "<html>page</html>");
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  for (const std::string path : {"/../secret.txt", "/examples/../../secret.txt", "/%2e%2e/secret.txt",
                                 "/examples/%2e%2e/%2e%2e/secret.txt", "/link.txt", "/examples//voice_zh.ogg",
                                 "/examples%2fvoice_zh.ogg", "/examples/voice_zh.ogg%00"}) {
    auto r = one("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("outside"), std::string::npos) << path;
  }
}

TEST(ServerWebEmbedded, TheEmbeddedPageAndItsAssetsAreServed) {
  ServerProcess server;
  auto c = server.client();
  auto index = c->Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  for (const auto& entry : fs::recursive_directory_iterator(source_dir() / "web")) {
    if (!entry.is_regular_file()) continue;
    std::string path = fs::relative(entry.path(), source_dir() / "web").string();
    path.insert(path.begin(), '/');
    auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, read_file(entry.path())) << path;
  }
  auto missing = c->Get("/examples/none.ogg");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

}  // namespace
}  // namespace sonic::test
