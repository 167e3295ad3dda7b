// The bad-input corpus (issue 2, part 4): every broken, hostile or mislabelled file gets
// the documented error code from probe and decode alike, with no crash and no leak (this
// suite also runs under ASan/UBSan). Most files are written byte by byte here, so each
// one is exactly the fault it is named after.
#include <gtest/gtest.h>

#include <cstdint>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>

#include "media/audio.h"
#include "media/image.h"
#include "media/probe.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::media {
namespace {
namespace fs = std::filesystem;
using test::run_ok;
using test::shell_quote;

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

// The code a call throws, or "none".
template <class F>
std::string code_of(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    return std::string(e.code_name());
  }
  return "none";
}

std::string le16(std::uint32_t v) {
  return {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF)};
}
std::string le32(std::uint32_t v) {
  return le16(v & 0xFFFF) + le16(v >> 16);
}
std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
          static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

// A PCM WAV header stating `data_bytes` of sample data (whatever actually follows).
std::string wav_header(std::uint32_t channels, std::uint32_t rate, std::uint32_t bits,
                       std::uint32_t data_bytes) {
  std::uint32_t block = channels * bits / 8;
  return "RIFF" + le32(36 + data_bytes) + "WAVE" + "fmt " + le32(16) + le16(1) + le16(channels) +
         le32(rate) + le32(rate * block) + le16(block) + le16(bits) + "data" + le32(data_bytes);
}

std::string random_bytes(std::size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::string out(count, '\0');
  for (char& c : out) c = static_cast<char>(generator() & 0xFF);
  return out;
}

class MediaBadInputTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    test::write_file(p, bytes);
    return p;
  }
  // Both entry points of one kind must agree on the code.
  void expect_image_error(const fs::path& p, const std::string& code) {
    SCOPED_TRACE(p.filename().string());
    EXPECT_EQ(code_of([&] { probe_image(p); }), code);
    EXPECT_EQ(code_of([&] { decode_image(p); }), code);
  }
  void expect_audio_error(const fs::path& p, const std::string& code,
                          const MediaLimits& limits = {}) {
    SCOPED_TRACE(p.filename().string());
    EXPECT_EQ(code_of([&] { probe_audio(p, limits); }), code);
    EXPECT_EQ(code_of([&] { decode_audio(p, 16000, limits); }), code);
  }
  test::TempDir dir_;
};

TEST_F(MediaBadInputTest, EmptyFile) {
  for (const char* name : {"empty.png", "empty.jpg", "empty.wav", "empty.mp3"}) {
    fs::path p = write(name, "");
    expect_image_error(p, "unsupported_media_type");
    expect_audio_error(p, "unsupported_media_type");
  }
}

TEST_F(MediaBadInputTest, TextRenamedPng) {
  fs::path p = write("notes.png", "Dear team,\nthe portrait is attached.\n");
  expect_image_error(p, "unsupported_media_type");
  expect_audio_error(p, "unsupported_media_type");
  try {
    decode_image(p);
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "image");
    EXPECT_EQ(e.http_status(), 415);
  }
}

TEST_F(MediaBadInputTest, PngClaiming100000By100000) {
  // A real small PNG whose IHDR was edited: decoding it would need 30 GB.
  ASSERT_TRUE(
      cv::imwrite((dir_ / "small.png").string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3))));
  std::string png = test::read_file(dir_ / "small.png");
  fs::path p = write("huge.png", png.substr(0, 16) + be32(100000) + be32(100000) + png.substr(24));
  expect_image_error(p, "payload_too_large");
  try {
    probe_image(p);
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "The image is 100000×100000 pixels; the limit is 40 megapixels.");
    EXPECT_EQ(e.field(), "image");
    EXPECT_EQ(e.http_status(), 413);
  }
}

TEST_F(MediaBadInputTest, HugeJpegAndWebpHeaders) {
  ASSERT_TRUE(
      cv::imwrite((dir_ / "small.jpg").string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3))));
  std::string jpeg = test::read_file(dir_ / "small.jpg");
  std::size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 4, std::string("\xFF\xFF\xFF\xFF", 4));  // 65535 × 65535
  expect_image_error(write("huge.jpg", jpeg), "payload_too_large");

  // VP8X canvas 16384 × 16384 (stored minus one, 24-bit little-endian).
  std::string vp8x =
      "VP8X" + le32(10) + std::string(4, '\0') + std::string("\xFF\x3F\x00\xFF\x3F\x00", 6);
  expect_image_error(write("huge.webp", "RIFF" + le32(4 + static_cast<std::uint32_t>(vp8x.size())) +
                                            "WEBP" + vp8x),
                     "payload_too_large");
}

