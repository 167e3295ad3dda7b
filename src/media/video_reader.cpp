// VideoReader: demux + decode the best video stream of any file FFmpeg understands, one
// frame at a time, converted to 8-bit BGR for OpenCV.
//
// Why it is built this way:
// - It reads other tools' videos too (`sonic-server score`), so nothing is assumed about the
//   codec, pixel format or frame size: the converter is rebuilt whenever a decoded frame's
//   geometry or format changes, and it honours the frame's own colour matrix and range
//   (BT.709 for ours, BT.601 when a file says so or says nothing), so colours round-trip.
// - Damaged packets are skipped rather than fatal: scoring a video with one bad frame is
//   more useful than refusing it. A file without any decodable video stream is refused with
//   unreadable_media at construction, before any frame is asked for.
// - Only the file protocol and ordinary video containers are allowed, so a crafted file
//   (an HLS playlist named .mp4, say) cannot make FFmpeg open other files or the network.
// - Picture sizes over the image limit (DESIGN §5, 40 megapixels by default) are refused
//   from the stream header, before a frame is decoded.
// - moov_before_mdat() walks top-level MP4 boxes with plain file reads: checking faststart
//   needs no demuxer, and it must tell where the boxes are, which FFmpeg hides.
//
// Threads: one VideoReader is used by one thread at a time; the decoder may run its own
// threads (thread_count = auto).
#include "media/video_reader.h"

#include <array>
#include <cstdint>
#include <fstream>
#include <string>

#include "media/av_handles.h"
#include "media/limits.h"
#include "media/padded_bgr.h"
#include "util/error.h"

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>
}

namespace sonic::media {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void unreadable(const fs::path& path, const std::string& why) {
  throw Error(ErrorCode::unreadable_media,
              "The video " + path.filename().string() + " cannot be read: " + why + ".");
}

// Demuxers of real video files only. Playlist and concatenation formats (hls, concat, image
// sequences…) would let a crafted upload make FFmpeg read other files or URLs.
constexpr const char* kVideoContainers =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,mpegvideo,ogg,asf,nut,ivf,gif,"
    "h264,hevc,m4v,yuv4mpegpipe";

double seconds(int64_t ts, AVRational time_base) {
  return ts == AV_NOPTS_VALUE ? 0.0 : static_cast<double>(ts) * av_q2d(time_base);
}

}  // namespace

struct VideoReader::Impl {
  fs::path path;
  VideoInfo info;
  av::InputFormat input;
  av::Codec decoder;
  av::Frame frame;
  av::Packet packet;
  av::Scaler scaler;
  PaddedBgr scratch;
  int stream_index = -1;
  bool input_done = false;  // demuxer reached the end; decoder has been flushed
  bool decoder_done = false;
  int failures_in_a_row = 0;

  explicit Impl(const fs::path& p) : path(p) {
    av::route_ffmpeg_log();
    AVFormatContext* raw = nullptr;
    AVDictionary* options = nullptr;
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    av_dict_set(&options, "format_whitelist", kVideoContainers, 0);
    int err = avformat_open_input(&raw, path.c_str(), nullptr, &options);
    av_dict_free(&options);
    if (err < 0) unreadable(path, av::error_text(err));  // raw was freed on failure
    input.reset(raw);
    err = avformat_find_stream_info(input.get(), nullptr);
    if (err < 0) unreadable(path, av::error_text(err));

    const AVCodec* codec = nullptr;
    stream_index = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_index < 0 || !codec) unreadable(path, "it has no video stream FFmpeg can decode");
    AVStream* st = input->streams[stream_index];
    const AVCodecParameters* par = st->codecpar;
    if (par->width <= 0 || par->height <= 0)
      unreadable(path, "its video stream has no picture size");
    const std::int64_t pixels = static_cast<std::int64_t>(par->width) * par->height;
    if (pixels > MediaLimits{}.max_image_pixels)
      unreadable(path, "its frames are " + std::to_string(par->width) + "×" +
                           std::to_string(par->height) + " pixels, over the 40-megapixel limit");

    decoder.reset(avcodec_alloc_context3(codec));
    if (!decoder) throw std::bad_alloc();
    err = avcodec_parameters_to_context(decoder.get(), par);
    if (err < 0) unreadable(path, av::error_text(err));
    decoder->thread_count = 0;
    decoder->pkt_timebase = st->time_base;
    err = avcodec_open2(decoder.get(), codec, nullptr);
    if (err < 0) unreadable(path, "its " + std::string(codec->name) + " decoder failed to open");

