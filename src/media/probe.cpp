// Probe: decides what an uploaded file really is before anything trusts it.
//
// Design: every file is first recognised by our own code from its bytes — a magic number
// plus a parse of the header that matters (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X, the
// RIFF/WAVE fmt and data chunks, an MP3 frame header after any ID3v2 tag, the first Ogg
// packet, an ADTS header). Image sizes come from that parse alone, so a 100000×100000 PNG
// is refused without a pixel being decoded. Audio is then opened with libavformat, but
// only with the one demuxer our sniffing chose (libavformat's own format guessing is
// never used on untrusted bytes), and one frame is decoded to prove the stream is real.
//
// The name of the file is never looked at. Errors are sonic::Error values whose `field`
// is the form field ("image" or "audio") so the HTTP layer can pass them on unchanged.
#include "media/probe.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "media/av_handles.h"
#include "util/error.h"

namespace sonic::media {
namespace fs = std::filesystem;

namespace {

constexpr const char* kImageField = "image";
constexpr const char* kAudioField = "audio";
// Longest side over shortest side a picture may have (a 9:16 phone photo is 1.8, a
// panorama 4–6); anything narrower is refused before decoding.
constexpr double kMaxImageAspect = 8.0;

// Random-access reads of a file; short reads at the end return fewer bytes, never throw.
class ByteFile {
 public:
  explicit ByteFile(const fs::path& path) : in_(path, std::ios::binary) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    size_ = ec ? 0 : static_cast<std::uint64_t>(size);
  }
  bool is_open() const { return in_.is_open(); }
  std::uint64_t size() const { return size_; }
  std::vector<std::uint8_t> read(std::uint64_t offset, std::size_t count) {
    std::vector<std::uint8_t> out;
    if (offset >= size_) return out;
    count = static_cast<std::size_t>(std::min<std::uint64_t>(count, size_ - offset));
    out.resize(count);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count));
    out.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in_.gcount())));
    return out;
  }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

std::uint32_t be16(const std::uint8_t* p) {
  return (p[0] << 8) | p[1];
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
std::uint32_t le16(const std::uint8_t* p) {
  return p[0] | (p[1] << 8);
}
std::uint32_t le24(const std::uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16);
}
std::uint32_t le32(const std::uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t{p[3]} << 24);
}
bool starts_with(const std::vector<std::uint8_t>& bytes, std::size_t at, std::string_view magic) {
  return bytes.size() >= at + magic.size() &&
         std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

// "40", "0.5": limits are usually round numbers; print them the way a person wrote them.
std::string plain_number(double value) {
  double rounded = std::round(value * 10) / 10;
  if (rounded == std::floor(rounded)) return fmt::format("{:.0f}", rounded);
  return fmt::format("{:.1f}", rounded);
}

[[noreturn]] void fail(ErrorCode code, std::string message, const char* field) {
  throw Error(code, std::move(message), field);
}

void require_nonempty_file(ByteFile& file, const fs::path& path, const char* field) {
  if (!file.is_open()) {
    fail(ErrorCode::unreadable_media, fmt::format("The {} file could not be opened.", field),
         field);
  }
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    fail(ErrorCode::unreadable_media, fmt::format("The {} is not a regular file.", field), field);
  }
  if (file.size() == 0) {
    fail(ErrorCode::unsupported_media_type, fmt::format("The {} file is empty.", field), field);
  }
}

// ---------------------------------------------------------------------------------------
// Images

