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

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
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
      // Slack after the samples, as av_samples_alloc gives: FFmpeg's SIMD code may store
      // whole vectors (see padded_bgr.h for the case that did).
      planes_[c].resize(static_cast<std::size_t>(capacity) + 64);
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

struct AudioStream::Impl {
  int sample_rate;
  MediaLimits limits;
  const char* demuxer = nullptr;
  std::optional<double> use_first_s;  // a job's duration: decode only that much
  av::InputFormat context;
  int stream_index = -1;
  av::Codec codec;
  av::Packet packet;
  av::Frame frame;
  std::vector<float> pending;  // decoded, not yet read (from `head` on)
  std::size_t head = 0;
  std::unique_ptr<MonoResampler> resampler;
  // Input length in seconds, summed per frame so a change of rate midway is still exact.
  double input_seconds = 0;
  double expected_output = 0;
  std::size_t handed_out = 0;
  bool decoded_all = false;  // the end of the file was reached and the length fixed
  double stated_seconds = 0;  // what the probe read from the container (0: unknown)
  bool enough = false;  // use_first_s: that much is decoded, the rest is never read

  Impl(const fs::path& path, int rate, const MediaLimits& l, std::optional<double> first)
      : sample_rate(rate), limits(l), use_first_s(first) {
    if (sample_rate != kRecordingRate && (sample_rate <= 0 || sample_rate > 384000)) {
      throw Error(ErrorCode::invalid_param, fmt::format("Sample rate {} Hz is not supported.", sample_rate));
    }
    AudioInfo info = probe_audio(path, limits, use_first_s);  // format, header checks, stated length limit
    // The probe refuses 0 Hz; a header claiming more than the resampler takes gets 48 kHz.
    if (sample_rate == kRecordingRate) sample_rate = info.sample_rate <= 384000 ? info.sample_rate : 48000;
    stated_seconds = std::isfinite(info.duration_s) ? std::clamp(info.duration_s, 0.0, limits.max_audio_seconds) : 0.0;
    if (use_first_s) stated_seconds = std::min(stated_seconds, *use_first_s);
    av::route_ffmpeg_log();
    demuxer = demuxer_for(info.format, path);
    if (int rc = av::open_input_as(context, path.string(), demuxer); rc < 0) {
      unreadable(av::error_text(rc));
    }
    if (int rc = av::find_stream_info(context.get(), demuxer); rc < 0) unreadable(av::error_text(rc));
    stream_index = av_find_best_stream(context.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (stream_index < 0) unreadable("no audio stream");
    codec = av::open_decoder(context->streams[stream_index]);
    if (!codec) unreadable("no decoder for its codec");
    packet = av::make_packet();
    frame = av::make_frame();
    if (!packet || !frame) throw Error(ErrorCode::internal, "Out of memory while decoding audio.", kAudioField);
    resampler = std::make_unique<MonoResampler>(sample_rate, pending);
  }

  void drain() {
    for (;;) {
      int rc = avcodec_receive_frame(codec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) return;  // a damaged frame: skip it, as players do
      if (frame->nb_samples > 0 && frame->sample_rate > 0) {
        input_seconds += static_cast<double>(frame->nb_samples) / frame->sample_rate;
        expected_output += static_cast<double>(frame->nb_samples) * sample_rate / frame->sample_rate;
        if (!use_first_s && input_seconds > limits.max_audio_seconds) {
          // The container understated its length. Its packets (not decoded) say the rest.
          double total = input_seconds + remaining_seconds(context.get(), stream_index, packet.get());
          throw Error(ErrorCode::audio_too_long,
                      fmt::format("The recording is {:.1f} s long; the limit is {:g} s.",
                                  std::max(total, limits.max_audio_seconds + 0.1), limits.max_audio_seconds),
                      kAudioField);
        }
        resampler->push(frame.get());
        if (use_first_s && input_seconds >= *use_first_s) enough = true;
      }
      av_frame_unref(frame.get());
    }
  }

  // Decodes one more packet (or finishes); false once everything is decoded.
  bool decode_more() {
    if (decoded_all) return false;
    // Past `use_first_s` the rest of the file is never read.
    int rc = enough ? AVERROR_EOF : av_read_frame(context.get(), packet.get());
    if (rc >= 0) {  // else: end of file, or damage past which nothing can be read
      if (packet->stream_index == stream_index) {
        // EAGAIN cannot happen because we drain after every packet; other errors are a
        // damaged packet, skipped like players do.
        (void)avcodec_send_packet(codec.get(), packet.get());
        drain();
      }
      av_packet_unref(packet.get());
      return true;
    }
    avcodec_send_packet(codec.get(), nullptr);
    drain();
    resampler->flush();
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
    const auto exact = static_cast<std::size_t>(std::llround(expected_output));
    const std::size_t total = handed_out + (pending.size() - head);
    if (total > exact) pending.resize(pending.size() - std::min(total - exact, pending.size() - head));
    else pending.resize(pending.size() + (exact - total), 0.0f);
    decoded_all = true;
    return false;
  }

  std::size_t read(float* out, std::size_t n) {
    // Samples are handed out only while more than a decoder frame's worth of padding stays
    // behind, so the end can still be cut to the exact length.
    constexpr std::size_t kKeepBack = 8192;
    while (!decoded_all && pending.size() - head < n + kKeepBack) decode_more();
    const std::size_t have = std::min(n, pending.size() - head);
    std::copy_n(pending.data() + head, have, out);
    head += have;
    handed_out += have;
    if (head > 65536 && head * 2 > pending.size()) {
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
    return have;
  }
};

AudioStream::AudioStream(const fs::path& path, int sample_rate, const MediaLimits& limits,
                         std::optional<double> use_first_s)
    : impl_(std::make_unique<Impl>(path, sample_rate, limits, use_first_s)) {}
AudioStream::~AudioStream() = default;
int AudioStream::sample_rate() const { return impl_->sample_rate; }
double AudioStream::stated_seconds() const { return impl_->stated_seconds; }
std::size_t AudioStream::read(float* out, std::size_t n) { return impl_->read(out, n); }

PcmAudio decode_audio(const fs::path& path, int sample_rate, const MediaLimits& limits,
                      std::optional<double> use_first_s) {
  AudioStream stream(path, sample_rate, limits, use_first_s);
  PcmAudio result;
  result.sample_rate = stream.sample_rate();  // the recording's with kRecordingRate
  // Room for the stated length up front: growing the vector as it fills would, for a moment,
  // hold it twice.
  result.samples.reserve(static_cast<std::size_t>(stream.stated_seconds() * result.sample_rate) + (1 << 16));
  constexpr std::size_t kChunk = 1 << 16;
  for (;;) {
    const std::size_t old = result.samples.size();
    result.samples.resize(old + kChunk);
    const std::size_t got = stream.read(result.samples.data() + old, kChunk);
    result.samples.resize(old + got);
    if (got < kChunk) break;
  }
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
