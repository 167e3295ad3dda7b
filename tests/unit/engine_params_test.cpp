// The control panel's rules (DESIGN §4): defaults, ranges, unknown keys, presets.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/params.h"
#include "util/error.h"

using nlohmann::json;
using sonic::Error;
using sonic::ErrorCode;
using namespace sonic::engine;

namespace {

Error error_of(const json& config) {
  try {
    apply_config({}, config);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << config.dump();
  return Error(ErrorCode::internal, "none");
}

}  // namespace

TEST(Params, DefaultsAreTheDesignTable) {
  GenerationParams p;
  EXPECT_FALSE(p.duration_s.has_value());
  EXPECT_EQ(p.min_resolution, 512);
  EXPECT_DOUBLE_EQ(p.expand_ratio, 0.15);
  EXPECT_EQ(p.inference_steps, 25);
  EXPECT_DOUBLE_EQ(p.dynamic_scale, 1.0);
  EXPECT_DOUBLE_EQ(p.motion_scale, 1.0);
  EXPECT_TRUE(p.align_mouth);
  EXPECT_TRUE(p.smooth_motion);
  EXPECT_EQ(p.fps, 25);
  EXPECT_EQ(p.seed, 0);
  EXPECT_FALSE(p.full_frame);
  EXPECT_FALSE(p.face_box.has_value());
}

TEST(Params, AppliesEveryKey) {
  auto p = apply_config({}, json{{"duration", 3.5},       {"min_resolution", 768}, {"expand_ratio", 0.2},
                                 {"inference_steps", 30}, {"dynamic_scale", 1.2},  {"motion_scale", 0},
                                 {"align_mouth", false},  {"smooth_motion", false}, {"fps", 30},
                                 {"seed", 42},            {"full_frame", true},    {"face_box", {10, 20, 100, 120}},
                                 {"engine", "classic"}});
  EXPECT_DOUBLE_EQ(*p.duration_s, 3.5);
  EXPECT_EQ(p.min_resolution, 768);
  EXPECT_DOUBLE_EQ(p.expand_ratio, 0.2);
  EXPECT_EQ(p.inference_steps, 30);
  EXPECT_DOUBLE_EQ(p.dynamic_scale, 1.2);
  EXPECT_DOUBLE_EQ(p.motion_scale, 0.0);
  EXPECT_FALSE(p.align_mouth);
  EXPECT_FALSE(p.smooth_motion);
  EXPECT_EQ(p.fps, 30);
  EXPECT_EQ(p.seed, 42);
  EXPECT_TRUE(p.full_frame);
  EXPECT_EQ((*p.face_box)[3], 120);
  EXPECT_EQ(p.engine, "classic");
  auto round_trip = apply_config({}, p.to_json());
  EXPECT_EQ(round_trip.to_json(), p.to_json());
}

// Issue 10: "fps": "25" was taken as a number. JSON types are the contract: a string where
// a number or a boolean belongs is a 400 naming the parameter, never a guess.
TEST(Params, RefusesStringsWhereNumbersOrBooleansBelong) {
  struct Case {
    json config;
    const char* field;
  } cases[] = {
      {{{"fps", "25"}}, "fps"},
      {{{"duration", "3"}}, "duration"},
      {{{"min_resolution", "512"}}, "min_resolution"},
      {{{"dynamic_scale", "1.1"}}, "dynamic_scale"},
      {{{"seed", "7"}}, "seed"},
      {{{"align_mouth", "false"}}, "align_mouth"},
      {{{"full_frame", "true"}}, "full_frame"},
      {{{"smooth_motion", 0}}, "smooth_motion"},
      {{{"face_box", {"1", "2", "30", "40"}}}, "face_box"},
  };
  for (const auto& c : cases) {
    Error e = error_of(c.config);
    EXPECT_EQ(e.code(), ErrorCode::invalid_param) << c.config.dump();
    EXPECT_EQ(e.field(), c.field) << c.config.dump();
    EXPECT_EQ(e.http_status(), 400);
  }
  // The message says what was wrong with a value that looks right.
  EXPECT_NE(error_of(json{{"fps", "25"}}).message().find("not the string \"25\""), std::string::npos)
      << error_of(json{{"fps", "25"}}).message();
  // Real JSON numbers and booleans still work, integers given as 30.0 included.
  auto p = apply_config({}, json{{"fps", 30.0}, {"align_mouth", false}, {"dynamic_scale", 1.1}});
  EXPECT_EQ(p.fps, 30);
  EXPECT_FALSE(p.align_mouth);
  EXPECT_DOUBLE_EQ(p.dynamic_scale, 1.1);
}

TEST(Params, RefusesOutOfRangeWithTheField) {
  struct Case {
    json config;
    const char* field;
  } cases[] = {
      {{{"duration", 0.1}}, "duration"},         {{{"duration", 301}}, "duration"},
      {{{"min_resolution", 128}}, "min_resolution"}, {{{"min_resolution", 2048}}, "min_resolution"},
      {{{"min_resolution", 512.5}}, "min_resolution"}, {{{"expand_ratio", -0.1}}, "expand_ratio"},
      {{{"inference_steps", 0}}, "inference_steps"}, {{{"dynamic_scale", 2.5}}, "dynamic_scale"},
      {{{"motion_scale", -1}}, "motion_scale"},   {{{"fps", 61}}, "fps"},
      {{{"fps", "fast"}}, "fps"},                 {{{"seed", -1}}, "seed"},
      {{{"align_mouth", "maybe"}}, "align_mouth"}, {{{"face_box", {1, 2, 3}}}, "face_box"},
      {{{"face_box", {1, 2, 0, 5}}}, "face_box"}, {{{"engine", "nonexistent"}}, "engine"},
  };
  for (const auto& c : cases) {
    Error e = error_of(c.config);
    EXPECT_EQ(e.code(), ErrorCode::invalid_param) << c.config.dump();
    EXPECT_EQ(e.field(), c.field) << c.config.dump();
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_FALSE(e.message().empty());
  }
}

TEST(Params, AspectRatioRefusesAnythingButTheFiveShapes) {
  for (const json& bad : {json("2:3"), json("9x16"), json("9:16 "), json(""), json(1.78), json(nullptr), json{9, 16}}) {
    Error e = error_of(json{{"aspect_ratio", bad}});
    EXPECT_EQ(e.code(), ErrorCode::invalid_param) << bad.dump();
    EXPECT_EQ(e.field(), "aspect_ratio") << bad.dump();
    for (const char* allowed : {"1:1", "9:16", "4:5", "16:9", "original"})
      EXPECT_NE(e.message().find(allowed), std::string::npos) << "the message lists the allowed values: " << e.message();
  }
}

TEST(Params, AspectRatioIsRecordedAndRoundTrips) {
  EXPECT_EQ(GenerationParams{}.aspect_ratio, "1:1");
  EXPECT_EQ(GenerationParams{}.to_json()["aspect_ratio"], "1:1") << "the resolved params always say it";
  for (const std::string& shape : aspect_ratio_names()) {
    const auto p = apply_config({}, json{{"aspect_ratio", shape}});
    EXPECT_EQ(p.aspect_ratio, shape);
    EXPECT_EQ(apply_config({}, p.to_json()).aspect_ratio, shape);
  }
  // The CLI's --set aspect_ratio=9:16 reads the value as a string (it is not JSON).
  auto [key, value] = parse_assignment("aspect_ratio=9:16");
  EXPECT_EQ(apply_config({}, json{{key, value}}).aspect_ratio, "9:16");
  const auto& names = parameter_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "aspect_ratio"), names.end());
}

