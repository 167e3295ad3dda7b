// Probe: every supported format is recognised from its bytes and reports the right size,
// duration, rate and channels, on real files made at test time (sox, ffmpeg, OpenCV).
// The `probe` subcommand of the binary is checked at the end.
#include <gtest/gtest.h>

#include <cstdint>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "media/probe.h"
#include "support/speech_conversions.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::media {
namespace {
namespace fs = std::filesystem;
using test::run;
using test::run_ok;
using test::shell_quote;

constexpr double kSpeechSeconds = 84800.0 / 16000.0;  // speech_en_5s.wav: 84800 samples at 16 kHz

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

// The code a call throws, or nullopt-like "none" when it does not throw.
template <class F>
std::string error_code_of(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    return std::string(e.code_name());
  }
  return "none";
}

class MediaProbeTest : public test::SpeechConversionSuite {};

std::uint16_t wav_format_tag(const fs::path& p) {
  std::string bytes = test::read_file(p);
  // sox puts "fmt " right after the RIFF header; the tag is its first field.
  EXPECT_EQ(bytes.substr(12, 4), "fmt ");
  return static_cast<std::uint8_t>(bytes[20]) | (static_cast<std::uint8_t>(bytes[21]) << 8);
}

TEST_F(MediaProbeTest, WavAtEveryBitDepth) {
  struct Case {
    const char* name;
    const char* options;
  } cases[] = {{"u8.wav", "-b 8 -e unsigned-integer"},
               {"s16.wav", "-b 16 -e signed-integer"},
               {"s24.wav", "-b 24 -e signed-integer"},
               {"s32.wav", "-b 32 -e signed-integer"},
               {"f32.wav", "-b 32 -e floating-point"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AudioInfo info = probe_audio(sox(c.name, c.options));
    EXPECT_EQ(info.format, AudioFormat::wav);
    EXPECT_EQ(info.sample_rate, 16000);
    EXPECT_EQ(info.channels, 1);
    EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.001);
  }
}

TEST_F(MediaProbeTest, WavExtensibleStereo) {
  fs::path file = sox("ext.wav", "-r 48000 -c 2 -b 24");
  ASSERT_EQ(wav_format_tag(file), 0xFFFE) << "sox should write WAVE_FORMAT_EXTENSIBLE here";
  AudioInfo info = probe_audio(file);
  EXPECT_EQ(info.format, AudioFormat::wav);
  EXPECT_EQ(info.sample_rate, 48000);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.001);
}

TEST_F(MediaProbeTest, Flac) {
  AudioInfo info = probe_audio(sox("a.flac", ""));
  EXPECT_EQ(info.format, AudioFormat::flac);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.001);
}

TEST_F(MediaProbeTest, OggVorbis) {
  AudioInfo info = probe_audio(sox("a.ogg", "-r 44100 -c 2"));
  EXPECT_EQ(info.format, AudioFormat::ogg_vorbis);
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.005);
}

TEST_F(MediaProbeTest, OggOpus) {
  AudioInfo info = probe_audio(ffmpeg("a.opus", "-c:a libopus -b:a 32k -f ogg"));
  EXPECT_EQ(info.format, AudioFormat::ogg_opus);
  EXPECT_EQ(info.sample_rate, 48000);  // Opus always decodes at 48 kHz
  EXPECT_EQ(info.channels, 1);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.01);  // libavformat counts the 6.5 ms pre-skip
}

TEST_F(MediaProbeTest, Mp3WithId3TagAndXingHeader) {
  fs::path file = ffmpeg("tagged.mp3", "-c:a libmp3lame -b:a 64k -metadata title=hello");
  ASSERT_EQ(test::read_file(file).substr(0, 3), "ID3");
  AudioInfo info = probe_audio(file);
  EXPECT_EQ(info.format, AudioFormat::mp3);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  // The Xing header counts whole 36 ms frames, encoder delay and padding included.
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.15);
}

TEST_F(MediaProbeTest, Mp3WithoutTagIsMeasured) {
  // No ID3 tag and no Xing header: the length is not stated anywhere, only measurable.
  fs::path file = ffmpeg("bare.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0");
  std::string bytes = test::read_file(file);
  ASSERT_EQ(static_cast<std::uint8_t>(bytes[0]), 0xFF);
  AudioInfo info = probe_audio(file);
  EXPECT_EQ(info.format, AudioFormat::mp3);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.15);  // plus encoder delay and padding
}

