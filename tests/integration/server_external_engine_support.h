// Shared by the external-engine integration suites: declarations of the real Sonic adapter
// (integrations/sonic/) over the stand-in Sonic checkout (tests/engines/fake_sonic/) with
// its failure switches, of the misbehaving engine, and small helpers.
#pragma once

#include <dirent.h>

#include <map>
#include <opencv2/imgcodecs.hpp>

#include "integration/server_process.h"

namespace sonic::test {

// --external-engine value: the adapter on the stand-in, with `env` switches and settings.
inline std::string sonic_declaration(const std::string& name, const std::map<std::string, std::string>& env = {},
                                     json settings = json::object()) {
  json d = {{"name", name},
            {"command",
             {"/usr/bin/python3", (source_dir() / "integrations/sonic/sonic_engine.py").string(), "--sonic-dir",
              (source_dir() / "tests/engines/fake_sonic").string(), "--device", "cpu"}},
            {"env", env},
            {"restart_backoff_s", 0.2}};
  d.update(settings);
  return d.dump();
}

inline std::string misbehaving_declaration(const std::string& name, const std::string& mode, json settings = json::object()) {
  json d = {{"name", name},
            {"command", {"/usr/bin/python3", (source_dir() / "tests/engines/misbehaving_engine.py").string(), mode}},
            {"restart_backoff_s", 0.2}};
  d.update(settings);
  return d.dump();
}

// The portrait + speech, for an external engine: small and few denoising steps.
inline httplib::MultipartFormDataItems engine_job(const std::string& engine, json extra = json::object(),
                                                  const std::filesystem::path& image = {}) {
  json config = {{"engine", engine}, {"min_resolution", 256}, {"duration", 2.0}, {"inference_steps", 4}};
  config.update(extra);
  return {file_part("image", image.empty() ? fixture("portrait.png") : image, "image/png"),
          file_part("audio", fixture("speech_en_5s.wav"), "audio/wav"), text_part("config", config.dump())};
}

inline json engine_info(httplib::Client& c, const std::string& name) {
  json list = body_json(c.Get("/api/engines"));
  for (const auto& e : list["engines"])
    if (e["name"] == name) return e;
  ADD_FAILURE() << "no engine " << name << " in " << list.dump();
  return json();
}

// Waits (bounded) until the engine's state is `state`.
inline json wait_engine_state(httplib::Client& c, const std::string& name, const std::string& state,
                              std::chrono::seconds patience = 120s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  json e;
  while (std::chrono::steady_clock::now() < deadline) {
    e = engine_info(c, name);
    if (e["state"] == state) return e;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "engine " << name << " never became " << state << ": " << e.dump();
  return e;
}

inline json post_async(httplib::Client& c, const httplib::MultipartFormDataItems& items) {
  auto r = c.Post("/api/sonic/generate", {{"Prefer", "respond-async"}}, items);
  EXPECT_TRUE(r);
  if (!r) return json();
  EXPECT_EQ(r->status, 202) << r->body;
  return json::parse(r->body, nullptr, false);
}

// Polls the job until `done(job)` holds (bounded).
template <typename Predicate>
inline json wait_job_until(httplib::Client& c, const std::string& id, Predicate done, std::chrono::seconds patience = 300s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  json job;
  while (std::chrono::steady_clock::now() < deadline) {
    job = body_json(c.Get("/api/jobs/" + id));
    if (done(job)) return job;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "job " << id << " never reached the awaited state: " << job.dump();
  return job;
}

inline std::size_t entries_in(const std::filesystem::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator(); ++it)
    ++n;
  return n;
}

// The server's direct children (engine processes) and whether any is a zombie.
inline std::vector<int> children_of(int pid, int* zombies = nullptr) {
  std::vector<int> out;
  if (zombies) *zombies = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    int child;
    while (in >> child) {
      out.push_back(child);
      std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
      std::string line;
      std::getline(stat, line);
      auto close = line.rfind(')');
      if (zombies && close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') ++*zombies;
    }
  }
  return out;
}

inline int pipes_of(int pid) {
  int n = 0;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code e2;
    auto target = std::filesystem::read_symlink(fd.path(), e2);
    if (!e2 && target.string().rfind("pipe:", 0) == 0) ++n;
  }
  return n;
}

// A picture with no face (a flat colour with a soft gradient).
inline std::filesystem::path faceless_picture(const TempDir& dir) {
  cv::Mat m(256, 256, CV_8UC3);
  for (int y = 0; y < 256; ++y) m.row(y).setTo(cv::Scalar(120, 140 + y / 8, 160));
  auto path = dir / "wall.png";
  cv::imwrite(path.string(), m);
  return path;
}

}  // namespace sonic::test
