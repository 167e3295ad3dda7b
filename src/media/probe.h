// Probe: what a file really is, decided from its bytes (magic numbers plus a real parse),
// never from its name or a declared MIME type.
#pragma once

#include <filesystem>
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
// (right magic but broken header), payload_too_large (over limits.max_image_pixels: the
// size is read from the header, no pixel is decoded). `field` names the form field ("image").
ImageInfo probe_image(const std::filesystem::path& path, const MediaLimits& limits = {});

// Throws Error: unsupported_media_type, unreadable_media (no audio stream, zero channels or
// rate, nothing decodable), audio_too_long (over limits.max_audio_seconds when the container
// states its length). `field` is "audio".
AudioInfo probe_audio(const std::filesystem::path& path, const MediaLimits& limits = {});

}  // namespace sonic::media