TEST_F(MediaProbeTest, Mp3MadeBySox) {
  AudioInfo info = probe_audio(sox("sox.mp3", "-r 44100"));
  EXPECT_EQ(info.format, AudioFormat::mp3);
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.15);
}

TEST_F(MediaProbeTest, M4aAac) {
  AudioInfo info = probe_audio(ffmpeg("a.m4a", "-c:a aac -b:a 64k -ar 44100 -ac 2"));
  EXPECT_EQ(info.format, AudioFormat::m4a_aac);
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.03);
}

TEST_F(MediaProbeTest, RawAdtsAac) {
  AudioInfo info = probe_audio(ffmpeg("a.aac", "-c:a aac -b:a 64k -f adts"));
  EXPECT_EQ(info.format, AudioFormat::m4a_aac);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_NEAR(info.duration_s, kSpeechSeconds, 0.2);  // ADTS carries no priming information
}

TEST_F(MediaProbeTest, TypeComesFromBytesNotName) {
  fs::path disguised = path("speech.png");
  fs::copy_file(speech(), disguised, fs::copy_options::overwrite_existing);
  EXPECT_EQ(probe_audio(disguised).format, AudioFormat::wav);
  EXPECT_EQ(error_code_of([&] { probe_image(disguised); }), "unsupported_media_type");

  fs::path picture = path("portrait.wav");
  fs::copy_file(test::fixture("portrait.png"), picture, fs::copy_options::overwrite_existing);
  EXPECT_EQ(probe_image(picture).format, ImageFormat::png);
  EXPECT_EQ(error_code_of([&] { probe_audio(picture); }), "unsupported_media_type");
}

TEST_F(MediaProbeTest, AudioLimitIsConfigurableAndWorded) {
  MediaLimits limits;
  limits.max_audio_seconds = 5;
  try {
    probe_audio(speech(), limits);
    FAIL() << "5.3 s passed a 5 s limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::audio_too_long);
    EXPECT_EQ(e.message(),
              "The recording is 5.3 s long; the limit is 5 s. Send a shorter one, or set 'duration' to use only its "
              "first seconds.");
    EXPECT_EQ(e.field(), "audio");
  }
  limits.max_audio_seconds = 6;
  EXPECT_NO_THROW(probe_audio(speech(), limits));
}

TEST_F(MediaProbeTest, MeasuredLengthIsAlsoLimited) {
  fs::path file = ffmpeg("bare2.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0");
  MediaLimits limits;
  limits.max_audio_seconds = 2;
  EXPECT_EQ(error_code_of([&] { probe_audio(file, limits); }), "audio_too_long");
}

// The number in "The recording is N s long".
double stated_length(const std::string& message) {
  const std::string lead = "The recording is ";
  EXPECT_EQ(message.rfind(lead, 0), 0u) << message;
  return std::stod(message.substr(lead.size()));
}

// Issue 10: a 400 s recording was reported as "300 s long; the limit is 300 s" — a length
// that had to be measured was measured only up to the limit. The message now states the
// recording's true length, whether the container states it or it is measured.
TEST_F(MediaProbeTest, TooLongMessageStatesTheTrueLength) {
  MediaLimits limits;
  limits.max_audio_seconds = 2;
  fs::path measured = ffmpeg("bare3.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0");
  fs::path stated = speech();
  for (const fs::path& file : {measured, stated}) {
    try {
      probe_audio(file, limits);
      ADD_FAILURE() << file << " passed a 2 s limit";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::audio_too_long);
      EXPECT_NEAR(stated_length(e.message()), kSpeechSeconds, 0.15) << e.message();
      EXPECT_NE(e.message().find("the limit is 2 s"), std::string::npos) << e.message();
    }
  }
}

// Just over the limit never reads as the limit (5.24 s rounded to tenths is 5.2, under 5.21).
TEST_F(MediaProbeTest, TooLongByAHairIsNotWordedAsTheLimit) {
  MediaLimits limits;
  limits.max_audio_seconds = 5.21;
  try {
    probe_audio(ffmpeg("cut.wav", "-t 5.24"), limits);
    FAIL() << "5.24 s passed a 5.21 s limit";
  } catch (const Error& e) {
    EXPECT_NEAR(stated_length(e.message()), 5.24, 0.005) << e.message();
  }
}

