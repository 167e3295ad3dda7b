// RedisDispatcher: what the worker file routes decide (see redis_dispatcher.h and
// file_urls.h). Every refusal is 403 forbidden with a sentence saying which check failed:
// the signature, the expiry, the attempt (a newer one exists, or the job is finished),
// a second upload, or a run that no longer holds the lease (Redis's pending list is asked
// at the start of the upload and again, under the lock, before the video is accepted).
#include <cstdio>
#include <cstring>
#include <ctime>

#include "jobs/remote/redis_dispatcher.h"
#include "jobs/remote/worker_run.h"
#include "jobs/sha256.h"
#include "util/log.h"

namespace sonic::jobs::remote {
namespace fs = std::filesystem;

namespace {

Error refused(const std::string& why) { return Error(ErrorCode::forbidden, why); }

int to_int(const std::string& text) {
  try {
    std::size_t used = 0;
    int v = std::stoi(text, &used);
    return used == text.size() ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

// The stream's closing guard: a temporary file removed unless it was claimed.
struct TempFile {
  fs::path path;
  std::FILE* file = nullptr;
  ~TempFile() {
    if (file) std::fclose(file);
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
};

}  // namespace

RedisDispatcher::Outstanding& RedisDispatcher::verified_attempt(const std::string& job_id, FileGrant grant,
                                                                const std::string& attempt, const std::string& expires,
                                                                const std::string& sig) const {
  switch (urls_.verify(job_id, grant, attempt, expires, sig, static_cast<std::int64_t>(std::time(nullptr)))) {
    case FileUrls::Verdict::bad_signature: throw refused("The file link is not valid: its signature does not match.");
    case FileUrls::Verdict::expired: throw refused("The file link has expired.");
    case FileUrls::Verdict::valid: break;
  }
  auto it = outstanding_.find(job_id);
  if (it == outstanding_.end())
    throw refused("The job is not waiting for this file any more: it finished, was canceled or was deleted.");
  if (to_int(attempt) != it->second.attempt.attempt)
    throw refused("The file link is for attempt " + attempt + " of the job; it is at attempt " +
                  std::to_string(it->second.attempt.attempt) + " now.");
  return it->second;
}

InputFile RedisDispatcher::open_input(const std::string& job_id, FileGrant grant, const std::string& attempt,
                                      const std::string& expires, const std::string& sig) const {
  {
    std::lock_guard lock(mutex_);
    verified_attempt(job_id, grant, attempt, expires, sig);
  }
  auto job = context_.store.get(job_id);
  if (!job || is_final(job->state)) throw refused("The job is not waiting for this file any more.");
  InputFile file;
  file.path = context_.uploads_dir / (grant == FileGrant::image ? job->image_file : job->audio_file);
  std::error_code ec;
  file.bytes = fs::file_size(file.path, ec);
  if (ec) throw Error(ErrorCode::not_found, "The job's input file is gone.");
  return file;
}

JobRecord RedisDispatcher::accept_result(const ResultUpload& upload, const BodyReader& read) {
  auto result = decode_result_header(upload.result);
  if (!result)
    throw Error(ErrorCode::invalid_param, "X-Sonic-Result must be the engine's result as base64url JSON.",
                "X-Sonic-Result");
  if (upload.content_length && *upload.content_length > config_.max_result_bytes)
    throw Error(ErrorCode::payload_too_large, "The video is larger than the limit of " +
                                                  std::to_string(config_.max_result_bytes) + " bytes.");
  const int delivery = to_int(upload.delivery);
  // The run that uploads must hold the job's lease now, as Redis's pending list says.
  auto check_holder = [&](const RemoteAttempt& a) {
    auto owner = leases_.owner(commands_, a.engine, a.entry_id);
    if (!owner || owner->first != upload.worker || owner->second != delivery)
      throw refused("This run does not hold the job any more (its lease was taken over, it was handed back, or "
                    "the job was sent out again); its video is not needed.");
  };
  RemoteAttempt attempt;
  {
    std::lock_guard lock(mutex_);
    Outstanding& out = verified_attempt(upload.job_id, FileGrant::result, upload.attempt, upload.expires, upload.sig);
    if (out.attempt.result_received || out.receiving)
      throw refused("This attempt's video was already uploaded; a second upload is not accepted.");
    check_holder(out.attempt);
    out.receiving = true;
    attempt = out.attempt;
  }
  struct Receiving {
    RedisDispatcher& d;
    std::string id;
    ~Receiving() {
      std::lock_guard lock(d.mutex_);
      if (auto it = d.outstanding_.find(id); it != d.outstanding_.end()) it->second.receiving = false;
    }
  } receiving{*this, upload.job_id};

  TempFile tmp;
  tmp.path = context_.tmp_dir / (upload.job_id + "." + std::to_string(attempt.attempt) + ".upload");
  tmp.file = std::fopen(tmp.path.c_str(), "wb");
  if (!tmp.file) throw Error(ErrorCode::internal, "Cannot store the upload in " + tmp.path.string() + ".");
  Sha256 hash;
  std::uint64_t total = 0;
  std::vector<char> buffer(256 * 1024);
  char head[8] = {};
  for (std::size_t n; (n = read(buffer.data(), buffer.size())) > 0;) {
    if (total < sizeof head) std::memcpy(head + total, buffer.data(), std::min<std::size_t>(n, sizeof head - total));
    total += n;
    if (total > config_.max_result_bytes)
      throw Error(ErrorCode::payload_too_large,
                  "The video is larger than the limit of " + std::to_string(config_.max_result_bytes) + " bytes.");
    if (std::fwrite(buffer.data(), 1, n, tmp.file) != n) throw Error(ErrorCode::internal, "Cannot store the upload.");
    hash.update(buffer.data(), n);
  }
  if (std::fclose(tmp.file) != 0) {
    tmp.file = nullptr;
    throw Error(ErrorCode::internal, "Cannot store the upload.");
  }
  tmp.file = nullptr;
  if (total < 8 || std::string_view(head + 4, 4) != "ftyp")
    throw Error(ErrorCode::unsupported_media_type, "The upload is not an MP4 video.");
  if (!upload.sha256.empty() && hash.hex() != upload.sha256)
    throw Error(ErrorCode::invalid_param, "The upload does not match its X-Sonic-Sha256; it was damaged on the way.",
                "X-Sonic-Sha256");

  JobRecord job;
  {
    std::lock_guard lock(mutex_);
    Outstanding& out = verified_attempt(upload.job_id, FileGrant::result, upload.attempt, upload.expires, upload.sig);
    if (out.attempt.entry_id != attempt.entry_id)
      throw refused("The job was handed back while its video was uploaded; this run's video is not needed.");
    check_holder(out.attempt);
    auto loaded = context_.store.get(upload.job_id);
    if (!loaded || is_final(loaded->state)) throw refused("The job is finished; its video is not needed.");
    job = *loaded;
    out.attempt.worker = upload.worker;
    out.attempt.delivery = delivery;
    finish_result(out, job, tmp.path, *result);
    tmp.path.clear();  // renamed into outputs/
  }
  wake_feeder_.notify_all();
  return job;
}

void RedisDispatcher::finish_result(Outstanding& out, JobRecord& job, const fs::path& video,
                                    const nlohmann::json& result) {
  const std::string output_name = job.id + ".mp4";
  fs::rename(video, context_.outputs_dir / output_name);
  job.state = JobState::succeeded;
  job.output_file = output_name;
  if (result.contains("params") && result["params"].is_object()) job.params = result["params"];
  job.result = result;
  job.result["output_path"] = fs::absolute(context_.outputs_dir / output_name).string();
  job.result["cached"] = false;
  job.result["worker"] = out.attempt.worker;
  job.progress = 1;
  job.stage = "done";
  job.finished_ms = now_ms();
  out.attempt.result_received = true;
  context_.store.put_remote_attempt(out.attempt);
  std::map<std::string, double> stages;
  if (result.contains("stage_seconds") && result["stage_seconds"].is_object())
    for (auto it = result["stage_seconds"].begin(); it != result["stage_seconds"].end(); ++it)
      if (it.value().is_number()) stages[it.key()] = it.value().get<double>();
  double run_s = job.started_ms > 0 ? static_cast<double>(job.finished_ms - job.started_ms) / 1000.0 : 0.0;
  context_.updates.observe_run(job, run_s, stages);
  const std::string id = job.id;
  const int attempt = out.attempt.attempt;
  const std::string worker = out.attempt.worker;
  outstanding_.erase(id);  // `out` is gone from here on
  if (!context_.updates.finish(job)) {
    std::error_code ec;
    fs::remove(context_.outputs_dir / output_name, ec);  // deleted while it ran
  }
  log::info("job finished", {{"job_id", id}, {"status", "succeeded"}, {"remote", true}, {"attempt", attempt},
                             {"worker", worker}, {"run_s", run_s}, {"request_id", job.request_id}});
}

}  // namespace sonic::jobs::remote
