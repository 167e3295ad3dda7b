// FFmpeg prints to stderr by default; route it into our JSON log so one stream holds
// everything and FFmpeg's chatter about damaged input stays at debug level.
#include <cstdio>
#include <mutex>
#include <string>

#include "media/av_handles.h"
#include "util/log.h"

namespace sonic::media::av {
namespace {

void callback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > av_log_get_level()) return;
  char line[1024];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  // Decoder complaints describe the user's file, not our health: debug, not error.
  log::Level ours = level <= AV_LOG_PANIC ? log::Level::warn : log::Level::debug;
  log::write(ours, "ffmpeg", {{"ffmpeg", text}});
}

}  // namespace

void route_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(callback);
  });
}

}  // namespace sonic::media::av
