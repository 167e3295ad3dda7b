// Probe: what a file really is, decided from its bytes (magic numbers plus a real parse),
// never from its name or a declared MIME type.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "media/limits.h"

namespace sonic::media {

enum class ImageFormat { png, jpeg, webp };
enum class AudioFormat { wav, mp3, flac, ogg_vorbis, ogg_opus, m4a_aac };

std::string_view format_name(ImageFormat format);  // "png", "jpeg", "webp"
std::string_view format_name(AudioFormat format);  // "wav", "mp3", "flac", "ogg_vorbis", …

struct ImageInfo {
  ImageFormat format;
  int width = 0;   // as stored, before EXIF orientation
  int height = 0;
};

struct AudioInfo {
  AudioFormat format;
  double duration_s = 0;  // as the container states it, or measured when it does not
  int sample_rate = 0;
  int channels = 0;
};

// Throws Error: unsupported_media_type (not one of our image formats), unreadable_media
// (right magic but broken header, or a strip more than 8 times as long as it is wide, which
// cannot frame a face), payload_too_large (over limits.max_image_pixels: the size is read
// from the header, no pixel is decoded). `field` names the form field ("image").
ImageInfo probe_image(const std::filesystem::path& path, const MediaLimits& limits = {});

// Throws Error: unsupported_media_type, unreadable_media (no audio stream, zero channels or
// rate, nothing decodable), audio_too_long (over limits.max_audio_seconds, the message
// stating the recording's true length). `field` is "audio".
// `use_first_s`: the job uses only the recording's first this many seconds (its `duration`,
// itself within the limit), so a longer recording is accepted — the upload's size limit
// still bounds the file — and a length that has to be measured is measured only that far
// (duration_s is then at least use_first_s, not the whole length).
AudioInfo probe_audio(const std::filesystem::path& path, const MediaLimits& limits = {},
                      std::optional<double> use_first_s = std::nullopt);

}  // namespace sonic::media
