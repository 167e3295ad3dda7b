// One job on a worker (see worker_run.h).
#include "jobs/remote/worker_run.h"

#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <optional>

#include "jobs/engine_progress.h"
#include "jobs/job.h"
#include "jobs/sha256.h"
#include "util/log.h"

namespace sonic::jobs::remote {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Sleeps `wait` unless `stop` is requested first; true when the full time passed.
bool sleep_unless(std::stop_token stop, std::chrono::milliseconds wait) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  return !cv.wait_for(lock, stop, wait, [] { return false; }) && !stop.stop_requested();
}

}  // namespace

std::string encode_result_header(const json& result) {
  std::string text = result.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : text) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(buffer >> bits) & 63];
    }
  }
  if (bits > 0) out += kBase64Url[(buffer << (6 - bits)) & 63];
  return out;
}

std::optional<json> decode_result_header(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* at = std::strchr(kBase64Url, c);
    if (c == '\0' || !at) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(at - kBase64Url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

WorkerRun::WorkerRun(RemoteWorker& w, HeldEntry h, WorkerSlot& s, int index)
    : worker(w), held(std::move(h)), slot(s), slot_index(index), started_ms_(now_ms()) {
  for (const auto& [k, v] : held.fields)
    if (k == "attempt") attempt_ = std::atoi(v.c_str());
}

void WorkerRun::request_stop(RunStop why) {
  int none = static_cast<int>(RunStop::none);
  if (!stop_.compare_exchange_strong(none, static_cast<int>(why)) && why == RunStop::canceled) {
    int hand_back = static_cast<int>(RunStop::hand_back);
    stop_.compare_exchange_strong(hand_back, static_cast<int>(why));
  }
  token.cancel();
}

json WorkerRun::status() const {
  std::lock_guard lock(mutex_);
  return {{"job_id", held.job_id}, {"attempt", attempt_},  {"delivery", held.delivery}, {"entry", held.entry_id},
          {"engine", held.engine}, {"stage", stage_},      {"progress", progress_},     {"started_at_ms", started_ms_}};
}

void WorkerRun::set_stage(const std::string& stage, double progress) {
  bool changed;
  {
    std::lock_guard lock(mutex_);
    changed = stage != stage_;
    stage_ = stage;
    progress_ = progress;
  }
  if (changed) worker.run_changed();
}

LeaseState WorkerRun::post(StreamLeases::PostMode mode, const std::string& type, json data, std::stop_token stop) {
  WorkerEvent event;
  event.type = type;
  event.job_id = held.job_id;
  event.attempt = attempt_;
  event.entry = held.entry_id;
  event.delivery = held.delivery;
  event.worker = held.consumer;
  event.data = std::move(data);
  for (;;) {
    try {
      return worker.leases_.post(*slot.redis, held, mode, event.to_fields());
    } catch (const RedisUnavailable& e) {
      if (mode == StreamLeases::PostMode::progress) return LeaseState::held;  // the next one will do
      log::warn("cannot post a job event yet; retrying", {{"job_id", held.job_id}, {"type", type}, {"error", e.message()}});
      slot.redis->wait_backoff(stop);
      if (stop.stop_requested()) return LeaseState::lost;
    } catch (const RedisReplyError& e) {
      // NOGROUP and the like: Redis lost the stream. The lease is gone with it.
      log::warn("job event refused by Redis", {{"job_id", held.job_id}, {"type", type}, {"error", e.message()}});
      return LeaseState::lost;
    }
  }
}

bool WorkerRun::pause_before_retry(std::chrono::milliseconds& wait, std::stop_token stop) {
  if (stop_reason() != RunStop::none) return false;
  bool slept = sleep_unless(stop, wait);
  wait = std::min<std::chrono::milliseconds>(wait * 2, 10s);
  return slept && stop_reason() == RunStop::none;
}

bool WorkerRun::fetch(const RemoteInput& input, const fs::path& to, std::string& failure, std::stop_token stop) {
  std::chrono::milliseconds wait = 250ms;
  int corrupt = 0;
  for (;;) {
    TransferOutcome got = worker.files_.download(input.url, to, input.bytes > 0 ? input.bytes : UINT64_MAX);
    if (got.ok()) {
      std::error_code ec;
      auto size = fs::file_size(to, ec);
      std::string digest = ec ? std::string() : sha256_file_hex(to);
      if (!ec && digest == input.sha256 && (input.bytes == 0 || size == input.bytes)) return true;
      // Damaged on the way (or changed under us): fetch again, a few times.
      log::warn("input does not match its sha256; fetching again",
                {{"job_id", held.job_id}, {"input", input.name}, {"expected", input.sha256}, {"got", digest}});
      if (++corrupt >= 3) {
        failure = "The input " + input.name + " arrived damaged three times (sha256 mismatch).";
        return false;
      }
    } else if (got.kind == TransferOutcome::Kind::refused) {
      failure = "The server refused the input " + input.name + " (HTTP " + std::to_string(got.status) + "): " + got.message;
      return false;
    } else {
      log::warn("cannot fetch an input yet; retrying",
                {{"job_id", held.job_id}, {"status", got.status}, {"error", got.message}, {"retry_ms", wait.count()}});
    }
    if (!pause_before_retry(wait, stop)) return false;
  }
}

bool WorkerRun::upload(const JobMessage& message, const fs::path& video, const json& result, std::string& failure,
                       std::stop_token stop) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"X-Sonic-Worker", held.consumer},
      {"X-Sonic-Delivery", std::to_string(held.delivery)},
      {"X-Sonic-Result", encode_result_header(result)},
      {"X-Sonic-Sha256", sha256_file_hex(video)},
      {"Content-Type", "video/mp4"}};
  std::chrono::milliseconds wait = 250ms;
  for (;;) {
    TransferOutcome sent = worker.files_.upload(message.result_url, video, headers);
    if (sent.ok()) return true;
    if (sent.kind == TransferOutcome::Kind::refused) {
      failure = "The server refused the result (HTTP " + std::to_string(sent.status) + "): " + sent.message;
      return false;
    }
    log::warn("cannot upload the result yet; retrying",
              {{"job_id", held.job_id}, {"status", sent.status}, {"error", sent.message}, {"retry_ms", wait.count()}});
    if (!pause_before_retry(wait, stop)) return false;
  }
}