TEST(Params, UnknownKeyIsInvalidConfig) {
  Error e = error_of(json{{"fsp", 25}});
  EXPECT_EQ(e.code(), ErrorCode::invalid_config);
  EXPECT_EQ(e.field(), "fsp");
  EXPECT_NE(e.message().find("fsp"), std::string::npos);
}

TEST(Params, ConfigTextMustBeAJsonObject) {
  EXPECT_EQ(parse_config_text("{\"fps\": 30}")["fps"], 30);
  for (const char* bad : {"", "not json", "[1,2]", "42", "{\"fps\": 30"}) {
    try {
      parse_config_text(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_config) << bad;
    }
  }
}

TEST(Params, Assignments) {
  auto [key, value] = parse_assignment("fps=30");
  EXPECT_EQ(key, "fps");
  EXPECT_EQ(value, 30);
  EXPECT_EQ(parse_assignment("engine=classic").second, "classic");
  EXPECT_EQ(parse_assignment("face_box=[1,2,3,4]").second.size(), 4u);
  EXPECT_THROW(parse_assignment("fps"), Error);
}

TEST(Presets, TheShippedPresetsArePresentValidAndDescribed) {
  for (const char* name : {"natural", "expressive", "news-anchor", "singing", "presenter_9x16"}) {
    const Preset& preset = find_preset(name);
    EXPECT_FALSE(preset.description.empty()) << name;
    EXPECT_NO_THROW(apply_config({}, preset.config)) << name;
  }
  ASSERT_FALSE(presets().empty());
  EXPECT_EQ(presets().front().name, "natural") << "the defaults come first, in the file's order";
  EXPECT_LT(apply_config({}, find_preset("news-anchor").config).motion_scale, 1.0);
  EXPECT_GT(apply_config({}, find_preset("singing").config).dynamic_scale, 1.0);
  const auto presenter = apply_config({}, find_preset("presenter_9x16").config);
  EXPECT_EQ(presenter.aspect_ratio, "9:16") << "a vertical head-and-shoulders clip from one preset";
  EXPECT_GE(presenter.expand_ratio, 0.4) << "room for the shoulders";
  try {
    find_preset("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.field(), "preset");
    EXPECT_NE(e.message().find("natural"), std::string::npos);
  }
}

TEST(Errors, CodesMapToTheApiStatuses) {
  EXPECT_EQ(sonic::http_status(ErrorCode::payload_too_large), 413);
  EXPECT_EQ(sonic::http_status(ErrorCode::unsupported_media_type), 415);
  EXPECT_EQ(sonic::http_status(ErrorCode::no_face), 422);
  EXPECT_EQ(sonic::http_status(ErrorCode::queue_full), 429);
  EXPECT_EQ(sonic::http_status(ErrorCode::shutting_down), 503);
  EXPECT_EQ(sonic::code_name(ErrorCode::unreadable_media), "unreadable_media");
}
