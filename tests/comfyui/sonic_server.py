"""The real `sonic-server serve` as a child process for the ComfyUI node tests.

Started like tests/integration/server_process.h starts it: on a free loopback port
(--port 0, the port read back from --port-file) with its own temporary data dir; stopped
with SIGTERM, which must end it with exit status 0. Unlike the C++ suites no limit flags are
added: the nodes meet the server's own defaults, as a ComfyUI user's would.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import SOURCE_DIR

BINARY = Path(os.environ.get("SONIC_BINARY", SOURCE_DIR / "build" / "release" / "sonic-server"))


class SonicServer:
    def __init__(self, *extra_args: str, env: dict | None = None, port: int = 0, data_dir: Path | None = None):
        """`port` 0 = any free one; `data_dir` None = a folder of its own, removed by close()."""
        self.temp = Path(tempfile.mkdtemp(prefix="sonic-comfyui-"))
        self.data_dir = Path(data_dir) if data_dir else self.temp / "data"
        self.log_path = self.temp / "server.log"
        port_file = self.temp / "port"
        args = [str(BINARY), "serve", "--port", str(port), "--host", "127.0.0.1", "--data-dir", str(self.data_dir),
                "--port-file", str(port_file), "--log-level", "info", *extra_args]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 120
        self.port = 0
        while time.monotonic() < deadline:
            if port_file.exists():
                text = port_file.read_text().strip()
                if text.isdigit() and int(text) > 0:
                    self.port = int(text)
                    break
            if self.process.poll() is not None:
                raise RuntimeError(f"sonic-server exited at start ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.05)
        if not self.port:
            self.process.kill()
            raise RuntimeError(f"sonic-server did not start:\n{self.log()}")
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status (the tests expect 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return -1
        return self.process.returncode

    def close(self):
        code = self.stop()
        log = self.log()
        self._log.close()
        shutil.rmtree(self.temp, ignore_errors=True)
        if code != 0:
            raise AssertionError(f"sonic-server exited with {code}; log:\n{log[-6000:]}")
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if bad in log:
                raise AssertionError(f"sonic-server log shows {bad}:\n{log[-6000:]}")

    # -- small API helpers for assertions -------------------------------------------------

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, body) of one request; no retries, no interpretation."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                return reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def get_json(self, path: str, headers: dict | None = None):
        status, _, body = self.request("GET", path, headers=headers)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def jobs(self, headers: dict | None = None) -> list:
        return self.get_json("/api/jobs?limit=100", headers)["jobs"]

    def job(self, job_id: str, headers: dict | None = None) -> dict:
        return self.get_json("/api/jobs/" + job_id, headers)

    def submit_async(self, image_path, audio_path, config: dict) -> str:
        """POST /api/sonic/generate (Prefer: respond-async) straight from files; the job id."""
        boundary = "test-boundary-7d1f"
        parts = []
        for name, path in (("image", image_path), ("audio", audio_path)):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{Path(path).name}"'
                         f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + Path(path).read_bytes() + b"\r\n")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="config"\r\n\r\n{json.dumps(config)}\r\n'
                     f"--{boundary}--\r\n".encode())
        status, _, body = self.request("POST", "/api/sonic/generate", b"".join(parts),
                                       {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                        "Prefer": "respond-async"})
        assert status == 202, f"{status} {body[:300]!r}"
        return json.loads(body)["job_id"]

    def cancel(self, job_id: str):
        status, _, body = self.request("POST", f"/api/jobs/{job_id}/cancel", b"", {"Content-Type": "application/json"})
        assert status == 200, f"{status} {body[:300]!r}"

    def wait_until_final(self, job_id: str, timeout_s: float = 120.0) -> dict:
        """The job once final (a canceled one stops within a frame of work), or as it is at the deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
                return job
            time.sleep(0.1)

    def metric(self, name: str, **labels) -> float:
        """Sum of a Prometheus counter's samples whose labels include `labels`."""
        _, _, body = self.request("GET", "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
