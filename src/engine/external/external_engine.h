// ExternalEngine: the Engine interface over the engine protocol (docs/engine-protocol.md).
// Every ExternalEngine made for one name talks to the same EngineProcess (one long-lived
// model process per declared engine), so the job service's slots, the worker and the
// generate CLI all use it the same way as the built-in engine.
//
// generate(): prepares the job's private work folder (the audio fitted to the duration as a
// 16 kHz WAV), hands the job to the process, relays its progress as the first 90 % of the
// job, then finishes the video with the shared finishing step (finish/): frame-rate
// resampling, full_frame paste-back, align_mouth, our MP4 writer. The work folder is
// removed on every way out. face_index is resolved here for engines that take face_box.
#pragma once

#include <memory>
#include <opencv2/core.hpp>

#include "engine/engine.h"
#include "engine/external/engine_process.h"
#include "media/audio.h"

namespace sonic::engine::external {

class ExternalEngine : public Engine {
 public:
  ExternalEngine(std::string name, std::shared_ptr<EngineProcess> process);
  std::string name() const override { return name_; }
  std::string version() const override;
  std::string description() const override;
  EngineParameters parameters() const override;
  EngineStatus status() const override;
  EngineResult generate(const JobInput& job, const ProgressCallback& progress, const CancelToken& cancel) override;

 private:
  // face_index > 0 without a face_box: for an engine that takes face_box, the server finds
  // that face and sets face_box to its box (so face_index means the same face as in
  // POST /api/faces); for one that does not, the answer is face_index ignored.
  std::vector<IgnoredParam> choose_face(const cv::Mat& picture, const std::filesystem::path& image,
                                        GenerationParams& params) const;

  std::string name_;
  std::shared_ptr<EngineProcess> process_;
};

// Builds the supervisor settings of a declaration (environment, timeouts).
struct EngineDeclaration;
EngineProcessSettings process_settings(const EngineDeclaration& declaration);

// 16-bit PCM mono WAV (the `audio` the protocol hands over).
void write_wav(const std::filesystem::path& path, const media::PcmAudio& audio);

}  // namespace sonic::engine::external