struct Size {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

[[noreturn]] void broken_image(std::string_view format, std::string_view what) {
  fail(ErrorCode::unreadable_media,
       fmt::format("The image looks like {} but its header is damaged ({}).", format, what),
       kImageField);
}

Size png_size(ByteFile& file) {
  // Signature (8), then the first chunk must be IHDR: length 13, "IHDR", width, height.
  auto head = file.read(0, 8 + 8 + 13);
  if (head.size() < 8 + 8 + 8) broken_image("PNG", "the file ends inside the header");
  if (be32(&head[8]) != 13 || !starts_with(head, 12, "IHDR")) {
    broken_image("PNG", "the first chunk is not IHDR");
  }
  Size size{be32(&head[16]), be32(&head[20])};
  // The PNG specification limits each dimension to 2^31 - 1.
  if (size.width == 0 || size.height == 0 || size.width > 0x7fffffffu ||
      size.height > 0x7fffffffu) {
    broken_image("PNG", "impossible width or height");
  }
  return size;
}

Size jpeg_size(ByteFile& file) {
  // Walk the marker segments after SOI until a start-of-frame gives the size. Segments
  // (EXIF, ICC profiles, thumbnails) can be large, so seek over them instead of reading.
  std::uint64_t pos = 2;
  for (int segments = 0; segments < 10000; ++segments) {
    auto marker = file.read(pos, 2);
    if (marker.size() < 2) broken_image("JPEG", "no frame header before the end of the file");
    if (marker[0] != 0xFF) broken_image("JPEG", "a segment does not start with a marker");
    std::uint8_t code = marker[1];
    if (code == 0xFF) {  // fill byte before a marker
      pos += 1;
      continue;
    }
    pos += 2;
    if (code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7)) continue;  // no length
    if (code == 0xD9 || code == 0xDA) broken_image("JPEG", "image data before the frame header");
    auto length_bytes = file.read(pos, 2);
    if (length_bytes.size() < 2) broken_image("JPEG", "the file ends inside a segment");
    std::uint32_t length = be16(length_bytes.data());
    if (length < 2) broken_image("JPEG", "a segment has an impossible length");
    bool start_of_frame =
        code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC;
    if (start_of_frame) {
      auto sof = file.read(pos, 8);  // length(2) precision(1) height(2) width(2) components(1)
      if (sof.size() < 8 || length < 8) broken_image("JPEG", "the frame header is cut short");
      Size size{be16(&sof[5]), be16(&sof[3])};
      // Height 0 means "defined by a later DNL marker", which no common encoder writes and
      // our decoder does not support; treat it as unreadable rather than guess.
      if (size.width == 0 || size.height == 0) broken_image("JPEG", "zero width or height");
      return size;
    }
    pos += length;
  }
  broken_image("JPEG", "too many segments before the frame header");
}

