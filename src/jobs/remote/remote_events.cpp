// RedisDispatcher: reading and applying the workers' events (see redis_dispatcher.h).
//
// Which events count: those of the job's current attempt and current stream entry. Every
// one of them was posted through the lease script, so the run that posted it held the
// lease at that moment, and the stream keeps them in the order they were posted: a run
// that took over posts after the run it replaced could post anything more. So the run
// named by the latest event is the job's current run (a `started` lost with a Redis crash
// is inferred from the run's next event). Events of an older attempt or entry are dropped
// and counted (sonic_remote_events_dropped_total); events of a finished job change nothing.
#include "jobs/remote/redis_dispatcher.h"
#include "util/log.h"

namespace sonic::jobs::remote {
using namespace std::chrono_literals;

void RedisDispatcher::events_loop(std::stop_token stop) {
  RedisConnection redis(config_.redis, "sonic-server:events");
  const std::string stream = leases_.keys().events();
  bool ready = false, backlog = true;
  while (!stop.stop_requested()) {
    try {
      if (!ready) {
        leases_.ensure_events_group(redis);
        for (const auto& engine : engines_) leases_.ensure_engine_group(redis, engine);
        ready = true;
        backlog = true;
      }
      // First what this consumer read but never acknowledged (the server stopped between
      // applying and acknowledging: applying again is harmless), then new events.
      RedisReply reply =
          backlog ? redis.command({"XREADGROUP", "GROUP", kServerGroup, kServerConsumer, "COUNT", "100", "STREAMS",
                                   stream, "0"})
                  : redis.blocking_command({"XREADGROUP", "GROUP", kServerGroup, kServerConsumer, "COUNT", "100",
                                            "BLOCK", "1000", "STREAMS", stream, ">"},
                                           1000ms);
      if (!reply.is_array() || reply.size() == 0 || reply[0].size() < 2) {
        backlog = false;
        continue;
      }
      const RedisReply& entries = reply[0][1];
      if (backlog && entries.size() == 0) {
        backlog = false;
        continue;
      }
      std::vector<std::string> ack = {"XACK", stream, kServerGroup};
      std::vector<std::string> del = {"XDEL", stream};
      for (const RedisReply& entry : entries.elements) {
        if (entry.size() >= 2 && entry[1].is_array()) {
          Fields fields;
          for (std::size_t i = 0; i + 1 < entry[1].size(); i += 2)
            fields.emplace_back(entry[1][i].text(), entry[1][i + 1].text());
          try {
            apply(WorkerEvent::from_fields(fields));
          } catch (const std::exception& e) {
            log::error("a job event could not be applied", {{"entry", entry[0].text()}, {"error", e.what()}});
          }
        }
        ack.push_back(entry[0].text());
        del.push_back(entry[0].text());
      }
      if (ack.size() > 3) redis.pipeline({ack, del});
    } catch (const RedisUnavailable&) {
      ready = false;  // the watchdog reports the outage
      redis.wait_backoff(stop);
    } catch (const RedisReplyError& e) {
      log::warn("reading job events failed; making the group again", {{"error", e.message()}});
      ready = false;
      redis.wait_backoff(stop);
    }
  }
}

void RedisDispatcher::apply(const WorkerEvent& ev) {
  auto job = context_.store.get(ev.job_id);
  std::unique_lock lock(mutex_);
  auto it = outstanding_.find(ev.job_id);
  if (!job || is_final(job->state) || it == outstanding_.end()) return;  // finished, canceled or deleted
  Outstanding& out = it->second;
  if (ev.attempt != out.attempt.attempt || ev.entry != out.attempt.entry_id) {
    ++events_dropped_;
    log::info("event of an old attempt dropped", {{"job_id", ev.job_id}, {"type", ev.type}, {"attempt", ev.attempt},
                                                  {"current_attempt", out.attempt.attempt}, {"worker", ev.worker}});
    return;
  }
  ++events_applied_;
  out.last_event = std::chrono::steady_clock::now();

  if (ev.type == event_type::dead) {
    outstanding_.erase(it);
    lock.unlock();
    wake_feeder_.notify_all();
    int deliveries = ev.data.value("deliveries", ev.delivery);
    fail_job(*job, "worker_crashed",
             "The job was started " + std::to_string(deliveries) +
                 " times and each time the worker running it stopped before finishing (crashed, was killed or "
                 "lost Redis). It was moved to the dead-letter stream " + leases_.keys().dead() +
                 " and not run again; check the workers' logs for this job id.",
             "");
    return;
  }
  if (ev.type == event_type::released) {
    out.attempt.entry_id = ev.new_entry;
    out.attempt.worker.clear();
    out.attempt.delivery = 0;
    out.running = false;
    context_.store.put_remote_attempt(out.attempt);
    lock.unlock();
    if (job->state == JobState::running) context_.updates.requeued(*job, false);
    log::info("remote job handed back", {{"job_id", ev.job_id}, {"worker", ev.worker}, {"entry", ev.new_entry}});
    return;
  }
  if (ev.worker != out.attempt.worker || ev.delivery != out.attempt.delivery) {
    bool takeover = !out.attempt.worker.empty();
    std::string before = out.attempt.worker;
    out.attempt.worker = ev.worker;
    out.attempt.delivery = ev.delivery;
    out.running = true;
    context_.store.put_remote_attempt(out.attempt);
    context_.updates.started(*job);
    log::info(takeover ? "remote job taken over" : "remote job started",
              {{"job_id", ev.job_id}, {"attempt", ev.attempt}, {"worker", ev.worker}, {"delivery", ev.delivery},
               {"previous_worker", before}});
  }
  if (ev.type == event_type::progress) {
    lock.unlock();
    context_.updates.progress(ev.job_id, ev.data.value("stage", std::string("render")), ev.data.value("fraction", 0.0),
                              ev.data.value("elapsed_s", 0.0));
  } else if (ev.type == event_type::failed || ev.type == event_type::canceled) {
    outstanding_.erase(it);
    lock.unlock();
    wake_feeder_.notify_all();
    if (ev.type == event_type::canceled)
      fail_job(*job, "canceled", ev.data.value("message", std::string("Canceled while running.")), "");
    else
      fail_job(*job, ev.data.value("code", std::string("engine_failed")),
               ev.data.value("message", std::string("The worker failed the job.")), ev.data.value("field", std::string()));
  }
  // started: recorded above; succeeded: the upload already finished the job.
}

}  // namespace sonic::jobs::remote