void WorkerRun::end_early(std::stop_token stop) {
  switch (stop_reason()) {
    case RunStop::canceled:
      ending = true;
      post(StreamLeases::PostMode::final, event_type::canceled, {{"message", "Canceled while running."}}, stop);
      log::info("job canceled", {{"job_id", held.job_id}, {"attempt", attempt_}});
      break;
    case RunStop::lease_lost:
      log::warn("lease lost: the job is someone else's now; stopped without a word",
                {{"job_id", held.job_id}, {"attempt", attempt_}, {"delivery", held.delivery}});
      break;
    case RunStop::hand_back: {
      WorkerEvent event;
      event.type = event_type::released;
      event.job_id = held.job_id;
      event.attempt = attempt_;
      event.entry = held.entry_id;
      event.delivery = held.delivery;
      event.worker = held.consumer;
      event.data = {{"message", "The worker stopped; the job waits for another worker."}};
      // A few tries only: if Redis is away, the lease runs out and another worker takes over.
      for (int tries = 0; tries < 20; ++tries) {
        try {
          auto fresh = worker.leases_.release(*slot.redis, held, event.to_fields());
          log::info("job handed back", {{"job_id", held.job_id}, {"new_entry", fresh ? *fresh : std::string()}});
          break;
        } catch (const Error& e) {
          if (!sleep_unless(std::stop_token(), 500ms)) break;
        }
      }
      break;
    }
    case RunStop::none: break;
  }
}

