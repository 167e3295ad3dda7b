// Unit: the per-job cost bound and budget (engine/job_cost.h, issue 10). The output size
// is bounded for every framing; a job over the budget is refused with job_too_large naming
// the knob to turn and a value of it that fits — and that value really fits.
#include <gtest/gtest.h>

#include <string>

#include "engine/job_cost.h"
#include "util/error.h"

namespace sonic::engine {
namespace {

GenerationParams params_with(const nlohmann::json& config) { return apply_config({}, config); }

Error refusal(const GenerationParams& p, int w, int h, double audio_s, double budget,
              const media::MediaLimits& limits = {}) {
  JobCost cost = estimate_job_cost(p, w, h, audio_s, limits);
  try {
    check_job_budget(cost, p, w, h, budget);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no refusal for " << p.to_json().dump() << " at " << cost.megapixel_frames() << " > " << budget;
  return Error(ErrorCode::internal, "none");
}

TEST(JobCost, CropModeIsMinResolutionSquaredTimesFrames) {
  JobCost c = estimate_job_cost(params_with({{"min_resolution", 512}, {"fps", 25}}), 3000, 4000, 300, {});
  EXPECT_EQ(c.width, 512);
  EXPECT_EQ(c.height, 512);
  EXPECT_EQ(c.frames, 7500);
  EXPECT_DOUBLE_EQ(c.duration_s, 300);
  EXPECT_NEAR(c.megapixel_frames(), 512.0 * 512 * 7500 / 1e6, 1e-6);
  // An explicit duration wins over the recording's length; frames are round(duration × fps).
  c = estimate_job_cost(params_with({{"duration", 2.02}, {"fps", 25}}), 3000, 4000, 300, {});
  EXPECT_EQ(c.frames, 51);
  // min_resolution is rounded to even like the framing does.
  EXPECT_EQ(estimate_job_cost(params_with({{"min_resolution", 301}}), 100, 100, 1, {}).width, 302);
}

TEST(JobCost, FullFrameIsThePictureCappedOnItsLongerSide) {
  media::MediaLimits limits;
  limits.max_full_frame_side = 2048;
  auto p = params_with({{"full_frame", true}, {"fps", 60}, {"duration", 2}});
  JobCost big = estimate_job_cost(p, 6000, 6000, 5, limits);
  EXPECT_EQ(big.width, 2048);
  EXPECT_EQ(big.height, 2048);
  EXPECT_EQ(big.frames, 120);
  JobCost wide = estimate_job_cost(p, 6001, 3001, 5, limits);
  EXPECT_EQ(wide.width, 2048);
  EXPECT_EQ(wide.height, 1024);  // 3001 × 2048/6001 = 1024.2, even
  JobCost small = estimate_job_cost(p, 641, 481, 5, limits);  // under the cap: the picture, trimmed to even
  EXPECT_EQ(small.width, 640);
  EXPECT_EQ(small.height, 480);
  limits.max_full_frame_side = 0;  // no cap
  EXPECT_EQ(estimate_job_cost(p, 6000, 6000, 5, limits).width, 6000);
}

TEST(JobCost, EveryAspectRatioIsBounded) {
  // Issue 14's aspect ratios: the shorter side is min_resolution, the longer one follows
  // the ratio; `original` follows the picture; an unknown ratio gets the widest bound.
  auto p = params_with({{"min_resolution", 512}});
  struct Case {
    const char* aspect;
    int w, h;  // picture
    int out_w, out_h;
  } cases[] = {
      {"", 3000, 4000, 512, 512},          {"1:1", 3000, 4000, 512, 512},      {"9:16", 3000, 4000, 512, 912},
      {"16:9", 3000, 4000, 912, 512},      {"4:5", 3000, 4000, 512, 640},      {"original", 3000, 4000, 512, 684},
      {"original", 4000, 1000, 2048, 512}, {"21:9", 3000, 4000, 1196, 512},   {"weird", 3000, 4000, 512, 912},
      {"weird", 1000, 5000, 512, 2560},
  };
  for (const auto& c : cases) {
    JobCost cost = estimate_job_cost(p, c.aspect, c.w, c.h, 10, {});
    EXPECT_EQ(cost.width, c.out_w) << c.aspect << " " << c.w << "x" << c.h;
    EXPECT_EQ(cost.height, c.out_h) << c.aspect << " " << c.w << "x" << c.h;
  }
  // This build's params: the aspect ratio comes from their JSON, absent = the square crop.
  if (!p.to_json().contains("aspect_ratio")) {
    JobCost square = estimate_job_cost(p, 1000, 3000, 10, {});
    EXPECT_EQ(square.width, 512);
    EXPECT_EQ(square.height, 512);
  }
}

TEST(JobBudget, WithinTheBudgetPasses) {
  auto p = params_with({{"min_resolution", 512}});
  JobCost c = estimate_job_cost(p, 512, 512, 300, {});
  EXPECT_NO_THROW(check_job_budget(c, p, 512, 512, c.megapixel_frames()));
  EXPECT_NO_THROW(check_job_budget(c, p, 512, 512, 0));  // 0 = no budget
}

TEST(JobBudget, NamesFullFrameOnAHugePicture) {
  media::MediaLimits limits;
  auto p = params_with({{"full_frame", true}, {"fps", 60}, {"duration", 300}});
  Error e = refusal(p, 6000, 6000, 300, 15000, limits);
  EXPECT_EQ(e.code(), ErrorCode::job_too_large);
  EXPECT_EQ(e.http_status(), 422);
  EXPECT_EQ(e.field(), "full_frame");
  EXPECT_NE(e.message().find("2048×2048"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("the limit per job is 15000"), std::string::npos) << e.message();
}

TEST(JobBudget, NamesMinResolutionAndAValueThatFits) {
  auto p = params_with({{"min_resolution", 1024}, {"fps", 25}});
  Error e = refusal(p, 3000, 4000, 300, 3000);
  EXPECT_EQ(e.field(), "min_resolution");
  // "Lower min_resolution to N or less": N fits.
  auto at = e.message().find("min_resolution to ");
  ASSERT_NE(at, std::string::npos) << e.message();
  int suggested = std::stoi(e.message().substr(at + 18));
  auto fitted = params_with({{"min_resolution", suggested}, {"fps", 25}});
  EXPECT_LE(estimate_job_cost(fitted, 3000, 4000, 300, {}).megapixel_frames(), 3000) << e.message();
  // The largest that fits: one step more does not.
  auto over = params_with({{"min_resolution", suggested + 2}, {"fps", 25}});
  EXPECT_GT(estimate_job_cost(over, 3000, 4000, 300, {}).megapixel_frames(), 3000) << e.message();
}

TEST(JobBudget, NamesFpsWhenItIsRaised) {
  auto p = params_with({{"fps", 60}});
  Error e = refusal(p, 3000, 4000, 300, 3000);
  EXPECT_EQ(e.field(), "fps");
  auto at = e.message().find("fps to ");
  ASSERT_NE(at, std::string::npos) << e.message();
  int fps = std::stoi(e.message().substr(at + 7));
  EXPECT_LE(estimate_job_cost(params_with({{"fps", fps}}), 3000, 4000, 300, {}).megapixel_frames(), 3000);
}

TEST(JobBudget, NamesDurationAtTheDefaults) {
  auto p = params_with({});
  Error e = refusal(p, 3000, 4000, 300, 1000);
  EXPECT_EQ(e.field(), "duration");
  EXPECT_NE(e.message().find("the recording's length"), std::string::npos) << e.message();
  auto at = e.message().find("duration to ");
  ASSERT_NE(at, std::string::npos) << e.message();
  double seconds = std::stod(e.message().substr(at + 12));
  EXPECT_LE(estimate_job_cost(params_with({{"duration", seconds}}), 3000, 4000, 300, {}).megapixel_frames(), 1000);
}

}  // namespace
}  // namespace sonic::engine
