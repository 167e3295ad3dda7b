// Decoding: every supported audio format comes out as mono float PCM of the right length
// at the requested rate, and every image kind comes out as upright 8-bit BGR of the right
// size (EXIF orientation, grey, alpha on white, 16-bit, CMYK). Files are made at test
// time with sox, ffmpeg and OpenCV; the EXIF segment and the CMYK JPEG are written byte
// by byte here, because no installed tool writes them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "media/audio.h"
#include "media/image.h"
#include "media/probe.h"
#include "support/speech_conversions.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::media {
namespace {
namespace fs = std::filesystem;
using test::run_ok;
using test::shell_quote;

constexpr std::size_t kSpeechSamples = 84800;  // speech_en_5s.wav at 16 kHz

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

double rms(const std::vector<float>& samples) {
  double sum = 0;
  for (float s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

float peak(const std::vector<float>& samples) {
  float p = 0;
  for (float s : samples) p = std::max(p, std::abs(s));
  return p;
}

class MediaDecodeTest : public test::SpeechConversionSuite {};

// ----- audio

TEST_F(MediaDecodeTest, WavOfEveryDepthMatchesTheSource) {
  PcmAudio reference = decode_audio(speech(), 16000);
  ASSERT_EQ(reference.samples.size(), kSpeechSamples);
  ASSERT_GT(rms(reference.samples), 0.01);
  struct Case {
    const char* name;
    const char* options;
    float tolerance;
  } cases[] = {{"u8.wav", "-b 8 -e unsigned-integer", 1.5f / 128},
               {"s24.wav", "-b 24 -e signed-integer", 1e-4f},
               {"s32.wav", "-b 32 -e signed-integer", 1e-4f},
               {"f32.wav", "-b 32 -e floating-point", 1e-4f},
               {"ext.wav", "-c 2 -b 24", 1e-4f}};  // WAVE_FORMAT_EXTENSIBLE, two equal channels
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // sox dithers when it reduces depth; -D keeps the comparison exact.
    PcmAudio pcm = decode_audio(sox(c.name, std::string("-D ") + c.options), 16000);
    EXPECT_EQ(pcm.sample_rate, 16000);
    ASSERT_EQ(pcm.samples.size(), kSpeechSamples);
    float worst = 0;
    for (std::size_t i = 0; i < kSpeechSamples; ++i) {
      worst = std::max(worst, std::abs(pcm.samples[i] - reference.samples[i]));
    }
    EXPECT_LE(worst, c.tolerance);
  }
}

TEST_F(MediaDecodeTest, EveryFormatHasTheRightLength) {
  struct Case {
    std::string name;
    fs::path file;
    std::size_t tolerance;  // samples at 16 kHz
  };
  std::vector<Case> cases = {
      {"flac", sox("a.flac", ""), 0},
      {"vorbis", sox("a.ogg", "-r 44100 -c 2"), 16},
      {"opus", ffmpeg("a.opus", "-c:a libopus -b:a 32k -f ogg"), 16},
      {"m4a", ffmpeg("a.m4a", "-c:a aac -b:a 64k -ar 44100"), 16},
      {"mp3 with LAME tag", ffmpeg("a.mp3", "-c:a libmp3lame -b:a 64k"), 16},
      // No priming information in these two, so the encoder delay and the padding to a
      // whole frame stay in (at most about 150 ms).
      {"mp3 bare", ffmpeg("bare.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0"),
       2400},
      {"adts", ffmpeg("a.aac", "-c:a aac -b:a 64k -f adts"), 2400},
  };
  double reference_rms = rms(decode_audio(speech(), 16000).samples);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PcmAudio pcm = decode_audio(c.file, 16000);
    EXPECT_EQ(pcm.sample_rate, 16000);
    EXPECT_GE(pcm.samples.size(), kSpeechSamples - std::min(c.tolerance, std::size_t{16}));
    EXPECT_LE(pcm.samples.size(), kSpeechSamples + c.tolerance);
    // Real sound, at about the source's level (lossy codecs change it a little).
    EXPECT_NEAR(rms(pcm.samples), reference_rms, 0.25 * reference_rms);
  }
}

TEST_F(MediaDecodeTest, ResamplesToExactLength) {
  fs::path file = sox("cd.wav", "-r 44100 -c 2");
  PcmAudio at16 = decode_audio(file, 16000);
  PcmAudio at48 = decode_audio(file, 48000);
  std::size_t source_samples =
      static_cast<std::size_t>(std::llround(kSpeechSamples * 44100.0 / 16000.0));
  EXPECT_EQ(at16.samples.size(),
            static_cast<std::size_t>(std::llround(source_samples * 16000.0 / 44100.0)));
  EXPECT_EQ(at48.samples.size(),
            static_cast<std::size_t>(std::llround(source_samples * 48000.0 / 44100.0)));
  EXPECT_EQ(at48.sample_rate, 48000);
  EXPECT_NEAR(at48.duration_s(), 5.3, 0.0001);
  EXPECT_NEAR(rms(at48.samples), rms(at16.samples), 0.1 * rms(at16.samples));
}

TEST_F(MediaDecodeTest, StereoIsAveragedToMono) {
  // Left: a sine at half scale; right: silence. The mono mix is their mean.
  fs::path file = path("left_only.wav");
  run_ok("sox -n -r 16000 -c 2 " + q(file) + " synth 1 sine 440 vol 0.5 remix 1 0");
  PcmAudio pcm = decode_audio(file, 16000);
  ASSERT_EQ(pcm.samples.size(), 16000u);
  EXPECT_NEAR(peak(pcm.samples), 0.25, 0.01);
}

TEST_F(MediaDecodeTest, AudioTrackOfAVideo) {
  fs::path file = path("video.mp4");
  run_ok(
      "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
      "color=c=black:s=64x64:r=25:d=5.3 -i " +
      q(speech()) + " -c:v libx264 -pix_fmt yuv420p -c:a aac -b:a 64k -shortest " + q(file));
  EXPECT_EQ(probe_audio(file).format, AudioFormat::m4a_aac);
  PcmAudio pcm = decode_audio(file, 16000);
  EXPECT_NEAR(pcm.duration_s(), 5.3, 0.05);
}

// Issue 10: with a `duration` within the limit, a longer recording is decoded only that far
// and not refused; the samples are the recording's own first seconds.
TEST_F(MediaDecodeTest, OnlyTheFirstSecondsOfALongRecordingAreDecoded) {
  MediaLimits limits;
  limits.max_audio_seconds = 2;
  fs::path measured = ffmpeg("bare.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0");
  for (const fs::path& file : {speech(), measured}) {
    EXPECT_THROW(decode_audio(file, 16000, limits), Error) << file;
    PcmAudio head = decode_audio(file, 16000, limits, 1.5);
    EXPECT_EQ(head.samples.size(), 24000u) << file;
    EXPECT_GT(rms(head.samples), 0.001) << file;
  }
  PcmAudio whole = decode_audio(speech(), 16000);
  PcmAudio head = decode_audio(speech(), 16000, limits, 1.5);
  EXPECT_TRUE(std::equal(head.samples.begin(), head.samples.end(), whole.samples.begin()));
  // Asking for more than there is gives what there is (the engine pads to `duration`).
  EXPECT_EQ(decode_audio(speech(), 16000, {}, 9.0).samples.size(), kSpeechSamples);
}

TEST_F(MediaDecodeTest, RejectsANonsenseRate) {
  EXPECT_THROW(decode_audio(speech(), -1), Error);
  EXPECT_THROW(decode_audio(speech(), 400000), Error);
  EXPECT_EQ(decode_audio(speech(), kRecordingRate).sample_rate, 16000);  // 0: the recording's own
}

TEST_F(MediaDecodeTest, FitToDurationCutsAndPads) {
  PcmAudio pcm = decode_audio(speech(), 16000);
  PcmAudio cut = fit_to_duration(pcm, 2.0);
  ASSERT_EQ(cut.samples.size(), 32000u);
  EXPECT_EQ(cut.samples[31999], pcm.samples[31999]);
  PcmAudio padded = fit_to_duration(pcm, 6.00003);
  ASSERT_EQ(padded.samples.size(), 96000u);  // round(6.00003 × 16000)
  EXPECT_EQ(padded.samples[kSpeechSamples - 1], pcm.samples[kSpeechSamples - 1]);
  EXPECT_EQ(peak(std::vector<float>(padded.samples.begin() + kSpeechSamples, padded.samples.end())),
            0.0f);
  EXPECT_EQ(fit_to_duration(pcm, 0).samples.size(), 0u);
  EXPECT_THROW(fit_to_duration(pcm, -1), Error);
  EXPECT_THROW(fit_to_duration(pcm, std::nan("")), Error);
}

// ----- images

void expect_bgr(const cv::Mat& image, int width, int height) {
  EXPECT_EQ(image.type(), CV_8UC3);
  EXPECT_EQ(image.cols, width);
  EXPECT_EQ(image.rows, height);
}

void expect_pixel(const cv::Mat& image, int x, int y, cv::Vec3b bgr, int tolerance = 2) {
  cv::Vec3b got = image.at<cv::Vec3b>(y, x);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(got[c], bgr[c], tolerance)
        << "pixel (" << x << "," << y << ") channel " << c << " is " << got << ", expected " << bgr;
  }
}

