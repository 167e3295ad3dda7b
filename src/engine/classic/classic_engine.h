// The built-in CPU engine (DESIGN §6): dlib landmarks → crop → per-frame mouth controls
// from the audio → head motion and blinks → piecewise-affine mesh warp → H.264/AAC MP4.
// Needs no downloads and no GPU. Deterministic for a given seed.
#pragma once

#include "engine/engine.h"

namespace sonic::engine {

class ClassicEngine : public Engine {
 public:
  std::string name() const override { return "classic"; }
  std::string version() const override;
  std::string description() const override;
  EngineParameters parameters() const override;
  EngineResult generate(const JobInput& job, const ProgressCallback& progress,
                        const CancelToken& cancel) override;
};

}  // namespace sonic::engine
