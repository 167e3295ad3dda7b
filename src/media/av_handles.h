// RAII owners for libav* objects, used only inside media/. Each libav object is wrapped
// here once; no other code frees one by hand.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>
#include <string_view>

namespace sonic::media::av {

struct InputCloser { void operator()(AVFormatContext* c) const { avformat_close_input(&c); } };
struct OutputCloser {
  void operator()(AVFormatContext* c) const {
    if (c && c->pb && !(c->oformat->flags & AVFMT_NOFILE)) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
struct CodecCloser { void operator()(AVCodecContext* c) const { avcodec_free_context(&c); } };
struct FrameCloser { void operator()(AVFrame* f) const { av_frame_free(&f); } };
struct PacketCloser { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct SwrCloser { void operator()(SwrContext* s) const { swr_free(&s); } };
struct SwsCloser { void operator()(SwsContext* s) const { sws_freeContext(s); } };

using InputFormat = std::unique_ptr<AVFormatContext, InputCloser>;
using OutputFormat = std::unique_ptr<AVFormatContext, OutputCloser>;
using Codec = std::unique_ptr<AVCodecContext, CodecCloser>;
using Frame = std::unique_ptr<AVFrame, FrameCloser>;
using Packet = std::unique_ptr<AVPacket, PacketCloser>;
using Resampler = std::unique_ptr<SwrContext, SwrCloser>;
using Scaler = std::unique_ptr<SwsContext, SwsCloser>;

inline Frame make_frame() { return Frame(av_frame_alloc()); }
inline Packet make_packet() { return Packet(av_packet_alloc()); }

// FFmpeg's message for an error number.
inline std::string error_text(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(errnum, buf, sizeof buf);
  return buf;
}

// Opens `path` with the named demuxer only ("wav", "mp3", "flac", "ogg", "mov", "aac"):
// callers decide the format from the bytes first, so libavformat never guesses from
// arbitrary input. Only the file protocol is allowed. Returns 0 or an AVERROR.
inline int open_input_as(InputFormat& out, const std::string& path, const char* demuxer) {
  const AVInputFormat* format = av_find_input_format(demuxer);
  if (!format) return AVERROR_DEMUXER_NOT_FOUND;
  AVDictionary* options = nullptr;
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  AVFormatContext* raw = nullptr;
  // "file:" so a name with a colon in it is never taken for another protocol.
  std::string url = "file:" + path;
  int rc = avformat_open_input(&raw, url.c_str(), format, &options);
  av_dict_free(&options);
  if (rc < 0) return rc;  // avformat_open_input frees the context on failure
  out.reset(raw);
  return 0;
}

// avformat_find_stream_info for a file opened with open_input_as(…, demuxer). A WAV header
// states everything find_stream_info looks for, yet by default it reads up to 5 MB of
// samples (a 10 s voice note whole: 5 ms, and a job opens its recording four times), so
// for WAV it reads at most 32 kB.
inline int find_stream_info(AVFormatContext* context, const char* demuxer) {
  if (std::string_view(demuxer) == "wav") context->probesize = 32 * 1024;
  return avformat_find_stream_info(context, nullptr);
}

// A decoder opened for `stream`'s parameters, or null when there is none or it fails.
inline Codec open_decoder(const AVStream* stream) {
  const AVCodec* decoder = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!decoder) return nullptr;
  Codec codec(avcodec_alloc_context3(decoder));
  if (!codec) return nullptr;
  if (avcodec_parameters_to_context(codec.get(), stream->codecpar) < 0) return nullptr;
  codec->pkt_timebase = stream->time_base;
  if (avcodec_open2(codec.get(), decoder, nullptr) < 0) return nullptr;
  return codec;
}

// Routes FFmpeg's own log into ours (JSON lines); idempotent, thread-safe.
void route_ffmpeg_log();

}  // namespace sonic::media::av