TEST_F(MediaDecodeTest, PortraitPng) {
  cv::Mat image = decode_image(test::fixture("portrait.png"));
  expect_bgr(image, 512, 512);
  cv::Mat reference = cv::imread(test::fixture("portrait.png").string(), cv::IMREAD_COLOR);
  EXPECT_EQ(cv::norm(image, reference, cv::NORM_INF), 0);
}

TEST_F(MediaDecodeTest, GreyAndSixteenBitPng) {
  ASSERT_TRUE(cv::imwrite(path("grey.png").string(), cv::Mat(30, 40, CV_8UC1, cv::Scalar(77))));
  cv::Mat grey = decode_image(path("grey.png"));
  expect_bgr(grey, 40, 30);
  expect_pixel(grey, 5, 5, {77, 77, 77}, 0);

  ASSERT_TRUE(cv::imwrite(path("deep.png").string(),
                          cv::Mat(20, 10, CV_16UC3, cv::Scalar(65535, 257 * 100, 0))));
  ASSERT_EQ(probe_image(path("deep.png")).width, 10);
  ASSERT_EQ(static_cast<int>(test::read_file(path("deep.png"))[24]), 16)
      << "IHDR bit depth should be 16";
  cv::Mat deep = decode_image(path("deep.png"));
  expect_bgr(deep, 10, 20);
  expect_pixel(deep, 3, 3, {255, 100, 0}, 0);

  ASSERT_TRUE(
      cv::imwrite(path("deep_grey.png").string(), cv::Mat(8, 8, CV_16UC1, cv::Scalar(257 * 200))));
  expect_pixel(decode_image(path("deep_grey.png")), 1, 1, {200, 200, 200}, 0);
}

