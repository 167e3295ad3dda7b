"""Sonic (server) when things go wrong, against the real sonic-server.

Errors the user must act on come back as the server's own sentence; a server that is not
there is named by its URL; 429 waits for Retry-After; 5xx answers, lost answers, broken
streams and broken downloads are retried without making a second job; a server (or proxy)
without Server-Sent Events is polled instead; a job that takes too long is canceled on the
server. Network faults come from a loopback proxy that breaks chosen requests
(fault_proxy.py); everything else is the real server.
"""
from __future__ import annotations

import hashlib
import time
import unittest

import harness
from fault_proxy import FaultProxy
from node_test_case import SPEECH_7S, NodeTestCase, job_id_of
from sonic_server import free_port


class ServerSentenceTest(NodeTestCase):
    def test_no_face_shows_the_servers_sentence(self):
        outcome = self.generate(image=harness.blank_image(), seed=1)
        self.assertEqual(outcome.status, "error")
        failed = [job for job in self.server.jobs() if job["status"] == "failed"]
        self.assertEqual(len(failed), 1, failed)
        self.assertEqual(failed[0]["error"]["code"], "no_face")
        self.assertEqual(outcome.message, failed[0]["error"]["message"])
        self.assertIn("face", outcome.message.lower())
        self.assertEqual(self.temp_files(), [])

    def test_a_value_the_server_refuses_shows_its_sentence_and_makes_no_job(self):
        before = len(self.server.jobs())
        outcome = self.generate(min_resolution=128, seed=2)  # the widget allows it, the server does not
        self.assertEqual(outcome.status, "error")
        self.assertIn("'min_resolution' is 128", outcome.message)
        self.assertIn("256", outcome.message)
        self.assertEqual(len(self.server.jobs()), before)

    def test_a_server_that_is_not_there_is_named_by_its_url(self):
        url = f"http://127.0.0.1:{free_port()}"
        started = time.monotonic()
        outcome = self.generate(server=self.connection(url=url, max_retries=1), seed=3)
        self.assertEqual(outcome.status, "error")
        self.assertIn(f"Cannot reach sonic-server at {url}", outcome.message)
        self.assertIn("connection refused", outcome.message)
        self.assertIn("tried 2 times", outcome.message)
        self.assertLess(time.monotonic() - started, 20)

    def test_a_job_over_the_job_timeout_is_canceled_on_the_server(self):
        audio = harness.load_audio(SPEECH_7S)
        outcome = self.generate(server=self.connection(job_timeout_s=1), audio=audio, min_resolution=1024,
                                duration=7.0, seed=4)
        self.assertEqual(outcome.status, "error")
        self.assertIn("job_timeout_s", outcome.message)
        job_id = outcome.exception.job_id
        self.assertEqual(self.server.wait_until_final(job_id)["status"], "canceled")


class RateLimitTest(NodeTestCase):
    # One generate every 5 s, no burst: a request right after another gets 429 with a
    # Retry-After of up to 5 s (room for a slow machine between the two).
    server_args = ("--rate-limit-per-min", "12", "--rate-limit-burst", "1")

    def use_up_the_token(self):
        for _ in range(3):  # the previous test may have taken it: wait as the server says
            status, headers, _ = self.server.request("POST", "/api/sonic/generate", b"x",
                                                     {"Content-Type": "text/plain"})
            if status != 429:
                break
            time.sleep(int(headers["Retry-After"]))
        self.assertEqual(status, 415)  # passed the limiter (taking its token), then refused for its body

    def test_429_waits_for_retry_after_and_succeeds(self):
        refused_before = self.server.metric("sonic_http_requests_total", status="429")
        self.use_up_the_token()
        outcome = self.generate(seed=10)
        self.assertSucceeded(outcome)
        self.assertGreater(self.server.metric("sonic_http_requests_total", status="429"), refused_before)

    def test_without_retries_the_429_sentence_is_shown(self):
        self.use_up_the_token()
        outcome = self.generate(server=self.connection(max_retries=0), seed=11)
        self.assertEqual(outcome.status, "error")
        self.assertIn("Too many videos requested", outcome.message)
        self.assertIn("max_retries", outcome.message)


