// engine_bench: end-to-end speed of the classic engine (issues 3 and 14). For a 10 s clip at
// 512 and 1024 px it prints the real-time factor (seconds of video per second of wall time),
// frames/s, the output's size, the stage breakdown (load, detect, analyse, render, encode)
// and the CPU seconds the job used on all threads; the first of the repeats starts with an
// empty face cache (detect_cold), the others find the portrait's faces there (the same
// avatar again). Then: face detection on a 12-megapixel photo (cold), the SSIM of the encoded
// frames against the rendered ones, and the peak RSS of a 10 s and a 300 s job, each in a
// fresh process. The landmark model is loaded before timing starts (model load excluded).
// Also the floor under each figure: the encoder alone (colour conversion, x264 with the
// engine's settings, AAC, muxing) on the job's own frames, read into memory first.
// Render and encode run on two threads at once, so together they can exceed the wall time.
//
//   engine_bench [--seconds S] [--resolutions 512,1024] [--repeat N] [--no-long]
//                [--warp-kernel portable|avx2|avx512_vbmi]   (at most that warp kernel; A/B runs)
//   engine_bench --score AUDIO [--set key=value ...]   one job on AUDIO, then `score` it
//   engine_bench --generate OUT.mp4 [--audio A] [--image I] [--set key=value ...]   one job
//   engine_bench --stills PREFIX [--video V.mp4 | --audio A --image I --set k=v ...]
//       the frame with the widest mouth opening of a job (or of an existing video, e.g. one
//       an older build made) as PREFIX_frame.png, and its mouth zoomed 3× (nearest
//       neighbour, so every pixel shows) as PREFIX_zoom.png — the stills of docs/engine.md
//   engine_bench --synthesise-face medium|deep OUT.png [--image I]
//       a test face of another skin tone: the portrait with its skin re-toned and its lips
//       closed over the teeth (by this engine's own warp), so the opened mouth shows drawn teeth
//
// Inputs: portrait.png and the speech fixtures from $SONIC_FIXTURES (default: the
// shared/fixtures folder next to the source tree). Writes only to a temporary folder.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/classic/animation.h"
#include "engine/classic/classic_engine.h"
#include "engine/classic/face_warper.h"
#include "engine/classic/warp_span.h"
#include "face/face_cache.h"
#include "face/landmarks.h"
#include "engine/finish/video_finisher.h"
#include "media/audio.h"
#include "media/mp4_writer.h"
#include "media/image.h"
#include "media/video_reader.h"
#include "quality/score.h"
#include "util/error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace fs = std::filesystem;
using namespace sonic;