TEST_F(MediaDecodeTest, AlphaIsCompositedOnWhite) {
  cv::Mat rgba(10, 30, CV_8UC4, cv::Scalar(0, 0, 0, 255));          // opaque black
  rgba(cv::Rect(10, 0, 10, 10)).setTo(cv::Scalar(0, 0, 0, 0));      // transparent
  rgba(cv::Rect(20, 0, 10, 10)).setTo(cv::Scalar(0, 0, 255, 128));  // half red
  ASSERT_TRUE(cv::imwrite(path("alpha.png").string(), rgba));
  ASSERT_TRUE(cv::imwrite(path("alpha.webp").string(), rgba, {cv::IMWRITE_WEBP_QUALITY, 101}));
  for (const char* name : {"alpha.png", "alpha.webp"}) {
    SCOPED_TRACE(name);
    cv::Mat image = decode_image(path(name));
    expect_bgr(image, 30, 10);
    expect_pixel(image, 5, 5, {0, 0, 0});
    expect_pixel(image, 15, 5, {255, 255, 255});
    expect_pixel(image, 25, 5, {127, 127, 255});
  }
  // Grey with alpha (PNG colour type 4), which OpenCV cannot write: ffmpeg can.
  run_ok("ffmpeg -nostdin -hide_banner -loglevel error -y -i " + q(path("alpha.png")) +
         " -pix_fmt ya8 " + q(path("grey_alpha.png")));
  ASSERT_EQ(static_cast<int>(test::read_file(path("grey_alpha.png"))[25]), 4) << "IHDR colour type";
  cv::Mat grey_alpha = decode_image(path("grey_alpha.png"));
  expect_bgr(grey_alpha, 30, 10);
  expect_pixel(grey_alpha, 5, 5, {0, 0, 0});
  expect_pixel(grey_alpha, 15, 5, {255, 255, 255});
}

