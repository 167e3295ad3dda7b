// ExternalEngine::generate and the hand-off files (see external_engine.h).
#include "engine/external/external_engine.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <random>

#include "engine/external/engine_declaration.h"
#include "engine/face_check.h"
#include "engine/finish/video_finisher.h"
#include "media/audio.h"
#include "face/face_cache.h"
#include "media/image.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sha256.h"

namespace sonic::engine::external {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// The engine's share of a job's progress; finishing is the rest.
constexpr double kEngineShare = 0.9;
constexpr int kHandOffSampleRate = 16000;

std::string random_id() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}", device(), device());
}

// The job's private folder, removed with everything in it when the object dies.
class WorkFolder {
 public:
  explicit WorkFolder(fs::path wanted) {
    std::error_code ec;
    if (wanted.empty()) {
      std::string pattern = (fs::temp_directory_path(ec) / "sonic-engine-XXXXXX").string();
      if (!::mkdtemp(pattern.data())) throw Error(ErrorCode::internal, "Cannot create a work folder for the engine.");
      path_ = pattern;
    } else {
      fs::create_directories(wanted, ec);
      if (ec) throw Error(ErrorCode::internal, "Cannot create the work folder " + wanted.string() + ": " + ec.message());
      ::chmod(wanted.c_str(), 0700);
      path_ = wanted;
    }
    path_ = fs::canonical(path_, ec);
  }
  ~WorkFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) log::warn("cannot remove an engine work folder", {{"path", path_.string()}, {"error", ec.message()}});
  }
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void add_ignored(std::vector<IgnoredParam>& to, const std::vector<IgnoredParam>& from) {
  for (const auto& item : from)
    if (std::none_of(to.begin(), to.end(), [&](const IgnoredParam& p) { return p.name == item.name; }))
      to.push_back(item);
}

}  // namespace

std::vector<IgnoredParam> ExternalEngine::choose_face(const cv::Mat& picture, const fs::path& image,
                                                      GenerationParams& params) const {
  if (params.face_index <= 0 || params.face_box) return {};
  const auto& accepted = parameters().accepted;
  if (std::find(accepted.begin(), accepted.end(), "face_box") == accepted.end())
    return {{"face_index", "this engine finds the face itself and takes no face_box to be told another"}};
  // The same detection as POST /api/faces and the classic engine (cached by the picture's
  // sha256), so face_index names the same face everywhere.
  const auto faces = face::faces_in_picture(sha256_file_hex(image), picture);
  const cv::Rect box = speaking_face(*faces, params.face_index).box;
  params.face_box = std::array<int, 4>{box.x, box.y, box.width, box.height};
  return {};
}

void write_wav(const fs::path& path, const media::PcmAudio& audio) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::internal, "Cannot write " + path.string() + ".");
  const auto samples = static_cast<std::uint32_t>(audio.samples.size());
  const std::uint32_t data_bytes = samples * 2, rate = static_cast<std::uint32_t>(audio.sample_rate);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };  // little-endian host
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(36 + data_bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(data_bytes);
  std::vector<std::int16_t> pcm(samples);
  for (std::size_t i = 0; i < samples; ++i)
    pcm[i] = static_cast<std::int16_t>(std::lround(std::clamp(audio.samples[i], -1.0f, 1.0f) * 32767.0f));
  out.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size() * 2));
  if (!out) throw Error(ErrorCode::internal, "Cannot write " + path.string() + ".");
}

EngineProcessSettings process_settings(const EngineDeclaration& d) {
  EngineProcessSettings s;
  s.name = d.name;
  s.spawn.argv = d.command;
  std::map<std::string, std::string> extra = {
      {"PYTHONUNBUFFERED", "1"}, {"SONIC_ENGINE_NAME", d.name}, {"SONIC_ENGINE_PROTOCOL", std::to_string(kProtocolVersion)}};
  for (const auto& [k, v] : d.env) extra[k] = v;
  s.spawn.environment = engine_environment(extra);
  s.spawn.working_dir = d.working_dir;
  s.slots = d.slots;
  auto ms = [](double seconds) { return std::chrono::milliseconds(static_cast<long long>(seconds * 1000)); };
  s.ready_timeout = ms(d.ready_timeout_s);
  s.cancel_timeout = ms(d.cancel_timeout_s);
  s.stall_timeout = ms(d.stall_timeout_s);
  s.backoff_min = ms(d.restart_backoff_s);
  s.backoff_max = std::max(s.backoff_min, std::chrono::milliseconds(60000));
  return s;
}

ExternalEngine::ExternalEngine(std::string name, std::shared_ptr<EngineProcess> process)
    : name_(std::move(name)), process_(std::move(process)) {}

std::string ExternalEngine::version() const {
  auto s = process_->status();
  return s.ready ? s.ready->version : std::string();
}

std::string ExternalEngine::description() const {
  auto s = process_->status();
  if (s.ready && !s.ready->description.empty()) return s.ready->description;
  return "External engine '" + name_ + "' (" + fmt::format("{}", fmt::join(process_->settings().spawn.argv, " ")) + ")";
}

EngineParameters ExternalEngine::parameters() const {
  auto s = process_->status();
  return s.ready ? s.ready->parameters : EngineParameters{};
}

EngineStatus ExternalEngine::status() const {
  auto s = process_->status();
  EngineStatus out;
  out.kind = "external";
  out.state = s.state;
  out.reason = s.reason;
  out.refuses_jobs = s.state == EngineState::crashed && s.start_failed;
  if (s.ready) {
    out.device = s.ready->device;
    out.limits = s.ready->limits;
  }
  if (!s.last_device.empty()) out.device = s.last_device;
  out.slots = process_->settings().slots;
  out.restarts = s.restarts;
  out.restart_in_s = s.restart_in_s;
  out.jobs_succeeded = s.jobs_succeeded;
  out.jobs_failed = s.jobs_failed;
  out.memory_kind = s.memory_kind;
  out.last_peak_memory_bytes = s.last_peak_memory_bytes;
  out.max_peak_memory_bytes = s.max_peak_memory_bytes;
  return out;
}

