// The external-engine machinery without the server: declarations, the child process (no
// shell, explicit environment, no leaked descriptors, no zombies), the protocol parser, and
// the supervisor's reactions to engines that misbehave — with small real Python engines.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "engine/external/child_process.h"
#include "engine/external/engine_declaration.h"
#include "engine/external/engine_process.h"
#include "engine/external/protocol.h"
#include "support/test_media.h"
#include "util/error.h"

namespace sonic::engine::external {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

int open_descriptors() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the DIR's own
}

bool has_unreaped_children() {
  siginfo_t info{};
  info.si_pid = 0;
  // WNOWAIT: look without reaping. ECHILD (no children at all) is fine too.
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0;
}

TEST(EngineDeclaration, FlagFormSplitsWordsWithoutAShell) {
  auto d = parse_engine_declaration(
      "sonic=/usr/bin/python3 integrations/sonic/sonic_engine.py --sonic-dir '/opt/my Sonic' --tag \"a \\\"b\\\"\" c\\ d $HOME");
  EXPECT_EQ(d.name, "sonic");
  EXPECT_EQ(d.command, (std::vector<std::string>{"/usr/bin/python3", "integrations/sonic/sonic_engine.py", "--sonic-dir",
                                                 "/opt/my Sonic", "--tag", "a \"b\"", "c d", "$HOME"}));
  EXPECT_EQ(d.slots, 1);
}

TEST(EngineDeclaration, JsonFormAndConfigFileForms) {
  auto d = parse_engine_declaration(
      R"({"name":"gpu1","command":["/usr/bin/python3","x.py"],"env":{"CUDA_VISIBLE_DEVICES":"1"},"slots":2,"cancel_timeout_s":1.5})");
  EXPECT_EQ(d.name, "gpu1");
  EXPECT_EQ(d.env.at("CUDA_VISIBLE_DEVICES"), "1");
  EXPECT_EQ(d.slots, 2);
  EXPECT_DOUBLE_EQ(d.cancel_timeout_s, 1.5);
  auto list = engine_declarations_from_json(nlohmann::json::parse(R"({"a":"/bin/a -x","b":{"command":["/bin/b"]}})"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].command, (std::vector<std::string>{"/bin/a", "-x"}));
  EXPECT_EQ(list[1].name, "b");
}

TEST(EngineDeclaration, RefusesWhatCannotWork) {
  for (const char* text : {"no-equals-sign", "classic=/bin/true", "Bad Name=/bin/true", "x=", "x='unterminated",
                           R"({"name":"x"})", R"({"name":"x","command":"/bin/true","slots":0})",
                           R"({"name":"x","command":"/bin/true","colour":"red"})", "{not json"}) {
    try {
      parse_engine_declaration(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_config) << text;
      EXPECT_EQ(e.field(), "external-engine");
    }
  }
}

TEST(Protocol, ParsesMessagesAndNamesViolations) {
  auto ready = std::get<ReadyMessage>(parse_engine_message(
      R"({"type":"ready","protocol":1,"name":"x","version":"2","parameters":{"accepted":["fps"],"ignored":[{"param":"seed","reason":"no"}]},"limits":{"max_concurrent_jobs":3}})"));
  EXPECT_EQ(ready.version, "2");
  EXPECT_EQ(ready.max_concurrent_jobs, 3);
  ASSERT_EQ(ready.parameters.ignored.size(), 1u);
  auto done = std::get<DoneMessage>(parse_engine_message(
      R"({"type":"done","job":"j","frames":{"format":"video","path":"/w/o.mp4"},"crop_box":[1,2,3,4],"peak_memory_bytes":5})"));
  EXPECT_EQ(done.frames.format, FrameOutput::Format::video);
  EXPECT_EQ(*done.crop_box, (std::array<int, 4>{1, 2, 3, 4}));
  EXPECT_EQ(*done.peak_memory_bytes, 5);
  // Stage names become metric labels: odd ones are dropped.
  auto stages = std::get<DoneMessage>(parse_engine_message(
      R"({"type":"done","job":"j","frames":{"format":"rgb24","path":"/x"},"stage_seconds":{"denoise":1.5,"a\"}\nb":2}})"));
  std::string keys;
  for (const auto& [k, v] : stages.stage_seconds) keys += "[" + k + "]";
  EXPECT_EQ(stages.stage_seconds.size(), 1u) << keys;
  EXPECT_EQ(stages.stage_seconds.count("denoise"), 1u);
  auto progress = std::get<ProgressMessage>(parse_engine_message(R"({"type":"progress","job":"j","fraction":7})"));
  EXPECT_EQ(progress.fraction, 1.0);
  const std::pair<const char*, const char*> bad[] = {
      {"hello world", "not JSON"},
      {"[1,2]", "not an object"},
      {R"({"type":"ready","protocol":2,"version":"1"})", "speaks protocol 2"},
      {R"({"type":"dance"})", "unknown type"},
      {R"({"type":"done","job":"j"})", "without 'frames'"},
      {R"({"type":"done","job":"j","frames":{"format":"gif","path":"x"}})", "unknown format"},
  };
  for (const auto& [line, why] : bad) {
    try {
      parse_engine_message(line);
      ADD_FAILURE() << line;
    } catch (const ProtocolViolation& v) {
      EXPECT_NE(std::string(v.what()).find(why), std::string::npos) << v.what();
    }
  }
}