TEST_F(MediaDecodeTest, JpegAndWebp) {
  cv::Mat colour(48, 64, CV_8UC3, cv::Scalar(30, 140, 220));
  ASSERT_TRUE(cv::imwrite(path("c.jpg").string(), colour, {cv::IMWRITE_JPEG_QUALITY, 95}));
  ASSERT_TRUE(cv::imwrite(path("g.jpg").string(), cv::Mat(48, 64, CV_8UC1, cv::Scalar(100))));
  ASSERT_TRUE(cv::imwrite(path("c.webp").string(), colour, {cv::IMWRITE_WEBP_QUALITY, 90}));
  ASSERT_TRUE(cv::imwrite(path("l.webp").string(), colour, {cv::IMWRITE_WEBP_QUALITY, 101}));
  for (const char* name : {"c.jpg", "c.webp", "l.webp"}) {
    SCOPED_TRACE(name);
    cv::Mat image = decode_image(path(name));
    expect_bgr(image, 64, 48);
    expect_pixel(image, 32, 24, {30, 140, 220}, 6);
  }
  cv::Mat grey = decode_image(path("g.jpg"));
  expect_bgr(grey, 64, 48);
  expect_pixel(grey, 32, 24, {100, 100, 100}, 2);
}

// The APP1 segment of a minimal big-endian EXIF block holding only the orientation tag.
std::string exif_orientation_segment(int orientation) {
  std::string tiff("MM\x00\x2A\x00\x00\x00\x08", 8);           // header, IFD0 at offset 8
  tiff += std::string("\x00\x01", 2);                          // one entry
  tiff += std::string("\x01\x12\x00\x03\x00\x00\x00\x01", 8);  // Orientation, SHORT, count 1
  tiff += static_cast<char>(0);
  tiff += static_cast<char>(orientation);
  tiff += std::string("\x00\x00\x00\x00\x00\x00", 6);  // value padding, no next IFD
  std::string payload = std::string("Exif\x00\x00", 6) + tiff;
  std::size_t length = payload.size() + 2;
  return std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) +
         static_cast<char>(length & 0xFF) + payload;
}