TEST_F(MediaBadInputTest, TruncatedJpeg) {
  // Noise, so the entropy-coded data is long and the cut lands inside it. libjpeg would
  // fill the missing part with grey and call it a success.
  cv::Mat noise(200, 300, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  ASSERT_TRUE(cv::imwrite((dir_ / "whole.jpg").string(), noise));
  std::string jpeg = test::read_file(dir_ / "whole.jpg");
  fs::path cut = write("cut.jpg", jpeg.substr(0, jpeg.size() / 2));
  EXPECT_EQ(probe_image(cut).width, 300);                              // the header is intact…
  EXPECT_EQ(code_of([&] { decode_image(cut); }), "unreadable_media");  // …the pixels are not
  // An EXIF thumbnail is a whole JPEG with its own end marker; it must not make a
  // truncated main image look complete.
  std::string thumbnail =
      std::string("\xFF\xD8\xFF\xDB", 4) + std::string(40, '\x01') + std::string("\xFF\xD9", 2);
  std::string app1 = "Exif" + std::string(2, '\0') + thumbnail;
  std::string segment = std::string("\xFF\xE1", 2) + static_cast<char>((app1.size() + 2) >> 8) +
                        static_cast<char>((app1.size() + 2) & 0xFF) + app1;
  fs::path with_thumbnail =
      write("thumb_cut.jpg", jpeg.substr(0, 2) + segment + jpeg.substr(2, jpeg.size() / 2));
  EXPECT_EQ(code_of([&] { decode_image(with_thumbnail); }), "unreadable_media");
  EXPECT_NO_THROW(
      decode_image(write("thumb_whole.jpg", jpeg.substr(0, 2) + segment + jpeg.substr(2))));
  // Cut inside the header: even the probe cannot tell the size.
  expect_image_error(write("stub.jpg", jpeg.substr(0, 100)), "unreadable_media");
  EXPECT_NO_THROW(decode_image(dir_ / "whole.jpg"));
}

TEST_F(MediaBadInputTest, TruncatedOrCorruptPngAndWebp) {
  cv::Mat noise(100, 100, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  ASSERT_TRUE(cv::imwrite((dir_ / "whole.png").string(), noise));
  ASSERT_TRUE(cv::imwrite((dir_ / "whole.webp").string(), noise, {cv::IMWRITE_WEBP_QUALITY, 90}));
  std::string png = test::read_file(dir_ / "whole.png");
  std::string webp = test::read_file(dir_ / "whole.webp");
  EXPECT_EQ(code_of([&] { decode_image(write("cut.png", png.substr(0, png.size() / 2))); }),
            "unreadable_media");
  EXPECT_EQ(code_of([&] { decode_image(write("cut.webp", webp.substr(0, webp.size() / 2))); }),
            "unreadable_media");
  // All chunks present but the compressed pixels overwritten.
  std::string scrambled = png;
  std::size_t idat = scrambled.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  scrambled.replace(idat + 4, 200, random_bytes(200, 7));
  EXPECT_EQ(code_of([&] { decode_image(write("scrambled.png", scrambled)); }), "unreadable_media");
  // The first chunk is not IHDR.
  expect_image_error(write("no_ihdr.png", png.substr(0, 12) + "IDAT" + png.substr(16)),
                     "unreadable_media");
}

TEST_F(MediaBadInputTest, WavClaimingTenHours) {
  // The header states 36000 s of 16 kHz 16-bit mono; one second actually follows.
  std::uint32_t claimed = 36000u * 16000u * 2u;
  fs::path p = write("ten_hours.wav", wav_header(1, 16000, 16, claimed) + std::string(32000, '\0'));
  expect_audio_error(p, "audio_too_long");
  try {
    probe_audio(p);
  } catch (const Error& e) {
    EXPECT_EQ(e.message(),
              "The recording is 36000 s long; the limit is 300 s. Send a shorter one, or set 'duration' to use only its first seconds.");
    EXPECT_EQ(e.field(), "audio");
    EXPECT_EQ(e.http_status(), 422);
  }
}

TEST_F(MediaBadInputTest, UnstatedLengthStopsAtTheLimit) {
  // A streamed WAV: its data size is the "unknown" 0xFFFFFFFF, so only decoding can tell
  // the length; 3 s of tone against a 2 s limit.
  std::string tone;
  for (int i = 0; i < 3 * 8000; ++i)
    tone += static_cast<char>(128 + static_cast<int>(60 * std::sin(i * 0.3)));
  fs::path p = write("streamed.wav", wav_header(1, 8000, 8, 0xFFFFFFFFu) + tone);
  MediaLimits limits;
  limits.max_audio_seconds = 2;
  expect_audio_error(p, "audio_too_long", limits);
  limits.max_audio_seconds = 4;
  EXPECT_NEAR(decode_audio(p, 16000, limits).duration_s(), 3.0, 0.001);
  EXPECT_NEAR(probe_audio(p, limits).duration_s, 3.0, 0.01);
}

TEST_F(MediaBadInputTest, Mp3ThatIsOnlyAnId3Tag) {
  // ID3v2.3 header, size 30 (syncsafe), one TIT2 frame "hello", then zero padding.
  std::string frame = "TIT2" + be32(6) + std::string("\x00\x00\x00", 3) + "hello";
  std::string body = frame + std::string(30 - frame.size(), '\0');
  std::string tag = std::string("ID3\x03\x00\x00\x00\x00\x00\x1E", 10) + body;
  expect_audio_error(write("tag_only.mp3", tag), "unreadable_media");
  // A tag whose size points past the end of the file.
  expect_audio_error(
      write("tag_overrun.mp3", std::string("ID3\x03\x00\x00\x7F\x7F\x7F\x7F", 10) + body),
      "unreadable_media");
}

TEST_F(MediaBadInputTest, RandomBytesWithEveryExtension) {
  const char* extensions[] = {".png", ".jpg",  ".jpeg", ".webp", ".wav", ".mp3", ".flac",
                              ".ogg", ".opus", ".m4a",  ".aac",  ".mp4", ".bin"};
  unsigned seed = 1;
  for (const char* extension : extensions) {
    fs::path p = write(std::string("random") + extension, random_bytes(64 * 1024, seed++));
    expect_image_error(p, "unsupported_media_type");
    expect_audio_error(p, "unsupported_media_type");
  }
}

TEST_F(MediaBadInputTest, RightMagicThenGarbage) {
  std::string noise = random_bytes(16 * 1024, 99);
  expect_image_error(write("magic.png", std::string("\x89PNG\r\n\x1A\n", 8) + noise),
                     "unreadable_media");
  expect_image_error(write("magic.webp", "RIFF" + le32(16 * 1024 + 4) + "WEBP" + noise),
                     "unreadable_media");
  expect_audio_error(write("magic.flac", "fLaC" + noise), "unreadable_media");
  expect_audio_error(write("magic.wav", "RIFF" + le32(16 * 1024 + 4) + "WAVE" + noise),
                     "unreadable_media");
  expect_audio_error(write("magic.m4a", be32(24) + "ftypM4A " + be32(0) + "M4A isom" + noise),
                     "unreadable_media");
  expect_audio_error(write("magic.mp3", std::string("ID3\x03\x00\x00\x00\x00\x00\x00", 10) + noise),
                     "unreadable_media");
  // An Ogg page that holds neither Vorbis nor Opus (here: Speex) is a format we do not take.
  std::string ogg =
      std::string("OggS\x00\x02", 6) + std::string(20, '\0') + '\x01' + '\x50' + "Speex   " + noise;
  expect_audio_error(write("speex.ogg", ogg), "unsupported_media_type");
  // Vorbis announced, garbage after.
  std::string vorbis = std::string("OggS\x00\x02", 6) + std::string(20, '\0') + '\x01' + '\x1E' +
                       "\x01vorbis" + noise;
  expect_audio_error(write("magic.ogg", vorbis), "unreadable_media");
}

TEST_F(MediaBadInputTest, ZeroChannelAndZeroRateWav) {
  std::string data(3200, '\0');
  expect_audio_error(write("zero_channels.wav", wav_header(0, 16000, 16, 3200) + data),
                     "unreadable_media");
  expect_audio_error(write("zero_rate.wav", wav_header(1, 0, 16, 3200) + data), "unreadable_media");
  // Data before fmt, and no data chunk at all.
  std::string header = wav_header(1, 16000, 16, 3200);
  expect_audio_error(write("data_first.wav",
                           header.substr(0, 12) + header.substr(36) + data + header.substr(12, 24)),
                     "unreadable_media");
  expect_audio_error(write("no_data.wav", header.substr(0, 36)), "unreadable_media");
  // The same header with sane values decodes: the corpus above fails for its fault alone.
  EXPECT_NEAR(decode_audio(write("fine.wav", header + data), 16000).duration_s(), 0.1, 1e-9);
}

TEST_F(MediaBadInputTest, VideoWithoutSound) {
  fs::path p = dir_ / "silent_film.mp4";
  run_ok(
      "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i color=c=black:s=64x64:r=25:d=1 "
      "-c:v libx264 -pix_fmt yuv420p " +
      q(p));
  expect_audio_error(p, "unreadable_media");
}

TEST_F(MediaBadInputTest, HeicPhotoIsNamed) {
  // Only the box header matters here: refused before anything parses the rest.
  fs::path p =
      write("photo.heic", be32(24) + "ftypheic" + be32(0) + "mif1heic" + random_bytes(512, 3));
  expect_image_error(p, "unsupported_media_type");
  expect_audio_error(p, "unsupported_media_type");
  try {
    probe_image(p);
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("HEIC"), std::string::npos) << e.message();
  }
}

// Small random damage to real files of every format: whatever happens, the answer is a
// file we accept or a sonic::Error, never a crash or another exception (ASan checks the
// rest when this suite runs under the sanitizers).
TEST_F(MediaBadInputTest, DamagedFilesNeverCrash) {
  fs::path speech = dir_ / "speech.wav";
  run_ok("sox " + q(test::fixture("speech_en_5s.wav")) + " " + q(speech) + " trim 0 1");
  auto ffmpeg = [&](const std::string& name, const std::string& options) {
    fs::path out = dir_ / name;
    run_ok("ffmpeg -nostdin -hide_banner -loglevel error -y -i " + q(speech) + " " + options + " " +
           q(out));
    return out;
  };
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  ASSERT_TRUE(cv::imwrite((dir_ / "seed.png").string(), noise));
  ASSERT_TRUE(cv::imwrite((dir_ / "seed.jpg").string(), noise));
  ASSERT_TRUE(cv::imwrite((dir_ / "seed.webp").string(), noise));
  std::vector<fs::path> seeds = {speech,
                                 ffmpeg("seed.flac", "-c:a flac"),
                                 ffmpeg("seed.mp3", "-c:a libmp3lame"),
                                 ffmpeg("seed.ogg", "-c:a libvorbis"),
                                 ffmpeg("seed.opus", "-c:a libopus -f ogg"),
                                 ffmpeg("seed.m4a", "-c:a aac"),
                                 ffmpeg("seed.aac", "-c:a aac -f adts"),
                                 dir_ / "seed.png",
                                 dir_ / "seed.jpg",
                                 dir_ / "seed.webp"};
  std::mt19937 generator(2024);
  int accepted = 0, refused = 0;
  for (const fs::path& seed : seeds) {
    std::string original = test::read_file(seed);
    ASSERT_GT(original.size(), 256u) << seed;
    for (int round = 0; round < 25; ++round) {
      std::string damaged = original;
      // Flip a few bytes, mostly in the headers, and sometimes cut the file short.
      for (int flips = 0; flips < 4; ++flips) {
        std::size_t range =
            generator() % 2 ? std::min<std::size_t>(damaged.size(), 512) : damaged.size();
        damaged[generator() % range] = static_cast<char>(generator() & 0xFF);
      }
      if (round % 3 == 0) damaged.resize(damaged.size() * (generator() % 100) / 100);
      fs::path p = write("damaged" + seed.extension().string(), damaged);
      SCOPED_TRACE(seed.filename().string() + " round " + std::to_string(round));
      for (int entry = 0; entry < 4; ++entry) {
        try {
          if (entry == 0) probe_image(p);
          if (entry == 1) decode_image(p);
          if (entry == 2) probe_audio(p);
          if (entry == 3) decode_audio(p, 16000);
          ++accepted;
        } catch (const Error&) {
          ++refused;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "not a sonic::Error: " << e.what();
        }
      }
    }
  }
  // Both outcomes occur, so the damage neither always nor never matters.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

TEST_F(MediaBadInputTest, WrongKindOfMedia) {
  expect_audio_error(test::fixture("portrait.png"), "unsupported_media_type");
  expect_image_error(test::fixture("speech_en_5s.wav"), "unsupported_media_type");
}

TEST_F(MediaBadInputTest, MissingFileAndFolder) {
  expect_image_error(dir_ / "does-not-exist.png", "unreadable_media");
  expect_audio_error(dir_ / "does-not-exist.wav", "unreadable_media");
  fs::create_directory(dir_ / "folder.png");
  expect_image_error(dir_ / "folder.png", "unreadable_media");
  expect_audio_error(dir_ / "folder.png", "unreadable_media");
}

TEST_F(MediaBadInputTest, NothingIsLeftBehind) {
  fs::path p = write("noise.wav", random_bytes(1000, 5));
  std::size_t before = dir_.file_count();
  expect_audio_error(p, "unsupported_media_type");
  expect_image_error(p, "unsupported_media_type");
  EXPECT_EQ(dir_.file_count(), before);
}

}  // namespace
}  // namespace sonic::media