TEST(LineSplitter, BoundsLineLength) {
  LineSplitter s(8);
  std::vector<std::string> lines;
  EXPECT_TRUE(s.feed("ab\ncd", 5, lines));
  EXPECT_TRUE(s.feed("e\r\n", 3, lines));
  EXPECT_EQ(lines, (std::vector<std::string>{"ab", "cde"}));
  lines.clear();
  EXPECT_FALSE(s.feed("0123456789abc\nok\n", 17, lines));
  EXPECT_EQ(lines, (std::vector<std::string>{"01234567", "ok"}));
}

TEST(ChildProcess, NoShellExplicitEnvironmentNoLeaks) {
  TempDir dir;
  const int before = open_descriptors();
  setenv("SONIC_TEST_SECRET", "do-not-leak", 1);
  {
    SpawnSpec spec;
    // Reports its environment and its open descriptors, then exits.
    spec.argv = {"/usr/bin/python3", "-c",
                 "import os,sys; sys.stdout.write(repr(sorted(os.environ))+'\\n'); "
                 "sys.stdout.write(repr(sorted(int(f) for f in os.listdir('/proc/self/fd')))+'\\n')"};
    spec.environment = engine_environment({{"EXTRA", "1"}});
    ChildProcess child(spec);
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(child.stdout_fd(), buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      else if (n == 0) break;
      else std::this_thread::sleep_for(5ms);  // non-blocking pipe: wait for the child's output
    }
    EXPECT_EQ(out.find("SONIC_TEST_SECRET"), std::string::npos) << out;
    EXPECT_NE(out.find("'EXTRA'"), std::string::npos) << out;
    EXPECT_NE(out.find("'PATH'"), std::string::npos) << out;
    // Only 0, 1, 2 and the one listdir itself opens.
    EXPECT_NE(out.find("[0, 1, 2, 3]"), std::string::npos) << out;
    int status = child.kill_and_reap();
    EXPECT_TRUE(WIFEXITED(status) || WIFSIGNALED(status));
  }
  unsetenv("SONIC_TEST_SECRET");
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_FALSE(has_unreaped_children());
  SpawnSpec missing;
  missing.argv = {"/nonexistent/engine"};
  try {
    ChildProcess child(missing);
    ADD_FAILURE() << "a missing program started";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::engine_unavailable);
    EXPECT_NE(e.message().find("No such file"), std::string::npos) << e.message();
  }
  EXPECT_EQ(open_descriptors(), before);
}

// A Python engine written by the test.
EngineProcessSettings python_engine(const TempDir& dir, const std::string& name, const std::string& code) {
  test::write_file(dir / (name + ".py"), code);
  EngineProcessSettings s;
  s.name = name;
  s.spawn.argv = {"/usr/bin/python3", (dir / (name + ".py")).string()};
  s.spawn.environment = engine_environment({});
  s.ready_timeout = 3s;
  s.cancel_timeout = 1s;
  s.stall_timeout = 2s;
  s.backoff_min = 100ms;
  return s;
}

const char* kReady = R"(import json, sys, time
def send(m): sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
send({"type": "ready", "protocol": 1, "name": "t", "version": "1"})
)";

EngineProcessStatus wait_for_state(EngineProcess& p, EngineState state, std::chrono::seconds patience = 20s) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  EngineProcessStatus s;
  while (std::chrono::steady_clock::now() < deadline) {
    s = p.status();
    if (s.state == state) return s;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "engine never reached state " << engine_state_name(state) << "; it is "
                << engine_state_name(s.state) << ": " << s.reason;
  return s;
}