// Issue 10: with a `duration` within the limit only that much of the recording is used, so
// a longer recording is accepted (the upload's size limit still bounds the file).
TEST_F(MediaProbeTest, LongerRecordingIsAcceptedWhenOnlyItsStartIsUsed) {
  MediaLimits limits;
  limits.max_audio_seconds = 2;
  fs::path measured = ffmpeg("bare4.mp3", "-c:a libmp3lame -b:a 64k -id3v2_version 0 -write_xing 0");
  for (const fs::path& file : {speech(), measured}) {
    EXPECT_EQ(error_code_of([&] { probe_audio(file, limits); }), "audio_too_long") << file;
    AudioInfo info = probe_audio(file, limits, 1.5);
    EXPECT_GE(info.duration_s, 1.5) << file;  // measured only as far as needed, or stated
  }
  // A broken file is still refused: the length rule is relaxed, nothing else.
  test::write_file(path("broken.wav"), test::read_file(speech()).substr(0, 30));
  EXPECT_NE(error_code_of([&] { probe_audio(path("broken.wav"), limits, 1.5); }), "none");
}

// ----- images

// Issue 10: a 1×40000 PNG reached the engine and failed with OpenCV's assertion text (500).
// Pictures more than 8 times as long as wide are refused from the header.
TEST_F(MediaProbeTest, ExtremeAspectRatioIsRefusedFromTheHeader) {
  std::string bytes = test::read_file(test::fixture("portrait.png")).substr(0, 33);
  auto with_size = [&](std::uint32_t w, std::uint32_t h) {
    std::string b = bytes;
    for (int i = 0; i < 4; ++i) {
      b[16 + i] = static_cast<char>((w >> (24 - 8 * i)) & 0xff);
      b[20 + i] = static_cast<char>((h >> (24 - 8 * i)) & 0xff);
    }
    test::write_file(path("shape.png"), b);
    return path("shape.png");
  };
  for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{1, 40000}, {40000, 1}, {100, 801}, {9000, 1000}}) {
    try {
      probe_image(with_size(w, h));
      ADD_FAILURE() << w << "x" << h << " passed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unreadable_media) << w << "x" << h;
      EXPECT_EQ(e.http_status(), 422);
      EXPECT_EQ(e.field(), "image");
      EXPECT_NE(e.message().find(std::to_string(w) + "×" + std::to_string(h)), std::string::npos) << e.message();
      EXPECT_NE(e.message().find("8 times"), std::string::npos) << e.message();
    }
  }
  for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{100, 800}, {800, 100}, {1, 1}, {1080, 1920}})
    EXPECT_NO_THROW(probe_image(with_size(w, h))) << w << "x" << h;
}

TEST_F(MediaProbeTest, PngSizeFromHeader) {
  ImageInfo info = probe_image(test::fixture("portrait.png"));
  EXPECT_EQ(info.format, ImageFormat::png);
  EXPECT_EQ(info.width, 512);
  EXPECT_EQ(info.height, 512);
}

TEST_F(MediaProbeTest, PngHeaderAloneIsEnough) {
  // Signature and IHDR only: no pixel data at all, yet the size is known.
  std::string bytes = test::read_file(test::fixture("portrait.png")).substr(0, 33);
  bytes[16] = 0, bytes[17] = 0, bytes[18] = 0x03, bytes[19] = 0x20;  // width 800
  bytes[20] = 0, bytes[21] = 0, bytes[22] = 0x02, bytes[23] = 0x58;  // height 600
  test::write_file(path("header.png"), bytes);
  ImageInfo info = probe_image(path("header.png"));
  EXPECT_EQ(info.width, 800);
  EXPECT_EQ(info.height, 600);
}