void WorkerRun::execute(std::stop_token stop) {
  struct Done {
    WorkerRun& run;
    ~Done() {
      run.finished = true;
      run.worker.run_changed();
    }
  } done{*this};
  fs::path dir = worker.config_.work_dir / (held.job_id + "-" + std::to_string(attempt_) + "-" + std::to_string(held.delivery));
  struct RemoveDir {
    fs::path path;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } remove_dir{dir};

  JobMessage message;
  try {
    message = JobMessage::from_entry(held.fields);
  } catch (const Error& e) {
    ending = true;
    post(StreamLeases::PostMode::final, event_type::failed, {{"code", "internal"}, {"message", e.message()}}, stop);
    log::error("unreadable job message", {{"job_id", held.job_id}, {"error", e.message()}});
    return;
  }

  LeaseState started = post(StreamLeases::PostMode::start, event_type::started,
                            {{"host", worker.host_}, {"slot", slot_index}}, stop);
  if (started == LeaseState::canceled) {
    log::info("job canceled before it started; not run", {{"job_id", held.job_id}, {"attempt", attempt_}});
    return;
  }
  if (started == LeaseState::lost) {
    log::warn("lease lost before the job started", {{"job_id", held.job_id}, {"attempt", attempt_}});
    return;
  }
  log::info("job started", {{"job_id", held.job_id}, {"attempt", attempt_}, {"delivery", held.delivery},
                            {"engine", held.engine}, {"request_id", message.request_id}});

  auto fail = [&](const std::string& code, const std::string& text, const std::string& field) {
    ending = true;
    json data = {{"code", code}, {"message", text}};
    if (!field.empty()) data["field"] = field;
    post(StreamLeases::PostMode::final, event_type::failed, data, stop);
    log::info("job failed", {{"job_id", held.job_id}, {"attempt", attempt_}, {"code", code}, {"error", text}});
  };

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("internal", "The worker cannot create its work folder " + dir.string() + ": " + ec.message(), "");
  set_stage("download", 0);
  std::string failure;
  fs::path image = dir / ("image-" + message.image.name);
  fs::path audio = dir / ("audio-" + message.audio.name);
  if (!fetch(message.image, image, failure, stop) || !fetch(message.audio, audio, failure, stop)) {
    if (stop_reason() != RunStop::none) return end_early(stop);
    return fail("internal", failure, "");
  }

  engine::EngineResult result;
  ProgressThrottle throttle;
  try {
    auto& engine = slot.engines[message.engine];
    if (!engine) engine = engine::make_engine(message.engine);
    engine::JobInput input;
    input.image = image;
    input.audio = audio;
    input.output = dir / "output.mp4";
    input.params = params_from_json(message.params, message.limits.max_audio_seconds);
    input.limits = message.limits;
    input.work_dir = dir / "work";
    input.job_id = held.job_id;
    auto progress = [&](const std::string& stage, double fraction) {
      if (!throttle.due(stage, fraction)) return;
      set_stage(stage, fraction);
      LeaseState state = post(StreamLeases::PostMode::progress, event_type::progress,
                              progress_event_data(held.job_id, stage, fraction, throttle.elapsed_s()), stop);
      if (state == LeaseState::lost) request_stop(RunStop::lease_lost);
      if (state == LeaseState::canceled) request_stop(RunStop::canceled);
    };
    result = engine->generate(input, progress, token);
  } catch (const Error& e) {
    if (stop_reason() != RunStop::none) return end_early(stop);
    return fail(std::string(e.code_name()), e.message(), e.field());
  } catch (const std::exception& e) {
    if (stop_reason() != RunStop::none) return end_early(stop);
    // A library's own text (an OpenCV assertion, a file path) is for the worker's log, not the user.
    log::error("engine failed", {{"job_id", held.job_id}, {"error", e.what()}});
    return fail("engine_failed", "The engine failed; the job id identifies it in the worker's log.", "");
  }
  if (stop_reason() != RunStop::none) return end_early(stop);

  set_stage("upload", 1);
  std::uint64_t size = fs::file_size(result.output_path, ec);
  if (!ec && message.max_result_bytes > 0 && size > message.max_result_bytes)
    return fail("payload_too_large",
                "The video (" + std::to_string(size) + " bytes) is larger than the server takes (" +
                    std::to_string(message.max_result_bytes) + " bytes).",
                "");
  json result_json = result.to_json();
  result_json.erase("output_path");  // a path on this machine means nothing to the server
  if (!upload(message, result.output_path, result_json, failure, stop)) {
    if (stop_reason() != RunStop::none) return end_early(stop);
    return fail("internal", failure, "");
  }
  ending = true;
  post(StreamLeases::PostMode::final, event_type::succeeded, {{"bytes", size}}, stop);
  log::info("job finished", {{"job_id", held.job_id}, {"attempt", attempt_}, {"delivery", held.delivery},
                             {"run_s", throttle.elapsed_s()}, {"bytes", size}});
}

}  // namespace sonic::jobs::remote