TEST_F(MediaDecodeTest, ExifOrientationIsApplied) {
  // 40 wide, 20 high, a red square in the top-left corner.
  cv::Mat stored(20, 40, CV_8UC3, cv::Scalar(200, 50, 50));
  stored(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(0, 0, 255));
  ASSERT_TRUE(cv::imwrite(path("plain.jpg").string(), stored, {cv::IMWRITE_JPEG_QUALITY, 95}));
  std::string jpeg = test::read_file(path("plain.jpg"));
  auto with_orientation = [&](int orientation) {
    fs::path out = path("orientation" + std::to_string(orientation) + ".jpg");
    test::write_file(out,
                     jpeg.substr(0, 2) + exif_orientation_segment(orientation) + jpeg.substr(2));
    return out;
  };

  cv::Mat upright = decode_image(with_orientation(1));
  expect_bgr(upright, 40, 20);
  expect_pixel(upright, 3, 3, {0, 0, 255}, 30);

  // 6: the camera was turned clockwise; showing it upright turns the picture 90° clockwise,
  // so width and height swap and the top-left corner goes to the top-right.
  fs::path turned_file = with_orientation(6);
  ImageInfo info = probe_image(turned_file);
  EXPECT_EQ(info.width, 40);  // the probe reports the stored size
  cv::Mat turned = decode_image(turned_file);
  expect_bgr(turned, 20, 40);
  expect_pixel(turned, 16, 3, {0, 0, 255}, 30);
  expect_pixel(turned, 3, 3, {200, 50, 50}, 30);

  // 3: upside down; the red corner ends bottom-right.
  cv::Mat flipped = decode_image(with_orientation(3));
  expect_bgr(flipped, 40, 20);
  expect_pixel(flipped, 36, 16, {0, 0, 255}, 30);
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
          static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string le32(std::uint32_t v) {
  return {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
          static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
}

TEST_F(MediaDecodeTest, PngAndWebpExifOrientationIsApplied) {
  // Same picture as above, with alpha so OpenCV's own JPEG-only path cannot be what helps.
  cv::Mat stored(20, 40, CV_8UC4, cv::Scalar(200, 50, 50, 255));
  stored(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(0, 0, 255, 255));
  std::string tiff = exif_orientation_segment(6).substr(4 + 6);  // drop marker, length, "Exif\0\0"

  ASSERT_TRUE(cv::imwrite(path("plain.png").string(), stored));
  std::string png = test::read_file(path("plain.png"));
  std::string exif_chunk =
      be32(static_cast<std::uint32_t>(tiff.size())) + "eXIf" + tiff + be32(crc32("eXIf" + tiff));
  std::size_t after_ihdr = 8 + 8 + 13 + 4;
  test::write_file(path("turned.png"),
                   png.substr(0, after_ihdr) + exif_chunk + png.substr(after_ihdr));

  // WebP: the extended layout (VP8X with the EXIF flag) around a lossless picture.
  ASSERT_TRUE(cv::imwrite(path("plain.webp").string(), stored, {cv::IMWRITE_WEBP_QUALITY, 101}));
  std::string webp = test::read_file(path("plain.webp"));
  ASSERT_EQ(webp.substr(12, 4), "VP8L");
  std::string vp8x = "VP8X" + le32(10) + std::string("\x18\0\0\0", 4) +  // alpha + EXIF flags
                     std::string("\x27\0\0\x13\0\0", 6);                 // 40 × 20, minus one
  std::string exif = "EXIF" + le32(static_cast<std::uint32_t>(tiff.size())) + tiff +
                     (tiff.size() % 2 ? std::string(1, '\0') : std::string());
  std::string body = "WEBP" + vp8x + webp.substr(12) + exif;
  test::write_file(path("turned.webp"),
                   "RIFF" + le32(static_cast<std::uint32_t>(body.size())) + body);

  for (const char* name : {"turned.png", "turned.webp"}) {
    SCOPED_TRACE(name);
    cv::Mat turned = decode_image(path(name));
    expect_bgr(turned, 20, 40);
    expect_pixel(turned, 16, 3, {0, 0, 255}, 0);
    expect_pixel(turned, 3, 3, {200, 50, 50}, 0);
  }
}

// A baseline 8×8 JPEG of one solid CMYK colour with an Adobe marker (transform 0), the way
// Photoshop writes CMYK: values inverted, 255 = no ink. Every block holds only its DC term.
std::string cmyk_jpeg(const std::uint8_t cmyk[4]) {
  auto u16 = [](std::size_t v) {
    return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
  };
  std::string out("\xFF\xD8", 2);
  out += std::string("\xFF\xEE", 2) + u16(14) + "Adobe" +
         std::string("\x00\x64\x00\x00\x00\x00\x00", 7);
  out += std::string("\xFF\xDB", 2) + u16(67) + std::string(1, '\0') +
         std::string(64, '\x01');  // all-ones DQT
  out += std::string("\xFF\xC0", 2) + u16(8 + 3 * 4) + '\x08' + u16(8) + u16(8) + '\x04';
  for (char id = 1; id <= 4; ++id) out += std::string{id, '\x11', '\x00'};
  // DC table: the standard luminance one; AC table: one symbol, EOB, coded "0".
  const std::uint8_t dc_bits[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  out += std::string("\xFF\xC4", 2) + u16(2 + 1 + 16 + 12 + 1 + 16 + 1) + '\x00';
  for (std::uint8_t b : dc_bits) out += static_cast<char>(b);
  for (char v = 0; v < 12; ++v) out += v;
  out += '\x10';
  out += '\x01';
  out += std::string(15, '\0');
  out += '\0';
  out += std::string("\xFF\xDA", 2) + u16(6 + 2 * 4) + '\x04';
  for (char id = 1; id <= 4; ++id) out += std::string{id, '\x00'};
  out += std::string("\x00\x3F\x00", 3);

  // Canonical Huffman codes of the DC table, by category.
  std::vector<std::pair<int, int>> dc_code(12);  // (code, length)
  int code = 0, symbol = 0;
  for (int length = 1; length <= 16; ++length) {
    for (int i = 0; i < dc_bits[length - 1]; ++i) dc_code[symbol++] = {code++, length};
    code <<= 1;
  }
  std::vector<bool> bits;
  auto put = [&](int value, int length) {
    for (int i = length - 1; i >= 0; --i) bits.push_back((value >> i) & 1);
  };
  for (int c = 0; c < 4; ++c) {
    int dc = 8 * (cmyk[c] - 128);  // DC of a flat block, quantiser 1
    int magnitude = std::abs(dc), category = 0;
    while (magnitude >> category) ++category;
    put(dc_code[category].first, dc_code[category].second);
    if (category > 0) put(dc >= 0 ? dc : dc + (1 << category) - 1, category);
    put(0, 1);  // EOB
  }
  while (bits.size() % 8) bits.push_back(true);
  for (std::size_t i = 0; i < bits.size(); i += 8) {
    int byte = 0;
    for (int j = 0; j < 8; ++j) byte = (byte << 1) | bits[i + j];
    out += static_cast<char>(byte);
    if (byte == 0xFF) out += '\0';  // byte stuffing
  }
  return out + std::string("\xFF\xD9", 2);
}

TEST_F(MediaDecodeTest, CmykJpegBecomesBgr) {
  const std::uint8_t cyan[4] = {0, 255, 255, 255};  // full cyan ink, nothing else
  const std::uint8_t black[4] = {255, 255, 255, 0};
  const std::uint8_t paper[4] = {255, 255, 255, 255};
  test::write_file(path("cyan.jpg"), cmyk_jpeg(cyan));
  test::write_file(path("black.jpg"), cmyk_jpeg(black));
  test::write_file(path("paper.jpg"), cmyk_jpeg(paper));
  cv::Mat check = cv::imread(path("cyan.jpg").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(check.empty()) << "the hand-made CMYK JPEG is not valid";
  cv::Mat image = decode_image(path("cyan.jpg"));
  expect_bgr(image, 8, 8);
  expect_pixel(image, 4, 4, {255, 255, 0}, 4);
  expect_pixel(decode_image(path("black.jpg")), 4, 4, {0, 0, 0}, 4);
  expect_pixel(decode_image(path("paper.jpg")), 4, 4, {255, 255, 255}, 4);
}

}  // namespace
}  // namespace sonic::media
