// Mp4Writer: frames pushed one at a time + a PCM track → H.264 (High, yuv420p) and
// AAC-LC in an MP4 whose moov atom comes first (+faststart), so browsers start playing
// before the download ends. Never holds the whole video in memory.
//
// The output appears under its real name only when finish() succeeds: it is written to a
// temporary name in the same folder and renamed. Destroying the writer before finish()
// (error, cancellation) removes everything it wrote.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "media/audio.h"

namespace sonic::media {

struct Mp4Options {
  int width = 512;    // must be even
  int height = 512;   // must be even
  int fps = 25;
  double duration_s = 0;          // output length; frames = round(duration_s * fps)
  int crf = 20;                   // x264 constant rate factor (1–51, lower = better; 0 would be
                                  // lossless 4:4:4, which browsers cannot play)
  std::string preset = "veryfast";  // x264 preset
  std::string x264_params;          // extra x264 options after the preset, "key=value:key=value"
  int threads = 0;                  // x264 threads; 0 = x264 picks from the core count
  int audio_sample_rate = 48000;
  int audio_bitrate = 128000;
};

// The rate the output's AAC track keeps for a recording at `source_rate`: the recording's
// own when it is a standard rate from 16 to 48 kHz (what speech is recorded at and every
// browser plays), so nothing is resampled and the encoder works on no more samples than the
// recording holds (a 16 kHz voice note costs a third of 48 kHz); 16 kHz for rates below,
// 48 kHz for anything else.
int aac_track_rate(int source_rate);
// The bit rate for a mono AAC-LC track at `rate`: 128 kbit/s from 32 kHz up, 4 bits per
// sample below (64 kbit/s at 16 kHz, which AAC-LC cannot spend 128 on anyway).
int aac_track_bitrate(int rate);

class Mp4Writer {
 public:
  // `audio` (mono, any rate: it is resampled to options.audio_sample_rate) is trimmed or
  // padded with silence to exactly the video's duration. Throws Error(invalid_param) on
  // bad options, Error(internal) when the encoder cannot be opened.
  Mp4Writer(std::filesystem::path output_path, const Mp4Options& options, const PcmAudio& audio);
  // The same, pulling the track from `audio` as it goes (any rate: it is resampled), so a
  // long track is never all in memory. `audio` must outlive the writer; its read() errors
  // (a file damaged past its probe) come out of write_frame() or finish().
  Mp4Writer(std::filesystem::path output_path, const Mp4Options& options, AudioStream& audio);
  ~Mp4Writer();
  Mp4Writer(const Mp4Writer&) = delete;
  Mp4Writer& operator=(const Mp4Writer&) = delete;

  // Exactly frame_count() frames, BGR 8-bit of options' size, in order. Throws Error if more
  // frames are pushed than the duration holds or the frame has the wrong size or type.
  void write_frame(const cv::Mat& bgr);
  // Flushes encoders, writes the index at the front and renames to the real name.
  // Throws Error(internal) if fewer than frame_count() frames were written.
  void finish();

  int frame_count() const;       // round(duration_s * fps)
  int frames_written() const;
  const std::filesystem::path& output_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::media
