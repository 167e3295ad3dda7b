// Audio decoding: any supported recording → mono float PCM at the rate the caller asks for.
//
// Design: probe_audio runs first, so the format was decided from the bytes, the length
// limit was checked against what the container states, and we know which demuxer to
// force. Decoding then goes libavformat → libavcodec → libswresample (rate and sample
// format only, channel layout kept), and the channels are averaged here, which keeps the
// mono mix predictable (no surround mix levels). The resampler is flushed at the end and
// the result is cut or padded to exactly round(input_samples × out_rate / in_rate)
// samples, so the duration matches the source to the sample. Decoding stops with
// audio_too_long as soon as the decoded audio passes the limit, whatever the header said.
#include "media/audio.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>

#include "media/av_handles.h"
#include "media/probe.h"
#include "util/error.h"

namespace sonic::media {
namespace fs = std::filesystem;

namespace {

constexpr const char* kAudioField = "audio";

[[noreturn]] void unreadable(std::string_view what) {
  throw Error(ErrorCode::unreadable_media,
              fmt::format("The recording cannot be decoded ({}).", what), kAudioField);
}

// The demuxer probe_audio chose; M4A/AAC covers both MP4 boxes and raw ADTS.
const char* demuxer_for(AudioFormat format, const fs::path& path) {
  switch (format) {
    case AudioFormat::wav:
      return "wav";
    case AudioFormat::mp3:
      return "mp3";
    case AudioFormat::flac:
      return "flac";
    case AudioFormat::ogg_vorbis:
    case AudioFormat::ogg_opus:
      return "ogg";
    case AudioFormat::m4a_aac: {
      char head[8] = {};
      std::ifstream in(path, std::ios::binary);
      in.read(head, sizeof head);
      return std::memcmp(head + 4, "ftyp", 4) == 0 ? "mov" : "aac";
    }
  }
  return "";
}

// Converts decoded frames to float planar at the output rate, input layout unchanged, and
// mixes the planes down to mono. Rebuilt if the stream changes rate or layout midway
// (it happens in concatenated MP3s); the old one is flushed first.
class MonoResampler {
 public:
  MonoResampler(int out_rate, std::vector<float>& out) : out_rate_(out_rate), out_(out) {}

  void push(const AVFrame* frame) {
    if (!resampler_ || frame->sample_rate != in_rate_ || frame->format != in_format_ ||
        av_channel_layout_compare(&frame->ch_layout, &layout_) != 0) {
      flush();
      configure(frame);
    }
    convert(const_cast<const std::uint8_t**>(frame->extended_data), frame->nb_samples);
  }

  void flush() {
    if (resampler_) convert(nullptr, 0);
    resampler_.reset();
  }

  ~MonoResampler() { av_channel_layout_uninit(&layout_); }
  MonoResampler(const MonoResampler&) = delete;
  MonoResampler& operator=(const MonoResampler&) = delete;

 private:
  void configure(const AVFrame* frame) {
    av_channel_layout_uninit(&layout_);
    if (av_channel_layout_copy(&layout_, &frame->ch_layout) < 0 || layout_.nb_channels <= 0) {
      unreadable("a frame has no channels");
    }
    in_rate_ = frame->sample_rate;
    in_format_ = frame->format;
    if (in_rate_ <= 0) unreadable("a frame has a sample rate of 0 Hz");
    SwrContext* raw = nullptr;
    int rc = swr_alloc_set_opts2(&raw, &layout_, AV_SAMPLE_FMT_FLTP, out_rate_, &layout_,
                                 static_cast<AVSampleFormat>(in_format_), in_rate_, 0, nullptr);
    resampler_.reset(raw);
    if (rc < 0 || (rc = swr_init(resampler_.get())) < 0) {
      unreadable("resampler: " + av::error_text(rc));
    }
  }

  void convert(const std::uint8_t** input, int in_samples) {
    int capacity = swr_get_out_samples(resampler_.get(), in_samples);
    if (capacity <= 0) return;
    int channels = layout_.nb_channels;
    planes_.resize(static_cast<std::size_t>(channels));
    std::vector<std::uint8_t*> pointers(static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c) {
      planes_[c].resize(static_cast<std::size_t>(capacity));
      pointers[c] = reinterpret_cast<std::uint8_t*>(planes_[c].data());
    }
    int produced = swr_convert(resampler_.get(), pointers.data(), capacity, input, in_samples);
    if (produced < 0) unreadable("resampler: " + av::error_text(produced));
    std::size_t base = out_.size();
    out_.resize(base + static_cast<std::size_t>(produced));
    float scale = 1.0f / static_cast<float>(channels);
    for (int i = 0; i < produced; ++i) {
      float sum = 0;
      for (int c = 0; c < channels; ++c) sum += planes_[c][i];
      out_[base + i] = sum * scale;
    }
  }

