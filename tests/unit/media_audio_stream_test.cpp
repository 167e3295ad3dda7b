// media::AudioStream (decoding a chunk at a time) and the MP4 writer pulling its track from
// one: the same samples as decode_audio to the last one, the same refusals, and an output
// whose sound ends with its picture — without the whole track in memory.
#include <gtest/gtest.h>

#include "media/audio.h"
#include "media/mp4_writer.h"
#include "media/video_reader.h"
#include "support/test_media.h"
#include "util/error.h"

using namespace sonic;

TEST(MediaAudioStream, ALongerRecordingThanTheLimitIsRefusedAsByDecodeAudio) {
  media::MediaLimits limits;
  limits.max_audio_seconds = 2.0;
  try {
    media::AudioStream stream(test::fixture("speech_en_5s.wav"), 16000, limits);
    std::vector<float> chunk(4096);
    while (stream.read(chunk.data(), chunk.size()) > 0) {
    }
    FAIL() << "a 5.3 s recording passed a 2 s limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::audio_too_long);
    EXPECT_EQ(e.field(), "audio");
  }
  test::TempDir dir;
  test::write_file(dir / "text.wav", "this is not a recording");
  EXPECT_THROW(media::AudioStream(dir / "text.wav", 16000), Error);
  EXPECT_THROW(media::AudioStream(test::fixture("speech_en_5s.wav"), -1), Error);  // 0 is kRecordingRate
}

TEST(MediaAudioStream, ReadInAnyChunksItIsDecodeAudioExactly) {
  for (int rate : {16000, 48000, 22050}) {
    SCOPED_TRACE(rate);
    const media::PcmAudio whole = media::decode_audio(test::fixture("speech_en_5s.wav"), rate);
    media::AudioStream stream(test::fixture("speech_en_5s.wav"), rate);
    EXPECT_EQ(stream.sample_rate(), rate);
    EXPECT_NEAR(stream.stated_seconds(), 5.3, 0.05);
    std::vector<float> read;
    std::vector<float> chunk(5000);
    for (std::size_t n : {1u, 999u, 4096u, 5000u, 17u}) {
      const std::size_t got = stream.read(chunk.data(), n);
      read.insert(read.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    }
    for (;;) {
      const std::size_t got = stream.read(chunk.data(), chunk.size());
      read.insert(read.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
      if (got < chunk.size()) break;
    }
    EXPECT_EQ(stream.read(chunk.data(), chunk.size()), 0u) << "after the end";
    ASSERT_EQ(read.size(), whole.samples.size());
    EXPECT_EQ(read, whole.samples);
  }
}

TEST(MediaAudioStream, KeepsTheRecordingsOwnRateWhenAsked) {
  test::TempDir dir;
  for (int rate : {8000, 22050, 44100}) {
    const std::filesystem::path wav = dir / ("r" + std::to_string(rate) + ".wav");
    test::run_ok("sox " + test::shell_quote(test::fixture("speech_en_5s.wav").string()) + " -r " + std::to_string(rate) + " " +
           test::shell_quote(wav.string()));
    media::AudioStream stream(wav, media::kRecordingRate);
    EXPECT_EQ(stream.sample_rate(), rate);
    const media::PcmAudio same = media::decode_audio(wav, rate);
    std::vector<float> got(same.samples.size() + 100);
    got.resize(stream.read(got.data(), got.size()));
    EXPECT_EQ(got, same.samples) << rate;
  }
}

TEST(MediaAudioStream, TheWriterPullsTheTrackAndItEndsWithThePicture) {
  test::TempDir dir;
  media::AudioStream stream(test::fixture("speech_en_5s.wav"), 16000);  // resampled to 48 kHz by the writer
  media::Mp4Options options;
  options.width = 64;
  options.height = 64;
  options.fps = 25;
  options.duration_s = 6.0;  // longer than the recording: padded with silence
  media::Mp4Writer writer(dir / "out.mp4", options, stream);
  const cv::Mat frame(64, 64, CV_8UC3, cv::Scalar(40, 90, 160));
  for (int i = 0; i < writer.frame_count(); ++i) writer.write_frame(frame);
  writer.finish();
  media::VideoReader reader(dir / "out.mp4");
  ASSERT_TRUE(reader.info().has_audio);
  EXPECT_NEAR(reader.info().audio_duration_s, 6.0, 0.03);
  // The sound is the recording's: loud in its first seconds.
  const media::PcmAudio back = media::decode_audio(dir / "out.mp4", 16000);
  double energy = 0;
  for (std::size_t i = 0; i < 16000 * 3 && i < back.samples.size(); ++i) energy += back.samples[i] * back.samples[i];
  EXPECT_GT(energy / (16000 * 3), 1e-4);
}