EngineResult ExternalEngine::generate(const JobInput& job, const ProgressCallback& progress, const CancelToken& cancel) {
  const auto report = [&](const std::string& stage, double fraction) {
    if (progress) progress(stage, std::clamp(fraction, 0.0, 1.0));
  };
  EngineResult result;
  result.engine = name_;
  result.params = job.params;
  result.params.engine = name_;
  const std::string job_id = job.job_id.empty() ? random_id() : job.job_id;

  // load: the picture (for paste-back) and the audio fitted to the duration, twice (the
  // engine's 16 kHz hand-off and analysis copy, and the output's track at the recording's
  // own rate, which the writer keeps where AAC stores it well: media::aac_track_rate).
  auto stage_start = Clock::now();
  report("load", 0.0);
  cv::Mat picture = media::decode_image(job.image, job.limits);
  const std::vector<IgnoredParam> face_ignored = choose_face(picture, job.image, result.params);
  media::PcmAudio analysis = media::decode_audio(job.audio, kHandOffSampleRate, job.limits);
  media::PcmAudio output_audio = media::decode_audio(job.audio, media::kRecordingRate, job.limits);
  const double duration = job.params.duration_s.value_or(analysis.duration_s());
  if (duration <= 0)
    throw Error(ErrorCode::unreadable_media, "The audio holds no sound samples. Upload a recording with speech in it.",
                "audio");
  analysis = media::fit_to_duration(std::move(analysis), duration);
  output_audio = media::fit_to_duration(std::move(output_audio), duration);
  result.params.duration_s = duration;
  cancel.throw_if_canceled();

  WorkFolder work(job.work_dir);
  const fs::path audio_path = work.path() / "audio.wav";
  write_wav(audio_path, analysis);
  result.stage_seconds["load"] = std::chrono::duration<double>(Clock::now() - stage_start).count();
  report("load", 0.02);

  // engine
  stage_start = Clock::now();
  const int frames = static_cast<int>(std::lround(duration * result.params.fps));
  nlohmann::json fields = {{"image", fs::absolute(job.image).string()},
                           {"audio", audio_path.string()},
                           {"work_dir", work.path().string()},
                           {"params", result.params.to_json()},
                           {"output", {{"fps", result.params.fps}, {"frames", frames}}}};
  DoneMessage done = process_->run_job(
      job_id, fields,
      [&](const ProgressMessage& p) { report(p.stage, 0.02 + (kEngineShare - 0.02) * p.fraction); }, cancel);
  result.stage_seconds["engine"] = std::chrono::duration<double>(Clock::now() - stage_start).count();
  for (const auto& [stage, seconds] : done.stage_seconds) result.stage_seconds["engine_" + stage] = seconds;
  cancel.throw_if_canceled();

  // The frames must be the engine's own work for this job, inside its work folder.
  std::error_code ec;
  const fs::path frames_path = fs::weakly_canonical(fs::path(done.frames.path), ec);
  const std::string root = work.path().string() + "/";
  if (ec || frames_path.string().rfind(root, 0) != 0)
    throw Error(ErrorCode::engine_failed,
                fmt::format("The engine '{}' handed back frames outside the job's work folder.", name_));

  // finish
  finish::FinishJob finishing;
  finishing.frames_path = frames_path;
  finishing.raw_rgb24 = done.frames.format == FrameOutput::Format::rgb24;
  finishing.frames_fps = done.frames.fps;
  if (done.crop_box) {
    const auto [x, y, w, h] = *done.crop_box;
    finishing.crop_box = cv::Rect(x, y, w, h);
  }
  finishing.picture = std::move(picture);
  finishing.output_audio = std::move(output_audio);
  finishing.analysis_audio = std::move(analysis);
  finishing.params = result.params;
  finishing.limits = job.limits;
  finishing.output = job.output;
  const finish::FinishReport finished = finish::finish_video(
      finishing, [&](const std::string& stage, double f) { report(stage, kEngineShare + (1 - kEngineShare) * f); },
      cancel);
  for (const auto& [stage, seconds] : finished.stage_seconds) result.stage_seconds[stage] = seconds;

  result.output_path = job.output;
  result.frames = finished.frames;
  result.width = finished.size.width;
  result.height = finished.size.height;
  result.fps = result.params.fps;
  result.duration_s = duration;
  result.engine_version = version();
  result.ignored = parameters().ignored;
  add_ignored(result.ignored, face_ignored);
  add_ignored(result.ignored, done.ignored);
  add_ignored(result.ignored, finished.ignored);
  result.device = done.device;
  result.peak_memory_bytes = done.peak_memory_bytes;
  result.memory_kind = done.memory_kind;
  result.align_mouth = finished.align_mouth;
  if (done.crop_box) result.crop_box = *done.crop_box;
  log::info("external engine finished",
            {{"engine", name_}, {"job_id", job_id}, {"frames", result.frames}, {"width", result.width},
             {"height", result.height}, {"device", result.device},
             {"peak_memory_bytes", result.peak_memory_bytes ? nlohmann::json(*result.peak_memory_bytes) : nlohmann::json()},
             {"memory_kind", result.memory_kind}, {"stage_seconds", result.stage_seconds}});
  return result;
}

}  // namespace sonic::engine::external