    frame = av::make_frame();
    packet = av::make_packet();
    if (!frame || !packet) throw std::bad_alloc();
    describe(st);
  }

  void describe(const AVStream* st) {
    const AVCodecParameters* par = st->codecpar;
    info.width = par->width;
    info.height = par->height;
    AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    info.duration_s = seconds(st->duration, st->time_base);
    if (info.duration_s <= 0 && input->duration != AV_NOPTS_VALUE)
      info.duration_s = static_cast<double>(input->duration) / AV_TIME_BASE;
    info.frame_count = st->nb_frames;
    info.codec = avcodec_get_name(par->codec_id);
    const char* profile = avcodec_profile_name(par->codec_id, par->profile);
    info.profile = profile ? profile : "";
    const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
    info.pixel_format = pix ? pix : "";

    int audio = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (audio >= 0) {
      const AVStream* ast = input->streams[audio];
      info.has_audio = true;
      info.audio_codec = avcodec_get_name(ast->codecpar->codec_id);
      info.audio_duration_s = seconds(ast->duration, ast->time_base);
    }
  }

  // Next decoded frame into `frame`; false at the end of the stream.
  bool decode_next() {
    for (;;) {
      int err = avcodec_receive_frame(decoder.get(), frame.get());
      if (err == 0) {
        failures_in_a_row = 0;
        return true;
      }
      if (err == AVERROR_EOF) {
        decoder_done = true;
        return false;
      }
      if (err != AVERROR(EAGAIN)) {
        // A broken frame: skip it, the next one may decode. A decoder that does nothing but
        // fail is a broken file, not a slow one.
        if (++failures_in_a_row > 1000) unreadable(path, av::error_text(err));
        continue;
      }
      failures_in_a_row = 0;
      if (input_done) {
        // EAGAIN after a flush should not happen; treat as the end.
        decoder_done = true;
        return false;
      }
      err = av_read_frame(input.get(), packet.get());
      if (err < 0) {
        // End of file, or a read error we cannot get past: drain what is buffered.
        input_done = true;
        avcodec_send_packet(decoder.get(), nullptr);
        continue;
      }
      if (packet->stream_index == stream_index) {
        // Invalid data is skipped; EAGAIN cannot happen because we drained above.
        avcodec_send_packet(decoder.get(), packet.get());
      }
      av_packet_unref(packet.get());
    }
  }

  bool read(cv::Mat& bgr) {
    if (decoder_done) return false;
    if (!decode_next()) return false;
    const int w = frame->width;
    const int h = frame->height;
    const auto src_format = static_cast<AVPixelFormat>(frame->format);
    SwsContext* cached =
        sws_getCachedContext(scaler.release(), w, h, src_format, w, h, AV_PIX_FMT_BGR24,
                             SWS_BICUBIC, nullptr, nullptr, nullptr);
    scaler.reset(cached);
    if (!scaler) unreadable(path, "a frame's pixel format cannot be converted");
    // The frame's own matrix and range; FFmpeg's default (BT.601) when it states none.
    const int space =
        frame->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
        : frame->colorspace == AVCOL_SPC_BT2020_NCL || frame->colorspace == AVCOL_SPC_BT2020_CL
            ? SWS_CS_BT2020
            : SWS_CS_DEFAULT;
    const bool full_range = frame->color_range == AVCOL_RANGE_JPEG ||
                            src_format == AV_PIX_FMT_YUVJ420P ||
                            src_format == AV_PIX_FMT_YUVJ422P || src_format == AV_PIX_FMT_YUVJ444P;
    const int* coefficients = sws_getCoefficients(space);
    sws_setColorspaceDetails(scaler.get(), coefficients, full_range ? 1 : 0, coefficients, 1, 0,
                             1 << 16, 1 << 16);
    // Through a padded buffer: swscale writes past the end of a row (see padded_bgr.h).
    cv::Mat& converted = scratch.fit(h, w);
    uint8_t* dst[1] = {converted.data};
    const int stride[1] = {static_cast<int>(converted.step[0])};
    sws_scale(scaler.get(), frame->data, frame->linesize, 0, h, dst, stride);
    av_frame_unref(frame.get());
    bgr.create(h, w, CV_8UC3);
    converted.copyTo(bgr);
    return true;
  }
};

VideoReader::VideoReader(const fs::path& path) : impl_(std::make_unique<Impl>(path)) {}
VideoReader::~VideoReader() = default;
const VideoInfo& VideoReader::info() const {
  return impl_->info;
}
bool VideoReader::read(cv::Mat& bgr) {
  return impl_->read(bgr);
}

bool moov_before_mdat(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::uint64_t offset = 0;
  for (;;) {
    std::array<unsigned char, 16> head{};
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(reinterpret_cast<char*>(head.data()), 8)) return false;
    std::uint64_t size = (std::uint64_t{head[0]} << 24) | (std::uint64_t{head[1]} << 16) |
                         (std::uint64_t{head[2]} << 8) | head[3];
    const std::string type(reinterpret_cast<const char*>(head.data() + 4), 4);
    if (type == "moov") return true;
    if (type == "mdat") return false;
    if (size == 1) {  // 64-bit size follows the type
      if (!in.read(reinterpret_cast<char*>(head.data() + 8), 8)) return false;
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | head[static_cast<std::size_t>(i)];
      if (size < 16) return false;
    } else if (size == 0) {  // box runs to the end of the file: nothing follows it
      return false;
    } else if (size < 8) {
      return false;  // not an MP4 box structure
    }
    offset += size;
  }
}

}  // namespace sonic::media
