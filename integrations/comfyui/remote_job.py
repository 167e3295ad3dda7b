"""One video from sonic-server, from upload to a file on ComfyUI's disk.

submit (Prefer: respond-async) → follow the job → download the video. Following prefers the
job's Server-Sent Events (progress as it happens, docs/api.md) and reconnects with
Last-Event-ID when a stream breaks; when no stream can be had (a proxy that does not pass
SSE, repeated failures) it polls GET /api/jobs/{id} instead. Whatever stops the node while
the job is unfinished — ComfyUI's interrupt, the job timeout, a lost server — cancels the
remote job first (POST /api/jobs/{id}/cancel), so nobody's GPU keeps rendering a video no
one will collect.

Progress goes to `report(fraction, text)`: `fraction` is of the whole node run (the job's
own fraction scaled to RENDER_SHARE, the download the rest) and never goes backwards.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .event_stream import StreamClosed
from .sonic_api import NETWORK_ERRORS, SonicClient, SonicError, backoff_s

log = logging.getLogger("sonic_server")

RENDER_SHARE = 0.9
POLL_INTERVAL_S = 0.5
EVENT_WAIT_S = 0.2
FINAL = ("succeeded", "failed", "canceled")

Report = Callable[[float, str], None]


@dataclass
class Finished:
    job: dict  # GET /api/jobs/{id} of the succeeded job
    video_path: str


def _stage_text(status: str, stage: str, fraction: Optional[float], eta_s: Optional[float]) -> str:
    if status == "queued":
        return "queued on sonic-server"
    words = stage or status or "running"
    if fraction is not None:
        words += f" {int(fraction * 100)}%"
    if eta_s is not None and eta_s >= 1:
        words += f", about {int(round(eta_s))} s left"
    return words


class _Follower:
    def __init__(self, client: SonicClient, job_id: str, report: Report):
        self.client = client
        self.job_id = job_id
        self.report = report
        timeout = client.settings.job_timeout_s
        self.deadline = time.monotonic() + timeout if timeout and timeout > 0 else None

    def _check(self):
        self.client.check_interrupt()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SonicError(f"Job {self.job_id} did not finish within {self.client.settings.job_timeout_s:g} s "
                             "(job_timeout_s in the Sonic server node); it was canceled on the server.",
                             code="timeout", job_id=self.job_id)

    def _show(self, status: str, stage: str, fraction: Optional[float], eta_s: Optional[float] = None):
        self.report(RENDER_SHARE * (fraction or 0.0), _stage_text(status, stage, fraction, eta_s))

    def _show_job(self, job: dict):
        self._show(job.get("status", ""), job.get("stage", ""), job.get("progress"))

    def follow(self) -> dict:
        """The job once final (GET /api/jobs/{id}); cancels it when leaving any other way."""
        final = None
        try:
            final = self._follow()
            return final
        finally:
            if final is None:
                log.info("Sonic (server): canceling job %s on %s", self.job_id, self.client.settings.url)
                self.client.cancel_quietly(self.job_id)

    def _follow(self) -> dict:
        last_id = 0
        failures = 0  # stream attempts in a row that brought no event
        use_events = True
        while True:
            self._check()
            if not use_events:
                job = self.client.job(self.job_id)
                self._show_job(job)
                if job.get("status") in FINAL:
                    return job
                self.client.wait(POLL_INTERVAL_S)
                continue
            try:
                stream = self.client.open_events(self.job_id, last_id)
            except NETWORK_ERRORS as error:
                stream, failures = None, failures + 1
                log.info("Sonic (server): event stream of job %s failed (%s)", self.job_id, error)
            else:
                if stream is None:
                    log.info("Sonic (server): %s serves no event stream; polling job %s",
                             self.client.settings.url, self.job_id)
                    use_events = False
                    continue
            if stream is not None:
                with stream:
                    while True:
                        self._check()
                        try:
                            event = stream.next(EVENT_WAIT_S)
                        except StreamClosed:
                            break
                        if event is None:
                            continue
                        failures = 0
                        last_id = event.id or last_id
                        data = event.data
                        if event.type == "status":
                            self._show(data.get("status", ""), data.get("stage", ""), data.get("progress"))
                        elif event.type == "progress":
                            self._show("running", data.get("stage", ""), data.get("fraction"), data.get("eta_s"))
                        elif event.type in ("done", "failed"):
                            return self.client.job(self.job_id)
                failures += 1
            if failures > self.client.settings.max_retries:
                log.info("Sonic (server): no usable event stream for job %s; polling", self.job_id)
                use_events = False
                continue
            # The stream ended early (a restart, a proxy's timeout): the job's own state says
            # whether it is worth reconnecting at all.
            self.client.wait(backoff_s(max(0, failures - 1)))


def _raise_unless_succeeded(job: dict, job_id: str):
    status = job.get("status")
    if status == "succeeded":
        return
    if status == "canceled":
        raise SonicError(f"Job {job_id} was canceled on sonic-server (by another client or the server's operator).",
                         code="canceled", job_id=job_id)
    error = job.get("error") or {}
    raise SonicError(error.get("message") or f"Job {job_id} failed on sonic-server.",
                     code=error.get("code"), field=error.get("field"), job_id=job_id)


def make_video(client: SonicClient, *, image_png: bytes, audio_wav: bytes, config: dict, preset: Optional[str],
               idempotency_key: str, directory: str, report: Report) -> Finished:
    """Runs one generate request to its end and returns the finished job and its video file."""
    report(0.0, "uploading to sonic-server")
    accepted = client.submit(image_png, audio_wav, config, preset, idempotency_key)
    job_id = accepted.get("job_id")
    if not job_id:
        raise SonicError(f"sonic-server at {client.settings.url} accepted the request but named no job.")
    how = "cached" if accepted.get("cached") else "joined" if accepted.get("joined") else accepted.get("status")
    log.info("Sonic (server): job %s on %s (%s)", job_id, client.settings.url, how)
    if accepted.get("status") == "succeeded":
        job = client.job(job_id)
    else:
        job = _Follower(client, job_id, report).follow()
    _raise_unless_succeeded(job, job_id)
    video_url = job.get("video_url")
    if not video_url:
        raise SonicError(f"Job {job_id} succeeded but its video is no longer on the server "
                         "(outputs expire after the retention period); run the node again.", job_id=job_id)

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"sonic_{job_id}.mp4")

    def downloaded(received: int, total: Optional[int]):
        share = received / total if total else 0.0
        megabytes = received / 1e6
        report(RENDER_SHARE + (1.0 - RENDER_SHARE) * min(1.0, share), f"downloading {megabytes:.1f} MB")

    report(RENDER_SHARE, "downloading")
    client.download(video_url, path, downloaded)
    report(1.0, "done")
    return Finished(job=job, video_path=path)