TEST_F(MediaProbeTest, JpegBaselineProgressiveAndGrey) {
  cv::Mat colour(123, 321, CV_8UC3, cv::Scalar(10, 120, 230));
  ASSERT_TRUE(cv::imwrite(path("base.jpg").string(), colour));
  ASSERT_TRUE(cv::imwrite(path("prog.jpg").string(), colour, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  ASSERT_TRUE(cv::imwrite(path("grey.jpg").string(), cv::Mat(77, 55, CV_8UC1, cv::Scalar(90))));
  for (const char* name : {"base.jpg", "prog.jpg"}) {
    SCOPED_TRACE(name);
    ImageInfo info = probe_image(path(name));
    EXPECT_EQ(info.format, ImageFormat::jpeg);
    EXPECT_EQ(info.width, 321);
    EXPECT_EQ(info.height, 123);
  }
  ImageInfo grey = probe_image(path("grey.jpg"));
  EXPECT_EQ(grey.width, 55);
  EXPECT_EQ(grey.height, 77);
}

TEST_F(MediaProbeTest, JpegSizeFoundPastLargeSegments) {
  // A 60 KB APP2 segment (like an ICC profile) and a comment before the frame header.
  cv::Mat colour(40, 60, CV_8UC3, cv::Scalar(50, 60, 70));
  ASSERT_TRUE(cv::imwrite(path("plain.jpg").string(), colour));
  std::string jpeg = test::read_file(path("plain.jpg"));
  std::string app2 = "\xFF\xE2";
  std::size_t length = 60000;
  app2 += static_cast<char>(length >> 8);
  app2 += static_cast<char>(length & 0xFF);
  app2 += std::string(length - 2, 'x');
  std::string comment = std::string("\xFF\xFE\x00\x07hello", 9);
  test::write_file(path("segments.jpg"), jpeg.substr(0, 2) + app2 + comment + jpeg.substr(2));
  ImageInfo info = probe_image(path("segments.jpg"));
  EXPECT_EQ(info.width, 60);
  EXPECT_EQ(info.height, 40);
}

TEST_F(MediaProbeTest, WebpLossyLosslessAndExtended) {
  cv::Mat colour(101, 203, CV_8UC3, cv::Scalar(200, 100, 50));
  cv::Mat with_alpha(99, 77, CV_8UC4, cv::Scalar(200, 100, 50, 128));
  ASSERT_TRUE(cv::imwrite(path("lossy.webp").string(), colour, {cv::IMWRITE_WEBP_QUALITY, 80}));
  ASSERT_TRUE(cv::imwrite(path("lossless.webp").string(), colour, {cv::IMWRITE_WEBP_QUALITY, 101}));
  ASSERT_TRUE(cv::imwrite(path("alpha.webp").string(), with_alpha, {cv::IMWRITE_WEBP_QUALITY, 80}));
  struct Case {
    const char* name;
    const char* chunk;
    int width, height;
  } cases[] = {{"lossy.webp", "VP8 ", 203, 101},
               {"lossless.webp", "VP8L", 203, 101},
               {"alpha.webp", "VP8X", 77, 99}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Each file really exercises the chunk kind it is meant to.
    ASSERT_EQ(test::read_file(path(c.name)).substr(12, 4), c.chunk);
    ImageInfo info = probe_image(path(c.name));
    EXPECT_EQ(info.format, ImageFormat::webp);
    EXPECT_EQ(info.width, c.width);
    EXPECT_EQ(info.height, c.height);
  }
}

TEST_F(MediaProbeTest, PixelLimitIsConfigurableAndWorded) {
  MediaLimits limits;
  limits.max_image_pixels = 512 * 512 - 1;
  try {
    probe_image(test::fixture("portrait.png"), limits);
    FAIL() << "a 512×512 image passed a smaller limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::payload_too_large);
    EXPECT_EQ(e.message(), "The image is 512×512 pixels; the limit is 0.3 megapixels.");
    EXPECT_EQ(e.field(), "image");
  }
  limits.max_image_pixels = 512 * 512;
  EXPECT_NO_THROW(probe_image(test::fixture("portrait.png"), limits));
}

TEST_F(MediaProbeTest, FormatNames) {
  EXPECT_EQ(format_name(ImageFormat::webp), "webp");
  EXPECT_EQ(format_name(AudioFormat::ogg_opus), "ogg_opus");
  EXPECT_EQ(format_name(AudioFormat::m4a_aac), "m4a_aac");
}

// ----- the `probe` subcommand

TEST_F(MediaProbeTest, CommandDescribesImageAndAudio) {
  std::string image =
      run_ok(q(test::sonic_binary()) + " probe --json " + q(test::fixture("portrait.png")));
  EXPECT_NE(image.find("\"kind\":\"image\""), std::string::npos) << image;
  EXPECT_NE(image.find("\"width\":512"), std::string::npos) << image;
  std::string audio = run_ok(q(test::sonic_binary()) + " probe " + q(speech()));
  EXPECT_NE(audio.find("audio wav"), std::string::npos) << audio;
  EXPECT_NE(audio.find("16000 Hz"), std::string::npos) << audio;
}

TEST_F(MediaProbeTest, CommandRefusesWithExitCode2) {
  test::write_file(path("notes.png"), "just some text, not a picture\n");
  test::CommandResult text = run(q(test::sonic_binary()) + " probe --json " + q(path("notes.png")));
  EXPECT_EQ(text.exit_code, 2) << text.output;
  EXPECT_NE(text.output.find("\"code\":\"unsupported_media_type\""), std::string::npos)
      << text.output;
  test::CommandResult missing =
      run(q(test::sonic_binary()) + " probe " + q(path("no-such-file.wav")));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

}  // namespace
}  // namespace sonic::media
