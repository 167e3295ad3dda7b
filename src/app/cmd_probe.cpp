// `sonic-server probe FILE [--json]`: says what a media file really is, by the same code
// the server uses on uploads, so a user can check a file before sending it. Exit codes:
// 0 = a supported image or recording, 2 = refused (the Error's code and message printed).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "media/probe.h"
#include "util/error.h"

namespace sonic::app {
namespace {

struct ProbeOptions {
  std::string file;
  bool json = false;
};

// Image first, then audio; a file that is neither gets one message naming both kinds.
nlohmann::json probe_file(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(file, ec) && std::filesystem::file_size(file, ec) == 0) {
    throw Error(ErrorCode::unsupported_media_type, "The file is empty.");
  }
  try {
    media::ImageInfo image = media::probe_image(file);
    return {{"kind", "image"},
            {"format", media::format_name(image.format)},
            {"width", image.width},
            {"height", image.height}};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::unsupported_media_type) throw;
  }
  try {
    media::AudioInfo audio = media::probe_audio(file);
    return {{"kind", "audio"},
            {"format", media::format_name(audio.format)},
            {"duration_s", audio.duration_s},
            {"sample_rate", audio.sample_rate},
            {"channels", audio.channels}};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::unsupported_media_type) throw;
    throw Error(ErrorCode::unsupported_media_type,
                "The file is neither a supported image (PNG, JPEG, WebP) nor a supported recording "
                "(WAV, MP3, FLAC, OGG Vorbis/Opus, M4A/AAC).");
  }
}

void run_probe(const ProbeOptions& options) {
  try {
    nlohmann::json info = probe_file(options.file);
    if (options.json) {
      info["success"] = true;
      std::cout << info.dump() << "\n";
    } else if (info["kind"] == "image") {
      std::cout << "image " << info["format"].get<std::string>() << " " << info["width"].get<int>()
                << "x" << info["height"].get<int>() << "\n";
    } else {
      std::cout << "audio " << info["format"].get<std::string>() << " "
                << info["duration_s"].get<double>() << " s, " << info["sample_rate"].get<int>()
                << " Hz, " << info["channels"].get<int>() << " channel(s)\n";
    }
  } catch (const Error& e) {
    if (options.json) {
      nlohmann::json out = {{"success", false}, {"code", e.code_name()}, {"error", e.message()}};
      if (!e.field().empty()) out["field"] = e.field();
      std::cout << out.dump() << "\n";
    } else {
      std::cerr << e.code_name() << ": " << e.message() << "\n";
    }
    throw CLI::RuntimeError(2);  // CLI11 turns this into the exit code, printing nothing more
  }
}

}  // namespace

void add_probe_command(CLI::App& app) {
  auto options = std::make_shared<ProbeOptions>();
  CLI::App* probe =
      app.add_subcommand("probe", "Say what a media file really is (type from its bytes)");
  probe->add_option("file", options->file, "Image or audio file")->required();
  probe->add_flag("--json", options->json, "Print one JSON object");
  probe->callback([options] { run_probe(*options); });
}

}  // namespace sonic::app