Size webp_size(ByteFile& file) {
  // RIFF <size> WEBP, then the first chunk: "VP8 " (lossy), "VP8L" (lossless) or "VP8X"
  // (extended: the canvas size is in the chunk itself).
  auto head = file.read(0, 12 + 8 + 10);
  if (head.size() < 12 + 8 + 5) broken_image("WebP", "the file ends inside the header");
  if (starts_with(head, 12, "VP8X")) {
    if (head.size() < 30) broken_image("WebP", "the VP8X chunk is cut short");
    return {le24(&head[24]) + 1, le24(&head[27]) + 1};
  }
  if (starts_with(head, 12, "VP8L")) {
    if (head[20] != 0x2F) broken_image("WebP", "bad VP8L signature");
    std::uint32_t bits = le32(&head[21]);
    return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (starts_with(head, 12, "VP8 ")) {
    // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height (+2 scale bits).
    if (head.size() < 30) broken_image("WebP", "the VP8 chunk is cut short");
    if (head[23] != 0x9D || head[24] != 0x01 || head[25] != 0x2A) {
      broken_image("WebP", "bad VP8 start code");
    }
    Size size{le16(&head[26]) & 0x3FFF, le16(&head[28]) & 0x3FFF};
    if (size.width == 0 || size.height == 0) broken_image("WebP", "zero width or height");
    return size;
  }
  broken_image("WebP", "unknown first chunk");
}

// HEIF/AVIF share MP4's box structure; their brands tell them apart from M4A.
bool is_heif(const std::vector<std::uint8_t>& head) {
  if (!starts_with(head, 4, "ftyp")) return false;
  for (std::string_view brand : {"heic", "heix", "hevc", "mif1", "msf1", "avif", "avis"}) {
    if (starts_with(head, 8, brand)) return true;
  }
  return false;
}

std::optional<ImageFormat> sniff_image(const std::vector<std::uint8_t>& head) {
  static constexpr std::array<std::uint8_t, 8> png_signature{0x89, 'P',  'N',  'G',
                                                             0x0D, 0x0A, 0x1A, 0x0A};
  if (head.size() >= 8 && std::equal(png_signature.begin(), png_signature.end(), head.begin())) {
    return ImageFormat::png;
  }
  if (head.size() >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
    return ImageFormat::jpeg;
  if (starts_with(head, 0, "RIFF") && starts_with(head, 8, "WEBP")) return ImageFormat::webp;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Audio sniffing

// What our own parse found: the format, the libavformat demuxer to force, and for WAV
// what the header itself states.
struct AudioSniff {
  AudioFormat format;
  const char* demuxer;
  std::optional<double> stated_duration_s;  // from our parse, when the header states one
};

[[noreturn]] void broken_audio(std::string_view format, std::string_view what) {
  fail(ErrorCode::unreadable_media,
       fmt::format("The recording looks like {} but cannot be read ({}).", format, what),
       kAudioField);
}

// The WAV header: fmt gives channels, rate and frame size; data gives the stated length.
AudioSniff sniff_wav(ByteFile& file) {
  std::uint64_t pos = 12;
  std::optional<std::uint32_t> channels, rate, block_align;
  for (int chunks = 0; chunks < 1000; ++chunks) {
    auto header = file.read(pos, 8);
    if (header.size() < 8) break;
    std::uint32_t size = le32(&header[4]);
    if (starts_with(header, 0, "fmt ")) {
      auto fmt_chunk = file.read(pos + 8, 16);
      if (fmt_chunk.size() < 16 || size < 16) broken_audio("WAV", "the fmt chunk is cut short");
      channels = le16(&fmt_chunk[2]);
      rate = le32(&fmt_chunk[4]);
      block_align = le16(&fmt_chunk[12]);
      if (*channels == 0) broken_audio("WAV", "the header says it has 0 channels");
      if (*rate == 0) broken_audio("WAV", "the header says its sample rate is 0 Hz");
    } else if (starts_with(header, 0, "data")) {
      if (!channels) broken_audio("WAV", "the data chunk comes before the fmt chunk");
      AudioSniff sniff{AudioFormat::wav, "wav", std::nullopt};
      // 0 and 0xFFFFFFFF are what streaming writers put when they did not know the length.
      if (size != 0 && size != 0xFFFFFFFFu && *block_align > 0) {
        sniff.stated_duration_s = static_cast<double>(size / *block_align) / *rate;
      }
      return sniff;
    }
    pos += 8 + static_cast<std::uint64_t>(size) + (size & 1);  // chunks are word-aligned
  }
  if (!channels) broken_audio("WAV", "no fmt chunk");
  broken_audio("WAV", "no data chunk");
}

// MPEG audio frame header at p (4 bytes): returns the frame length in bytes, 0 if invalid.
std::size_t mp3_frame_length(const std::uint8_t* p) {
  if (p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return 0;
  int version = (p[1] >> 3) & 3;  // 0: 2.5, 1: reserved, 2: 2, 3: 1
  int layer = (p[1] >> 1) & 3;    // 1: III, 2: II, 3: I
  int bitrate_index = (p[2] >> 4) & 15;
  int rate_index = (p[2] >> 2) & 3;
  int padding = (p[2] >> 1) & 1;
  if (version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3)
    return 0;
  static constexpr int kbps_v1[3][16] = {
      {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},  // layer I
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},     // layer II
      {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}};     // layer III
  static constexpr int kbps_v2[3][16] = {
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
      {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
      {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}};
  static constexpr int rates[3] = {44100, 48000, 32000};
  int layer_row = 3 - layer;  // 0: I, 1: II, 2: III
  int kbps = version == 3 ? kbps_v1[layer_row][bitrate_index] : kbps_v2[layer_row][bitrate_index];
  int rate = rates[rate_index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
  if (layer_row == 0) return static_cast<std::size_t>((12 * kbps * 1000 / rate + padding) * 4);
  int coefficient = (layer_row == 2 && version != 3) ? 72 : 144;
  return static_cast<std::size_t>(coefficient * kbps * 1000 / rate + padding);
}

// ADTS (raw AAC) header at p (7 bytes): returns the frame length, 0 if invalid.
std::size_t adts_frame_length(const std::uint8_t* p) {
  if (p[0] != 0xFF || (p[1] & 0xF6) != 0xF0) return 0;  // sync, layer 00
  if (((p[2] >> 2) & 15) >= 13) return 0;               // sampling-frequency index
  std::size_t length = ((p[3] & 3u) << 11) | (p[4] << 3) | (p[5] >> 5);
  return length >= 7 ? length : 0;
}

// A frame header at `at` whose successor (if the file goes on) is also a valid header.
// Two frames in a row make a false match in random bytes very unlikely.
bool frames_chain(ByteFile& file, std::uint64_t at,
                  std::size_t (*frame_length)(const std::uint8_t*), std::size_t header_size) {
  auto first = file.read(at, header_size);
  if (first.size() < header_size) return false;
  std::size_t length = frame_length(first.data());
  if (length == 0) return false;
  if (at + length >= file.size()) return at + length == file.size();
  auto second = file.read(at + length, header_size);
  return second.size() == header_size && frame_length(second.data()) != 0;
}

std::optional<AudioSniff> sniff_audio(ByteFile& file) {
  auto head = file.read(0, 64);
  if (starts_with(head, 0, "RIFF") && starts_with(head, 8, "WAVE")) return sniff_wav(file);
  if (starts_with(head, 0, "fLaC")) return AudioSniff{AudioFormat::flac, "flac", std::nullopt};
  if (starts_with(head, 4, "ftyp")) {
    if (is_heif(head)) {
      fail(ErrorCode::unsupported_media_type, "The recording is a HEIF/AVIF picture, not sound.",
           kAudioField);
    }
    return AudioSniff{AudioFormat::m4a_aac, "mov", std::nullopt};
  }
  if (starts_with(head, 0, "OggS")) {
    // The first page's first packet names the codec: "\x01vorbis" or "OpusHead".
    if (head.size() < 27) broken_audio("Ogg", "the first page is cut short");
    std::uint64_t packet_at = 27 + head[26];
    auto packet = file.read(packet_at, 8);
    if (starts_with(packet, 0, "\x01vorbis"))
      return AudioSniff{AudioFormat::ogg_vorbis, "ogg", std::nullopt};
    if (starts_with(packet, 0, "OpusHead"))
      return AudioSniff{AudioFormat::ogg_opus, "ogg", std::nullopt};
    fail(ErrorCode::unsupported_media_type,
         "The recording is an Ogg file but neither Vorbis nor Opus; use WAV, MP3, FLAC, OGG "
         "(Vorbis/Opus) or M4A/AAC.",
         kAudioField);
  }

  // MP3 and raw AAC: skip an ID3v2 tag (10-byte header, syncsafe size, optional footer),
  // then look for two valid frame headers in a row near the start.
  std::uint64_t start = 0;
  bool tagged = false;
  if (starts_with(head, 0, "ID3") && head.size() >= 10) {
    std::uint64_t tag_size = (std::uint64_t{head[6] & 0x7Fu} << 21) | ((head[7] & 0x7Fu) << 14) |
                             ((head[8] & 0x7Fu) << 7) | (head[9] & 0x7Fu);
    start = 10 + tag_size + ((head[5] & 0x10) ? 10 : 0);
    tagged = true;
  }
  // Encoders put the first frame right after the tag; a little slack covers zero padding.
  constexpr std::uint64_t kSearch = 4096;
  auto window = file.read(start, kSearch + 8);
  for (std::size_t i = 0; i + 7 <= window.size() && i < kSearch; ++i) {
    if (window[i] != 0xFF) continue;
    if (frames_chain(file, start + i, adts_frame_length, 7)) {
      return AudioSniff{AudioFormat::m4a_aac, "aac", std::nullopt};
    }
    if (frames_chain(file, start + i, mp3_frame_length, 4)) {
      return AudioSniff{AudioFormat::mp3, "mp3", std::nullopt};
    }
    // Untagged files must start with a frame; searching further would find syncs in noise.
    if (!tagged) break;
  }
  if (tagged) {
    auto after_tag = file.read(start, 4);
    if (starts_with(after_tag, 0, "fLaC"))
      return AudioSniff{AudioFormat::flac, "flac", std::nullopt};
    broken_audio("MP3", "an ID3 tag but no audio frames after it");
  }
  return std::nullopt;
}

// A length over the limit, said so that it never reads as the limit itself: 300.04 s
// against 300 s is "300.04 s", not "300 s".
std::string describe_seconds(double seconds, double limit) {
  std::string text = plain_number(seconds);
  for (int decimals = 2; decimals <= 3 && std::stod(text) <= limit; ++decimals)
    text = fmt::format("{:.{}f}", seconds, decimals);
  return text;
}

[[noreturn]] void too_long(double seconds, const MediaLimits& limits) {
  fail(ErrorCode::audio_too_long,
       fmt::format("The recording is {} s long; the limit is {} s. Send a shorter one, or set 'duration' to use "
                   "only its first seconds.",
                   describe_seconds(seconds, limits.max_audio_seconds), plain_number(limits.max_audio_seconds)),
       kAudioField);
}

// Sums packet durations without decoding: used when the container does not state a
// length (or only estimates it from the bitrate). Reading packets costs no decoding and
// the upload's size limit bounds the file, so a recording over the limit is read to its
// end to say its true length (a 400 s file is "400 s long", not "300 s"). With `enough_s`
// set (the job uses only that many seconds), it stops as soon as that much is there.
double measure_by_packets(AVFormatContext* context, int stream_index, const MediaLimits& limits,
                          std::optional<double> enough_s) {
  AVStream* stream = context->streams[stream_index];
  av::Packet packet = av::make_packet();
  if (!packet) fail(ErrorCode::internal, "Out of memory while reading the recording.", kAudioField);
  std::int64_t first = AV_NOPTS_VALUE;
  std::int64_t end = 0;
  double seconds = 0;
  while (av_read_frame(context, packet.get()) >= 0) {
    if (packet->stream_index == stream_index) {
      std::int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
      if (pts != AV_NOPTS_VALUE) {
        if (first == AV_NOPTS_VALUE) first = pts;
        end = std::max(end, pts + packet->duration);
        seconds = static_cast<double>(end - first) * av_q2d(stream->time_base);
      } else {
        seconds += static_cast<double>(packet->duration) * av_q2d(stream->time_base);
      }
      if (enough_s && seconds >= *enough_s) {
        av_packet_unref(packet.get());
        return seconds;
      }
    }
    av_packet_unref(packet.get());
  }
  if (!enough_s && seconds > limits.max_audio_seconds) too_long(seconds, limits);
  return seconds;
}

// Decodes until the first audio frame: proves that the stream holds real audio.
bool decodes_one_frame(AVFormatContext* context, int stream_index) {
  av::Codec codec = av::open_decoder(context->streams[stream_index]);
  if (!codec) return false;
  av::Packet packet = av::make_packet();
  av::Frame frame = av::make_frame();
  if (!packet || !frame) return false;
  // Bounded: a stream that yields nothing in its first few hundred packets is broken.
  for (int packets = 0; packets < 500; ++packets) {
    int rc = av_read_frame(context, packet.get());
    bool flushing = rc < 0;
    if (!flushing && packet->stream_index != stream_index) {
      av_packet_unref(packet.get());
      continue;
    }
    avcodec_send_packet(codec.get(), flushing ? nullptr : packet.get());  // bad packets: keep going
    av_packet_unref(packet.get());
    if (avcodec_receive_frame(codec.get(), frame.get()) >= 0 && frame->nb_samples > 0) return true;
    if (flushing) return false;
  }
  return false;
}

}  // namespace

std::string_view format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::png:
      return "png";
    case ImageFormat::jpeg:
      return "jpeg";
    case ImageFormat::webp:
      return "webp";
  }
  return "unknown";
}

std::string_view format_name(AudioFormat format) {
  switch (format) {
    case AudioFormat::wav:
      return "wav";
    case AudioFormat::mp3:
      return "mp3";
    case AudioFormat::flac:
      return "flac";
    case AudioFormat::ogg_vorbis:
      return "ogg_vorbis";
    case AudioFormat::ogg_opus:
      return "ogg_opus";
    case AudioFormat::m4a_aac:
      return "m4a_aac";
  }
  return "unknown";
}

ImageInfo probe_image(const fs::path& path, const MediaLimits& limits) {
  ByteFile file(path);
  require_nonempty_file(file, path, kImageField);
  auto format = sniff_image(file.read(0, 16));
  if (!format) {
    // iPhones save HEIC by default: say so, since the user may not know the photo's format.
    fail(ErrorCode::unsupported_media_type,
         is_heif(file.read(0, 16))
             ? "The image is HEIC/AVIF, which is not supported; export it as JPEG or PNG."
             : "The image is not a PNG, JPEG or WebP file.",
         kImageField);
  }
  Size size;
  switch (*format) {
    case ImageFormat::png:
      size = png_size(file);
      break;
    case ImageFormat::jpeg:
      size = jpeg_size(file);
      break;
    case ImageFormat::webp:
      size = webp_size(file);
      break;
  }
  // A strip of a picture (1×40000) holds no face, and OpenCV's resizing and dlib's image
  // pyramid fail on it with assertion texts: refused from the header, before any decoding.
  const std::uint32_t longer = std::max(size.width, size.height), shorter = std::min(size.width, size.height);
  if (static_cast<double>(longer) > kMaxImageAspect * shorter) {
    fail(ErrorCode::unreadable_media,
         fmt::format("The image is {}×{} pixels: more than {} times as {} as it is {}, so it cannot frame a face. "
                     "Crop it closer to the portrait.",
                     size.width, size.height, plain_number(kMaxImageAspect),
                     size.width > size.height ? "wide" : "tall", size.width > size.height ? "tall" : "wide"),
         kImageField);
  }
  std::int64_t pixels = static_cast<std::int64_t>(size.width) * size.height;
  if (pixels > limits.max_image_pixels) {
    fail(ErrorCode::payload_too_large,
         fmt::format("The image is {}×{} pixels; the limit is {} megapixels.", size.width,
                     size.height, plain_number(static_cast<double>(limits.max_image_pixels) / 1e6)),
         kImageField);
  }
  return ImageInfo{*format, static_cast<int>(size.width), static_cast<int>(size.height)};
}

AudioInfo probe_audio(const fs::path& path, const MediaLimits& limits, std::optional<double> use_first_s) {
  ByteFile file(path);
  require_nonempty_file(file, path, kAudioField);
  auto sniff = sniff_audio(file);
  if (!sniff) {
    fail(ErrorCode::unsupported_media_type,
         "The recording is not a WAV, MP3, FLAC, OGG (Vorbis/Opus) or M4A/AAC file.", kAudioField);
  }
  std::string format_label(format_name(sniff->format));
  // The header's own statement is checked before libavformat reads anything further. A
  // job that uses only its first `use_first_s` seconds may send a longer recording.
  const bool length_limited = !use_first_s;
  if (length_limited && sniff->stated_duration_s && *sniff->stated_duration_s > limits.max_audio_seconds) {
    too_long(*sniff->stated_duration_s, limits);
  }

  av::route_ffmpeg_log();
  av::InputFormat context;
  if (int rc = av::open_input_as(context, path.string(), sniff->demuxer); rc < 0) {
    broken_audio(format_label, av::error_text(rc));
  }
  if (int rc = av::find_stream_info(context.get(), sniff->demuxer); rc < 0) {
    broken_audio(format_label, av::error_text(rc));
  }
  int stream_index = av_find_best_stream(context.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (stream_index < 0) broken_audio(format_label, "it has no audio stream");
  AVStream* stream = context->streams[stream_index];
  AudioInfo info{sniff->format, 0.0, stream->codecpar->sample_rate,
                 stream->codecpar->ch_layout.nb_channels};
  if (info.channels <= 0) broken_audio(format_label, "it has 0 channels");
  if (info.sample_rate <= 0) broken_audio(format_label, "its sample rate is 0 Hz");

  // A duration is a statement of the container when it comes from the header or the
  // stream's timestamps; a bitrate estimate is only a guess and is measured instead.
  std::optional<double> stated = sniff->stated_duration_s;
  if (!stated && context->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
      stated = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
    } else if (context->duration != AV_NOPTS_VALUE && context->duration > 0) {
      stated = static_cast<double>(context->duration) / AV_TIME_BASE;
    }
  }
  if (length_limited && stated && *stated > limits.max_audio_seconds) too_long(*stated, limits);

  if (!decodes_one_frame(context.get(), stream_index)) {
    broken_audio(format_label, "no audio could be decoded");
  }
  if (stated) {
    info.duration_s = *stated;
  } else {
    // Measuring reads the file from where decoding stopped; start over for a true total.
    if (avformat_seek_file(context.get(), -1, INT64_MIN, 0, 0, AVSEEK_FLAG_BACKWARD) < 0) {
      av::InputFormat reopened;
      if (int rc = av::open_input_as(reopened, path.string(), sniff->demuxer); rc < 0) {
        broken_audio(format_label, av::error_text(rc));
      }
      context = std::move(reopened);
    }
    info.duration_s = measure_by_packets(context.get(), stream_index, limits, use_first_s);
  }
  return info;
}

}  // namespace sonic::media