  int out_rate_;
  std::vector<float>& out_;
  av::Resampler resampler_;
  AVChannelLayout layout_{};
  int in_rate_ = 0;
  int in_format_ = -1;
  std::vector<std::vector<float>> planes_;
};

// Seconds of `stream_index` in the packets after the current read position, read without
// decoding (for an honest length in the too-long message).
double remaining_seconds(AVFormatContext* context, int stream_index, AVPacket* packet) {
  const AVRational time_base = context->streams[stream_index]->time_base;
  double seconds = 0;
  av_packet_unref(packet);
  while (av_read_frame(context, packet) >= 0) {
    if (packet->stream_index == stream_index && packet->duration > 0)
      seconds += static_cast<double>(packet->duration) * av_q2d(time_base);
    av_packet_unref(packet);
  }
  return seconds;
}

}  // namespace

PcmAudio decode_audio(const fs::path& path, int sample_rate, const MediaLimits& limits,
                      std::optional<double> use_first_s) {
  if (sample_rate <= 0 || sample_rate > 384000) {
    throw Error(ErrorCode::invalid_param,
                fmt::format("Sample rate {} Hz is not supported.", sample_rate));
  }
  // format, header checks, stated length limit
  AudioInfo info = probe_audio(path, limits, use_first_s);

  av::route_ffmpeg_log();
  const char* demuxer = demuxer_for(info.format, path);
  av::InputFormat context;
  if (int rc = av::open_input_as(context, path.string(), demuxer); rc < 0) {
    unreadable(av::error_text(rc));
  }
  if (int rc = avformat_find_stream_info(context.get(), nullptr); rc < 0)
    unreadable(av::error_text(rc));
  int stream_index = av_find_best_stream(context.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (stream_index < 0) unreadable("no audio stream");
  av::Codec codec = av::open_decoder(context->streams[stream_index]);
  if (!codec) unreadable("no decoder for its codec");
  av::Packet packet = av::make_packet();
  av::Frame frame = av::make_frame();
  if (!packet || !frame)
    throw Error(ErrorCode::internal, "Out of memory while decoding audio.", kAudioField);

  PcmAudio result;
  result.sample_rate = sample_rate;
  MonoResampler resampler(sample_rate, result.samples);
  // Input length in seconds, summed per frame so a change of rate midway is still exact.
  double input_seconds = 0;
  double expected_output = 0;
  bool enough = false;  // use_first_s: that much is decoded, the rest is never read

  auto drain = [&] {
    for (;;) {
      int rc = avcodec_receive_frame(codec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) return;  // a damaged frame: skip it, as players do
      if (frame->nb_samples > 0 && frame->sample_rate > 0) {
        input_seconds += static_cast<double>(frame->nb_samples) / frame->sample_rate;
        expected_output +=
            static_cast<double>(frame->nb_samples) * sample_rate / frame->sample_rate;
        if (!use_first_s && input_seconds > limits.max_audio_seconds) {
          // The container understated its length. Its packets (not decoded) say the rest.
          double total = input_seconds + remaining_seconds(context.get(), stream_index, packet.get());
          throw Error(ErrorCode::audio_too_long,
                      fmt::format("The recording is {:.1f} s long; the limit is {:g} s.",
                                  std::max(total, limits.max_audio_seconds + 0.1), limits.max_audio_seconds),
                      kAudioField);
        }
        resampler.push(frame.get());
        if (use_first_s && input_seconds >= *use_first_s) enough = true;
      }
      av_frame_unref(frame.get());
    }
  };

  while (!enough) {
    int rc = av_read_frame(context.get(), packet.get());
    if (rc < 0) break;  // end of file, or damage past which nothing can be read
    if (packet->stream_index == stream_index) {
      rc = avcodec_send_packet(codec.get(), packet.get());
      // EAGAIN cannot happen because we drain after every packet; other errors are a
      // damaged packet, skipped like players do.
      (void)rc;
      drain();
    }
    av_packet_unref(packet.get());
  }
  avcodec_send_packet(codec.get(), nullptr);
  drain();
  resampler.flush();

  if (input_seconds <= 0) unreadable("no audio could be decoded");
  // MP4 states the true length (its edit list); the decoder still emits the padding that
  // fills the last AAC frame, so cut that off.
  const AVStream* stream = context->streams[stream_index];
  if (std::strcmp(demuxer, "mov") == 0 && stream->duration > 0) {
    double stated = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
    expected_output = std::min(expected_output, stated * sample_rate);
  }
  if (use_first_s) expected_output = std::min(expected_output, *use_first_s * sample_rate);
  // The resampler's filter delay leaves its output a sample or so off the exact length.
  auto exact = static_cast<std::size_t>(std::llround(expected_output));
  result.samples.resize(exact, 0.0f);
  return result;
}

PcmAudio fit_to_duration(PcmAudio audio, double duration_s) {
  // Also refuses NaN and infinity, which would make the sample count meaningless.
  if (!(duration_s >= 0) || !std::isfinite(duration_s)) {
    throw Error(ErrorCode::invalid_param, "The duration must be a positive number of seconds.",
                "duration");
  }
  if (audio.sample_rate <= 0) {
    throw Error(ErrorCode::internal, "Audio without a sample rate cannot be fitted to a duration.");
  }
  auto target = static_cast<std::size_t>(std::llround(duration_s * audio.sample_rate));
  audio.samples.resize(target, 0.0f);  // cuts, or pads with silence
  return audio;
}

}  // namespace sonic::media