class FaultTest(NodeTestCase):
    def setUp(self):
        super().setUp()
        self.proxy = FaultProxy(self.server.port)
        self.addCleanup(self.proxy.close)

    def via_proxy(self, **widgets):
        return self.connection(url=self.proxy.url, **widgets)

    def rendered_jobs(self, seed):
        return [job for job in self.server.jobs() if job["params"].get("seed") == seed and not job["cached"]]

    def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_job(self):
        self.proxy.plan("POST", r"^/api/sonic/generate$", "drop_response")
        outcome = self.generate(server=self.via_proxy(), seed=20)
        self.assertSucceeded(outcome)
        posts = self.proxy.requests("POST", r"^/api/sonic/generate$")
        self.assertEqual(len(posts), 2)
        keys = {post.headers.get("idempotency-key") for post in posts}
        self.assertEqual(len(keys), 1, keys)
        self.assertTrue(keys.pop())
        self.assertEqual(posts[0].headers.get("prefer"), "respond-async")
        self.assertEqual(len(self.rendered_jobs(20)), 1, self.server.jobs())

    def test_each_execution_has_its_own_key(self):
        self.assertSucceeded(self.generate(server=self.via_proxy(), seed=21))
        self.assertSucceeded(self.generate(server=self.via_proxy(), seed=21))
        keys = [post.headers.get("idempotency-key") for post in self.proxy.requests("POST", r"^/api/sonic/generate$")]
        self.assertEqual(len(keys), 2)
        self.assertNotEqual(keys[0], keys[1])

    def test_5xx_answers_are_retried(self):
        self.proxy.plan("POST", r"^/api/sonic/generate$",
                        ("status", 503, {"Retry-After": "1", "Content-Type": "text/html"}, b"<h1>upstream busy</h1>"))
        self.proxy.plan("GET", r"^/api/jobs/[^/]+$",
                        ("status", 502, {"Content-Type": "text/html"}, b"<h1>bad gateway</h1>"), "reset")
        outcome = self.generate(server=self.via_proxy(), seed=22)
        self.assertSucceeded(outcome)
        self.assertEqual(len(self.proxy.requests("POST", r"^/api/sonic/generate$")), 2)
        self.assertEqual(len(self.rendered_jobs(22)), 1)

    def test_without_event_streams_the_job_is_polled(self):
        self.proxy.plan("GET", r"/events$", ("status", 502, {"Content-Type": "text/html"}, b"<h1>no SSE here</h1>"))
        outcome = self.generate(server=self.via_proxy(), seed=23, duration=2.0)
        self.assertSucceeded(outcome)
        self.assertEqual(len(self.proxy.requests("GET", r"/events$")), 1)
        self.assertGreaterEqual(len(self.proxy.requests("GET", r"^/api/jobs/[^/]+$")), 2)
        values = [value for _, value, _ in self.recorder.values]
        self.assertEqual(values, sorted(values))
        self.assertEqual(values[-1], 100)

    def test_a_broken_event_stream_resumes_after_the_last_event(self):
        self.proxy.plan("GET", r"/events$", "cut_after_first_event")
        outcome = self.generate(server=self.via_proxy(), seed=24)
        self.assertSucceeded(outcome)
        streams = self.proxy.requests("GET", r"/events$")
        self.assertGreaterEqual(len(streams), 2)
        self.assertNotIn("last-event-id", streams[0].headers)
        self.assertTrue(streams[1].headers.get("last-event-id", "").isdigit(), streams[1].headers)

    def test_a_broken_download_resumes_with_range(self):
        self.proxy.plan("GET", r"^/output/", ("cut_after_bytes", 20000))
        outcome = self.generate(server=self.via_proxy(), seed=25, duration=2.0)
        self.assertSucceeded(outcome)
        downloads = self.proxy.requests("GET", r"^/output/")
        self.assertEqual(len(downloads), 2)
        self.assertNotIn("range", downloads[0].headers)
        self.assertRegex(downloads[1].headers.get("range", ""), r"^bytes=\d+-$")
        job = self.server.job(job_id_of(outcome))
        served = self.server.data_dir / "outputs" / job["video_url"].split("/output/")[1].split("?")[0]
        with open(outcome.outputs[0].get_stream_source(), "rb") as got, open(served, "rb") as want:
            self.assertEqual(hashlib.sha256(got.read()).digest(), hashlib.sha256(want.read()).digest())
        self.assertEqual(self.temp_files(), [f"sonic_server/sonic_{job['job_id']}.mp4"])


if __name__ == "__main__":
    unittest.main()