TEST(EngineProcess, RefusesJunkFloodOldProtocolAndSilence) {
  TempDir dir;
  const int before = open_descriptors();
  const std::pair<std::string, std::string> cases[] = {
      {"print('hello from a library', flush=True)\nimport sys\nfor l in sys.stdin: pass\n", "not JSON: 'hello from a library'"},
      {"import sys\nwhile True: sys.stdout.write('x' * 65536); sys.stdout.flush()\n", "over 65536 bytes"},
      {"print('{\"type\":\"ready\",\"protocol\":9,\"version\":\"1\"}', flush=True)\nimport sys\nfor l in sys.stdin: pass\n",
       "speaks protocol 9"},
      {"import sys\nfor l in sys.stdin: pass\n", "did not send 'ready' within 3 s"},
      {"import sys\nsys.exit(7)\n", "exited with code 7"},
  };
  int i = 0;
  for (const auto& [code, reason] : cases) {
    EngineProcess p(python_engine(dir, "bad" + std::to_string(i++), code));
    auto s = wait_for_state(p, EngineState::crashed);
    EXPECT_NE(s.reason.find(reason), std::string::npos) << s.reason;
    EXPECT_TRUE(s.start_failed);
    CancelToken cancel;
    try {
      p.run_job("j", nlohmann::json::object(), nullptr, cancel);
      ADD_FAILURE() << "a job ran on an engine that never started";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::engine_unavailable);
      EXPECT_NE(e.message().find(reason), std::string::npos) << e.message();
    }
  }
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_FALSE(has_unreaped_children());
}

TEST(EngineProcess, JobsProgressErrorsCancelStallAndRestart) {
  TempDir dir;
  const int before = open_descriptors();
  {
    // A scripted engine: the job's params say what it does.
    EngineProcess p(python_engine(dir, "scripted", std::string(kReady) + R"(
import os, threading
jobs = []
def reader():
    for line in sys.stdin:
        m = json.loads(line)
        if m["type"] == "cancel" and m["job"].startswith("polite"):
            send({"type": "error", "job": m["job"], "code": "canceled", "message": "x"})
        if m["type"] == "job":
            jobs.append(m)
    os._exit(0)
threading.Thread(target=reader, daemon=True).start()
while True:
    while not jobs: time.sleep(0.01)
    m = jobs.pop(0); j = m["job"]; act = m["act"]
    send({"type": "progress", "job": j, "stage": "work", "fraction": 0.5})
    if act == "ok": send({"type": "done", "job": j, "frames": {"format": "rgb24", "path": "/x", "fps": 25}, "device": "cpu", "peak_memory_bytes": 1234, "memory_kind": "host"})
    elif act == "noface": send({"type": "error", "job": j, "code": "no_face", "message": "No face.", "field": "image"})
    elif act == "weird": send({"type": "error", "job": j, "code": "queue_full", "message": "odd"})
    elif act == "die": os._exit(3)
    elif act in ("stall", "polite"): time.sleep(30)
)"));
    wait_for_state(p, EngineState::ready);
    CancelToken none;
    std::vector<std::string> stages;
    auto done = p.run_job("a", {{"act", "ok"}}, [&](const ProgressMessage& m) { stages.push_back(m.stage); }, none);
    EXPECT_EQ(stages, std::vector<std::string>{"work"});
    EXPECT_EQ(*done.peak_memory_bytes, 1234);
    EXPECT_EQ(p.status().last_peak_memory_bytes, 1234);

    auto expect_error = [&](const std::string& id, const std::string& act, ErrorCode code, const std::string& text,
                            const CancelToken& cancel) {
      try {
        p.run_job(id, {{"act", act}}, nullptr, cancel);
        ADD_FAILURE() << act << " succeeded";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << act << ": " << e.message();
        EXPECT_NE(e.message().find(text), std::string::npos) << e.message();
      }
    };
    expect_error("b", "noface", ErrorCode::no_face, "No face.", none);
    expect_error("c", "weird", ErrorCode::engine_failed, "odd", none);  // not a job's code

    // A cancel the engine honours: canceled, the process stays.
    CancelToken polite;
    std::thread canceler([&] {
      std::this_thread::sleep_for(300ms);  // lets the job start; the cancel is what is tested
      polite.cancel();
    });
    const int pid = p.status().pid;
    expect_error("polite1", "polite", ErrorCode::canceled, "canceled", polite);
    canceler.join();
    EXPECT_EQ(p.status().pid, pid);

    // A cancel it ignores: canceled after cancel_timeout, the process killed and restarted.
    CancelToken ignored;
    std::thread canceler2([&] {
      std::this_thread::sleep_for(300ms);
      ignored.cancel();
    });
    auto t0 = std::chrono::steady_clock::now();
    expect_error("rude", "stall", ErrorCode::canceled, "canceled", ignored);
    canceler2.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    wait_for_state(p, EngineState::ready);
    EXPECT_NE(p.status().pid, pid);

    // Silence during a job: engine_failed after stall_timeout, then a restart.
    expect_error("d", "stall", ErrorCode::engine_failed, "sent nothing for 2 s", none);
    wait_for_state(p, EngineState::ready);
    // Death after progress: engine_failed with the exit, then the next job works.
    expect_error("e", "die", ErrorCode::engine_failed, "exited with code 3", none);
    p.run_job("f", {{"act", "ok"}}, nullptr, none);
    EXPECT_GE(p.status().restarts, 3);
    p.stop();
    EXPECT_EQ(p.status().state, EngineState::stopped);
  }
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_FALSE(has_unreaped_children());
}

}  // namespace
}  // namespace sonic::engine::external