namespace {

fs::path fixtures_dir() {
  if (const char* env = std::getenv("SONIC_FIXTURES"); env && *env) return env;
  // Walk up from the executable (build/<dir>/bench/engine_bench) to the folder holding shared/.
  std::error_code ec;
  for (fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path())
    if (fs::exists(dir / "shared" / "fixtures" / "portrait.png")) return dir / "shared" / "fixtures";
  return "../shared/fixtures";
}

// 16-bit mono PCM WAV.
void write_wav(const fs::path& path, const std::vector<float>& samples, int rate) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<std::uint32_t>(samples.size() * 2);
  out.write("RIFF", 4); u32(36 + bytes); out.write("WAVEfmt ", 8); u32(16); u16(1); u16(1);
  u32(static_cast<std::uint32_t>(rate)); u32(static_cast<std::uint32_t>(rate * 2)); u16(2); u16(16);
  out.write("data", 4); u32(bytes);
  for (float s : samples) {
    const auto v = static_cast<std::int16_t>(std::clamp(s, -1.0f, 1.0f) * 32767.0f);
    out.write(reinterpret_cast<const char*>(&v), 2);
  }
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct TempFolder {
  fs::path path = fs::temp_directory_path() / ("engine-bench-" + std::to_string(::getpid()));
  TempFolder() { fs::create_directories(path); }
  ~TempFolder() { std::error_code ec; fs::remove_all(path, ec); }
};

engine::EngineResult run_job(const fs::path& image, const fs::path& audio, const fs::path& out,
                             const engine::GenerationParams& params) {
  engine::ClassicEngine classic;
  engine::CancelToken cancel;
  engine::JobInput job{image, audio, out, params, {}};
  return classic.generate(job, nullptr, cancel);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The floor under the whole job: the same encoder settings (finish::video_options) on the
// job's own frames, decoded into memory before the clock starts, with its audio. Returns
// {wall seconds, CPU seconds}.
std::pair<double, double> encoder_alone(const fs::path& video, const fs::path& audio, const fs::path& out, double seconds) {
  std::vector<cv::Mat> frames;
  media::VideoReader reader(video);
  for (cv::Mat frame; reader.read(frame);) frames.push_back(frame.clone());
  if (frames.empty()) return {0, 0};
  const int fps = 25;
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  media::AudioStream sound(audio, media::kRecordingRate, {}, seconds);
  media::Mp4Writer writer(out, engine::finish::video_options(frames.front().size(), fps, seconds, sound.sample_rate()), sound);
  for (int i = 0; i < writer.frame_count(); ++i) writer.write_frame(frames[static_cast<size_t>(std::min<int>(i, static_cast<int>(frames.size()) - 1))]);
  writer.finish();
  return {seconds_since(start), cpu_seconds() - cpu_start};
}

// A speech clip of `seconds`: the two fixture recordings back to back, repeated and cut to
// length, as a 16 kHz WAV at `path`.
void write_speech(const fs::path& path, double seconds) {
  const media::PcmAudio first = media::decode_audio(fixtures_dir() / "speech_en_7s.wav", 16000);
  const media::PcmAudio second = media::decode_audio(fixtures_dir() / "speech_en_5s.wav", 16000);
  media::PcmAudio speech = first;
  while (speech.duration_s() < seconds) {
    speech.samples.insert(speech.samples.end(), second.samples.begin(), second.samples.end());
    speech.samples.insert(speech.samples.end(), first.samples.begin(), first.samples.end());
  }
  speech = media::fit_to_duration(std::move(speech), seconds);
  write_wav(path, speech.samples, 16000);
}

// Mean SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5) of two 8-bit pictures' luma.
double ssim(const cv::Mat& a_bgr, const cv::Mat& b_bgr) {
  cv::Mat a, b;
  cv::cvtColor(a_bgr, a, cv::COLOR_BGR2GRAY);
  cv::cvtColor(b_bgr, b, cv::COLOR_BGR2GRAY);
  a.convertTo(a, CV_64F);
  b.convertTo(b, CV_64F);
  const double c1 = 6.5025, c2 = 58.5225;  // (0.01·255)², (0.03·255)²
  const auto blur = [](const cv::Mat& m) {
    cv::Mat out;
    cv::GaussianBlur(m, out, cv::Size(11, 11), 1.5);
    return out;
  };
  const cv::Mat mu_a = blur(a), mu_b = blur(b);
  const cv::Mat mu_aa = mu_a.mul(mu_a), mu_bb = mu_b.mul(mu_b), mu_ab = mu_a.mul(mu_b);
  const cv::Mat var_a = blur(a.mul(a)) - mu_aa, var_b = blur(b.mul(b)) - mu_bb, cov = blur(a.mul(b)) - mu_ab;
  cv::Mat num = (2 * mu_ab + c1).mul(2 * cov + c2), den = (mu_aa + mu_bb + c1).mul(var_a + var_b + c2);
  cv::Mat map;
  cv::divide(num, den, map);
  return cv::mean(map)[0];
}

// The job's frames rendered again (the same code, the same inputs) against the frames
// decoded from its video: mean and lowest SSIM.
std::pair<double, double> encoded_against_rendered(const fs::path& image, const fs::path& audio, const fs::path& video,
                                                   const engine::GenerationParams& params) {
  const cv::Mat picture = media::decode_image(image);
  media::PcmAudio analysis = media::decode_audio(audio, 16000);
  const double duration = params.duration_s.value_or(analysis.duration_s());
  analysis = media::fit_to_duration(std::move(analysis), duration);
  engine::classic::Animation animation(picture, engine::classic::face_for_job(picture, image, params), params, {}, analysis, duration);
  media::VideoReader reader(video);
  cv::Mat decoded, rendered;
  double sum = 0, lowest = 1;
  int n = 0;
  for (; reader.read(decoded); ++n) {
    animation.render(n, rendered);
    const double s = ssim(decoded, rendered);
    sum += s;
    lowest = std::min(lowest, s);
  }
  return {n > 0 ? sum / n : 0.0, lowest};
}

// This process's peak resident set (VmHWM) in kB, from /proc/self/status; -1 if unreadable.
long peak_rss_kb_of_this_process() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Peak RSS (MB) of one job on a clip of `seconds` at 512 px, in a fresh process (this binary
// with --rss-child), so no earlier job's memory counts. The child reports its own VmHWM: the
// kernel's ru_maxrss for a child also counts the parent's resident pages it had at fork and
// exec, which in this process include the frames held for the encoder-alone runs.
double peak_rss_of_job(double seconds) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const std::string command = "'" + self.string() + "' --rss-child " + std::to_string(seconds) + " 2>/dev/null";
  FILE* child = popen(command.c_str(), "r");
  if (!child) return -1;
  long kb = -1;
  char line[256];
  while (std::fgets(line, sizeof line, child))
    if (std::string(line).rfind("VmHWM_kB ", 0) == 0) kb = std::stol(std::string(line).substr(9));
  if (pclose(child) != 0 || kb < 0) return -1;
  return static_cast<double>(kb) / 1024.0;
}

// The frame of `video` whose mouth is open widest (by `score`'s measure) and a 3× zoom of the
// mouth, as PNGs.
void write_stills(const fs::path& video, const std::string& prefix) {
  const auto report = quality::score_video(video);
  size_t widest = 0;
  for (size_t i = 0; i < report.per_frame.size(); ++i)
    if (report.per_frame[i].mouth_opening > report.per_frame[widest].mouth_opening) widest = i;
  media::VideoReader reader(video);
  cv::Mat frame;
  for (size_t i = 0; i <= widest; ++i)
    if (!reader.read(frame)) throw Error(ErrorCode::internal, "the video ended before frame " + std::to_string(widest));
  const auto face = face::FaceLandmarker::shared().detect(frame);
  if (!face) throw Error(ErrorCode::no_face, "no face in frame " + std::to_string(widest));
  std::vector<cv::Point2f> mouth(face->points.begin() + 48, face->points.end());
  cv::Rect box = cv::boundingRect(mouth);
  const int margin_x = box.width * 35 / 100, margin_y = std::max(box.height * 45 / 100, box.width * 20 / 100);
  box = cv::Rect(box.x - margin_x, box.y - margin_y, box.width + 2 * margin_x, box.height + 2 * margin_y) & cv::Rect(0, 0, frame.cols, frame.rows);
  cv::Mat zoom;
  cv::resize(frame(box), zoom, cv::Size(), 3, 3, cv::INTER_NEAREST);
  const std::vector<int> png = {cv::IMWRITE_PNG_COMPRESSION, 9};
  cv::imwrite(prefix + "_frame.png", frame, png);
  cv::imwrite(prefix + "_zoom.png", zoom, png);
  std::printf("frame %zu of %zu, mouth opening %.3f -> %s_frame.png, %s_zoom.png (%dx%d)\n", widest, report.per_frame.size(),
              report.per_frame[widest].mouth_opening, prefix.c_str(), prefix.c_str(), zoom.cols, zoom.rows);
}

// The portrait as a face of another skin tone, with closed lips (see the usage above).
void synthesise_face(const fs::path& image, const std::string& tone, const fs::path& out) {
  const cv::Mat picture = media::decode_image(image);
  const auto face = face::FaceLandmarker::shared().detect(picture);
  if (!face) throw Error(ErrorCode::no_face, "no face in " + image.string());
  // Lips closed over the teeth by the engine's own warp (a lip closure, nothing else moving).
  const cv::Rect region = cv::Rect(face->box.x - face->box.width, face->box.y - face->box.height, face->box.width * 3,
                                   face->box.height * 3) & cv::Rect(0, 0, picture.cols, picture.rows);
  engine::classic::FaceWarper warper(picture.clone(), face->points, region);
  cv::Mat closed;
  warper.render({0.0, 0.0, 0.0, 1.0}, {}, closed);
  // Skin: the pixels of the cheeks' hue (a*, b* in Lab) around the face and neck, softly
  // masked; their lightness scaled and their hue moved to the target tone, so every shade and
  // highlight of the photo stays. Eyes, teeth, hair and background differ in hue and stay.
  cv::Mat lab;
  closed.convertTo(lab, CV_32F, 1.0 / 255.0);
  cv::cvtColor(lab, lab, cv::COLOR_BGR2Lab);
  const auto& p = face->points;
  const cv::Rect cheek = cv::boundingRect(std::vector<cv::Point2f>{p[1], p[3], p[31], p[29]});
  const cv::Scalar skin = cv::mean(lab(cheek & cv::Rect(0, 0, lab.cols, lab.rows)));
  if (tone != "deep" && tone != "medium") throw Error(ErrorCode::invalid_param, "the tone is medium or deep");
  const double target_l = tone == "deep" ? 36.0 : 56.0, target_a = tone == "deep" ? 13.0 : 15.0, target_b = tone == "deep" ? 18.0 : 24.0;
  const cv::Point2f centre = (p[27] + p[8]) * 0.5f;
  const float rx = 1.1f * cv::norm(p[16] - p[0]), ry = 1.6f * cv::norm(p[8] - p[27]);
  cv::Mat weight(lab.size(), CV_32F);
  for (int y = 0; y < lab.rows; ++y)
    for (int x = 0; x < lab.cols; ++x) {
      const auto& c = lab.at<cv::Vec3f>(y, x);
      const double hue = std::hypot((c[1] - skin[1]) / 9.0, (c[2] - skin[2]) / 11.0);
      const double r = std::hypot((x - centre.x) / rx, (y - centre.y) / ry);
      weight.at<float>(y, x) = static_cast<float>(std::clamp(1.8 - hue, 0.0, 1.0) * std::clamp((1.25 - r) / 0.25, 0.0, 1.0));
    }
  // Not the eyes: their whites are what the engine matches drawn teeth to.
  for (int first : {36, 42}) {
    std::vector<cv::Point> eye;
    for (int i = first; i < first + 6; ++i) eye.emplace_back(p[static_cast<size_t>(i)]);
    cv::fillPoly(weight, std::vector<std::vector<cv::Point>>{eye}, cv::Scalar(0));
  }
  cv::GaussianBlur(weight, weight, cv::Size(0, 0), 1.5);
  for (int y = 0; y < lab.rows; ++y)
    for (int x = 0; x < lab.cols; ++x) {
      const double w = weight.at<float>(y, x);
      if (w <= 0) continue;
      auto& c = lab.at<cv::Vec3f>(y, x);
      c[0] = static_cast<float>(c[0] + w * (target_l * c[0] / skin[0] - c[0]));
      c[1] = static_cast<float>(c[1] + w * (target_a - skin[1]));
      c[2] = static_cast<float>(c[2] + w * (target_b - skin[2]));
    }
  cv::cvtColor(lab, lab, cv::COLOR_Lab2BGR);
  cv::Mat result;
  lab.convertTo(result, CV_8U, 255.0);
  cv::imwrite(out.string(), result);
  std::printf("%s: %s skin, lips closed\n", out.c_str(), tone.c_str());
}

}  // namespace

int main(int argc, char** argv) try {
  double seconds = 10.0;
  std::vector<int> resolutions = {512, 1024};
  int repeat = 2;
  std::string score_audio, generate_out, generate_audio, image_override, stills_prefix, stills_video, tone, synthesised_out;
  double rss_child_seconds = 0;
  bool long_runs = true;
  nlohmann::json config = nlohmann::json::object();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--seconds") seconds = std::stod(next());
    else if (arg == "--repeat") repeat = std::max(1, std::stoi(next()));
    else if (arg == "--score") score_audio = next();
    else if (arg == "--generate") generate_out = next();
    else if (arg == "--audio") generate_audio = next();
    else if (arg == "--image") image_override = next();
    else if (arg == "--stills") stills_prefix = next();
    else if (arg == "--video") stills_video = next();
    else if (arg == "--synthesise-face") { tone = next(); synthesised_out = next(); }
    else if (arg == "--rss-child") rss_child_seconds = std::stod(next());
    else if (arg == "--no-long") long_runs = false;
    else if (arg == "--warp-kernel") {
      const std::string name = next();
      using engine::classic::WarpKernel;
      engine::classic::cap_warp_kernel(name == "portable" ? WarpKernel::portable
                                       : name == "avx2"   ? WarpKernel::avx2
                                                          : WarpKernel::avx512_vbmi);
    }
    else if (arg == "--set") { auto [k, v] = engine::parse_assignment(next()); config[k] = v; }
    else if (arg == "--resolutions") {
      resolutions.clear();
      std::string list = next();
      for (size_t pos = 0; pos < list.size();) {
        const size_t comma = list.find(',', pos);
        resolutions.push_back(std::stoi(list.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else {
      std::cerr << "usage: engine_bench [--seconds S] [--resolutions 512,1024] [--repeat N] [--no-long]\n"
                   "                    [--warp-kernel portable|avx2|avx512_vbmi]\n"
                   "       engine_bench --score AUDIO [--set k=v]...\n"
                   "       engine_bench --generate OUT.mp4 [--audio A] [--image I] [--set k=v]...\n"
                   "       engine_bench --stills PREFIX [--video V.mp4 | --audio A --image I --set k=v...]\n"
                   "       engine_bench --synthesise-face medium|deep OUT.png [--image I]\n";
      return 2;
    }
  }
  TempFolder temp;
  const fs::path image = image_override.empty() ? fixtures_dir() / "portrait.png" : fs::path(image_override);
  face::FaceLandmarker::shared();  // model load is not part of the figures

  if (rss_child_seconds > 0) {  // one job in this fresh process; the parent reads its peak RSS
    write_speech(temp.path / "speech.wav", rss_child_seconds);
    engine::GenerationParams params;
    run_job(image, temp.path / "speech.wav", temp.path / "rss.mp4", params);
    std::printf("VmHWM_kB %ld\n", peak_rss_kb_of_this_process());
    return 0;
  }

  if (!synthesised_out.empty()) {
    synthesise_face(image, tone, synthesised_out);
    return 0;
  }
  if (!stills_prefix.empty()) {
    fs::path video = stills_video;
    if (video.empty()) {
      video = temp.path / "stills.mp4";
      run_job(image, generate_audio.empty() ? fixtures_dir() / "speech_en_5s.wav" : fs::path(generate_audio), video,
              engine::apply_config({}, config));
    }
    write_stills(video, stills_prefix);
    return 0;
  }
  if (!generate_out.empty()) {  // one job, for stills and experiments
    const auto result = run_job(image, generate_audio.empty() ? fixtures_dir() / "speech_en_5s.wav" : fs::path(generate_audio),
                                generate_out, engine::apply_config({}, config));
    std::cout << result.to_json().dump(2) << "\n";
    return 0;
  }

  if (!score_audio.empty()) {
    const auto params = engine::apply_config({}, config);
    const fs::path out = temp.path / "scored.mp4";
    const auto result = run_job(image, score_audio, out, params);
    auto report = quality::score_video(out);
    nlohmann::json j = report.to_json();
    j["stage_seconds"] = result.stage_seconds;
    if (const char* dump = std::getenv("ENGINE_BENCH_FRAMES"); dump && *dump) {  // per-frame series for plots
      std::ofstream series(dump);
      for (size_t i = 0; i < report.per_frame.size(); ++i)
        series << i << " " << report.per_frame[i].mouth_opening << " "
               << (i < report.loudness_dbfs.size() ? report.loudness_dbfs[i] : 0.0) << "\n";
    }
    std::cout << j.dump(2) << "\n";
    if (const char* keep = std::getenv("ENGINE_BENCH_KEEP"); keep && *keep) fs::copy_file(out, keep, fs::copy_options::overwrite_existing);
    return 0;
  }

  const fs::path audio = temp.path / "speech.wav";
  write_speech(audio, seconds);

  std::printf("classic engine, %.1f s clip at 25 fps (%d frames), portrait.png, best of %d (the first with an empty face cache), "
              "warp kernel %s\n",
              seconds, static_cast<int>(seconds * 25 + 0.5), repeat, engine::classic::warp_kernel_name(engine::classic::warp_kernel()));
  std::printf("%6s %8s %8s %8s %8s %8s | %7s %7s %7s %7s %7s %7s\n", "px", "wall_s", "rt_x", "fps", "size_kB", "cpu_s", "load",
              "detect", "d_cold", "analyse", "render", "encode");
  std::vector<std::tuple<int, double, double>> encoder_floor_lines;
  for (int resolution : resolutions) {
    engine::GenerationParams params;
    params.min_resolution = resolution;
    double best = 1e9, best_cpu = 0, cold_detect = 0;
    engine::EngineResult best_result;
    for (int r = 0; r < repeat; ++r) {
      if (r == 0) face::clear_face_cache();
      const double cpu_start = cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      auto result = run_job(image, audio, temp.path / "bench.mp4", params);
      const double wall = seconds_since(start), cpu = cpu_seconds() - cpu_start;
      if (r == 0) cold_detect = result.stage_seconds["detect"];
      if (wall < best) {
        best = wall;
        best_cpu = cpu;
        best_result = result;
      }
    }
    auto stage = [&](const char* name) { return best_result.stage_seconds.count(name) ? best_result.stage_seconds.at(name) : 0.0; };
    std::error_code ec;
    const auto bytes = fs::file_size(best_result.output_path, ec);
    std::printf("%6d %8.3f %8.2f %8.1f %8.0f %8.2f | %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f\n", resolution, best, seconds / best,
                best_result.frames / best, ec ? 0.0 : static_cast<double>(bytes) / 1000.0, best_cpu, stage("load"), stage("detect"),
                cold_detect, stage("analyse"), stage("render"), stage("encode"));
    double floor_wall = 1e9, floor_cpu = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto [wall, cpu] = encoder_alone(best_result.output_path, audio, temp.path / "encoder.mp4", seconds);
      if (wall < floor_wall) floor_wall = wall, floor_cpu = cpu;
    }
    encoder_floor_lines.push_back({resolution, floor_wall, floor_cpu});
  }
  // What encoding alone costs: no job can be faster than its encoder on these two cores.
  for (const auto& [resolution, wall, cpu] : encoder_floor_lines)
    std::printf("the encoder alone at %d px (the job's frames from memory, same settings, with the audio): %.3f s wall "
                "(%.2f x real time), %.2f s CPU\n",
                resolution, wall, seconds / wall, cpu);

  // Face detection on a 12-megapixel photo: the portrait scaled to 4000×3000, as a JPEG.
  {
    cv::Mat big;
    cv::resize(media::decode_image(image), big, cv::Size(4000, 3000), 0, 0, cv::INTER_CUBIC);
    const fs::path photo = temp.path / "12mp.jpg";
    cv::imwrite(photo.string(), big, {cv::IMWRITE_JPEG_QUALITY, 92});
    const cv::Mat decoded = media::decode_image(photo);
    double best_wall = 1e9, best_cpu = 0;
    size_t found = 0;
    for (int r = 0; r < 3; ++r) {
      face::clear_face_cache();
      const double cpu_start = cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      found = face::faces_in_picture("12mp", decoded)->size();
      const double wall = seconds_since(start);
      if (wall < best_wall) best_wall = wall, best_cpu = cpu_seconds() - cpu_start;
    }
    std::printf("face detection, 12 MP photo (4000x3000, decoded first): %.0f ms wall, %.0f ms CPU, %zu face(s); "
                "again from the cache: ",
                best_wall * 1000, best_cpu * 1000, found);
    const auto start = std::chrono::steady_clock::now();
    face::faces_in_picture("12mp", decoded);
    std::printf("%.3f ms\n", seconds_since(start) * 1000);
  }

  // The encoded frames against the rendered ones.
  {
    engine::GenerationParams params;
    params.min_resolution = resolutions.empty() ? 512 : resolutions.front();
    params.duration_s = seconds;
    const fs::path video = temp.path / "ssim.mp4";
    run_job(image, audio, video, params);
    const auto [mean, lowest] = encoded_against_rendered(image, audio, video, params);
    std::printf("SSIM of the encoded frames against the rendered ones (%d px, luma): mean %.4f, lowest %.4f\n",
                params.min_resolution, mean, lowest);
  }

  if (long_runs) {
    const double short_rss = peak_rss_of_job(10), long_rss = peak_rss_of_job(300);
    std::printf("peak RSS of one 512 px job in a fresh process: 10 s clip %.1f MB, 300 s clip %.1f MB (%+.1f %%)\n", short_rss,
                long_rss, 100.0 * (long_rss - short_rss) / short_rss);
  }
  std::printf("peak RSS of this process %.1f MB (it held each resolution's frames for the encoder-alone runs)\n", peak_rss_mb());
  return 0;
} catch (const sonic::Error& e) {
  std::cerr << "engine_bench: " << e.code_name() << ": " << e.what() << "\n";
  return 1;
}
