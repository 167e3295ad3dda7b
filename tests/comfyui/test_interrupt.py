"""ComfyUI's Cancel while Sonic (server) runs: the node ends as "interrupted" (not "error"),
the remote job is canceled on the real server, and nothing is left in ComfyUI's temp folder.
And the opposite: a server restarting under a waiting node is waited for, not an error.

The node runs on a thread of its own, as on ComfyUI's prompt worker; the test presses
Cancel (sets ComfyUI's interrupt flag) once the node shows the stage it is waiting for.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import unittest
from pathlib import Path

import harness  # first: it puts the ComfyUI stand-ins on sys.path

import comfy.model_management  # noqa: E402
from fault_proxy import FaultProxy
from node_test_case import PORTRAIT, SPEECH_7S, NodeTestCase, job_id_of
from sonic_server import SonicServer

JOIN_S = 60.0  # a node that ignores Cancel hangs past this


class NodeThread:
    """Runs Sonic (server) on a thread and keeps its outcome."""

    def __init__(self, case: NodeTestCase, **inputs):
        self.outcome = None
        self._thread = threading.Thread(target=self._run, args=(case, inputs), name="comfyui-prompt-worker")
        self._thread.start()

    def _run(self, case, inputs):
        self.outcome = case.generate(**inputs)

    def join(self):
        self._thread.join(JOIN_S)
        return self.outcome


def shows(prefix):
    return lambda recorder: any(text.startswith(prefix) for _, text in recorder.texts)


def press_cancel():
    """What ComfyUI's Cancel button does (POST /interrupt): raise the interrupt flag."""
    comfy.model_management.interrupt_current_processing(True)


class InterruptTest(NodeTestCase):
    server_args = ("--workers", "1")

    def test_cancel_during_the_render_cancels_the_job_on_the_server(self):
        run = NodeThread(self, audio=harness.load_audio(SPEECH_7S), duration=7.0, min_resolution=1024, seed=1)
        self.assertTrue(self.recorder.wait_for(shows("render"), 120), self.recorder.texts)
        press_cancel()
        outcome = run.join()
        self.assertIsNotNone(outcome, "the node did not stop")
        self.assertEqual(outcome.status, "interrupted", outcome.message)
        job = self.server.jobs()[0]
        self.assertEqual(self.server.wait_until_final(job["job_id"])["status"], "canceled")
        self.assertEqual(self.temp_files(), [])
        # Stopped during the render: the bar never reached the download.
        self.assertLess(max(value for _, value, _ in self.recorder.values), 90)

    def test_cancel_while_queued_cancels_the_queued_job(self):
        blocker = self.server.submit_async(PORTRAIT, SPEECH_7S, {"min_resolution": 1024, "seed": 99})
        self.addCleanup(self.server.wait_until_final, blocker)
        self.addCleanup(self.server.cancel, blocker)
        run = NodeThread(self, seed=2)
        self.assertTrue(self.recorder.wait_for(shows("queued"), 120), self.recorder.texts)
        press_cancel()
        outcome = run.join()
        self.assertIsNotNone(outcome, "the node did not stop")
        self.assertEqual(outcome.status, "interrupted", outcome.message)
        mine = [job for job in self.server.jobs() if job["params"].get("seed") == 2]
        self.assertEqual(len(mine), 1)
        final = self.server.wait_until_final(mine[0]["job_id"])
        self.assertEqual(final["status"], "canceled")
        self.assertIsNone(final.get("started_at_ms"), "it never ran")

    def test_the_interrupt_flag_is_honoured_before_anything_is_sent(self):
        before = len(self.server.jobs())
        server = self.connection()
        press_cancel()
        outcome = self.generate(server=server, seed=3)
        self.assertEqual(outcome.status, "interrupted")
        self.assertEqual(len(self.server.jobs()), before)


class InterruptWhileWaitingTest(NodeTestCase):
    def setUp(self):
        super().setUp()
        self.proxy = FaultProxy(self.server.port)
        self.addCleanup(self.proxy.close)

    def test_cancel_during_a_long_retry_after_stops_at_once_and_makes_no_job(self):
        busy = json.dumps({"success": False, "code": "rate_limited", "error": "Too many videos requested."}).encode()
        self.proxy.plan("POST", r"^/api/sonic/generate$",
                        ("status", 429, {"Retry-After": "120", "Content-Type": "application/json"}, busy))
        run = NodeThread(self, server=self.connection(url=self.proxy.url), seed=4)
        self.assertTrue(self.proxy.wait_for_request("POST", r"^/api/sonic/generate$"))
        press_cancel()
        outcome = run.join()  # well before the 120 s the server asked for
        self.assertIsNotNone(outcome, "the node kept waiting")
        self.assertEqual(outcome.status, "interrupted", outcome.message)
        self.assertEqual(len(self.proxy.requests("POST", r"^/api/sonic/generate$")), 1)
        self.assertEqual(self.server.jobs(), [])

    def test_cancel_during_the_download_leaves_no_partial_file(self):
        self.proxy.plan("GET", r"^/output/", ("slow", 512))  # ~25 kB/s: seconds for the video
        run = NodeThread(self, server=self.connection(url=self.proxy.url), seed=5, duration=3.0)
        self.assertTrue(self.recorder.wait_for(shows("downloading "), 120), self.recorder.texts)
        press_cancel()
        outcome = run.join()
        self.assertIsNotNone(outcome, "the node did not stop")
        self.assertEqual(outcome.status, "interrupted", outcome.message)
        self.assertEqual(self.temp_files(), [])
        # The job itself had finished; the video stays on the server for a later run.
        self.assertEqual(self.server.jobs()[0]["status"], "succeeded")


class ServerRestartTest(NodeTestCase):
    """The server stops (SIGTERM puts the running job back in its queue) and starts again on
    the same port and data: the node's event stream ends with `shutdown`, it reconnects with
    Last-Event-ID once the server is back, and gets the video."""

    @classmethod
    def setUpClass(cls):
        cls.data = Path(tempfile.mkdtemp(prefix="sonic-restart-"))
        cls.server = SonicServer("--shutdown-grace-s", "0", data_dir=cls.data / "data")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.data, ignore_errors=True)

    def test_a_restart_while_the_node_waits_is_waited_out(self):
        first = self.server
        run = NodeThread(self, server=self.connection(max_retries=6), audio=harness.load_audio(SPEECH_7S),
                         duration=4.0, min_resolution=512, seed=1)
        self.assertTrue(self.recorder.wait_for(shows("render"), 120), self.recorder.texts)
        self.assertEqual(first.stop(), 0, first.log()[-3000:])
        stopped_ms = time.time() * 1000
        first.close()
        type(self).server = SonicServer("--shutdown-grace-s", "0", port=first.port, data_dir=self.data / "data")
        outcome = run.join()
        self.assertIsNotNone(outcome, "the node did not finish")
        self.assertSucceeded(outcome)
        job = self.server.job(job_id_of(outcome))
        # It ran again on the restarted server, and the node followed it there.
        self.assertGreater(job["started_at_ms"], stopped_ms)
        self.assertIn(f"/api/jobs/{job['job_id']}/events", self.server.log())
        self.assertEqual(outcome.outputs[1].shape[0], 100)


if __name__ == "__main__":
    unittest.main()
