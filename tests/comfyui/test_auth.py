"""The token with a server that needs one (--auth apikey on the real sonic-server).

The Sonic server node holds the *name* of an environment variable; the key is read from the
environment when a request goes out. So the key is in nothing ComfyUI saves or shows: not
the workflow (API or UI format), not the node's output as ComfyUI prints it in an error
report, not a log line, not a progress text, not an error message.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import unittest

import harness
from node_test_case import NodeTestCase, environment, generate_inputs, job_id_of
from sonic_server import BINARY, SonicServer

KEY_ENV = "SONIC_COMFYUI_TEST_KEY"


def make_api_key(subject: str):
    """`sonic-server apikey`: (the key, its line for --api-keys-file)."""
    lines = subprocess.run([str(BINARY), "apikey", "--sub", subject], check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()
    return lines[0], lines[1]


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


class ApiKeyTest(NodeTestCase):
    @classmethod
    def setUpClass(cls):
        cls.key, line = make_api_key("comfyui")
        cls.keys_dir = tempfile.mkdtemp(prefix="sonic-keys-")
        keys_file = f"{cls.keys_dir}/keys"
        with open(keys_file, "w") as f:
            f.write(line + "\n")
        cls.server = SonicServer("--auth", "apikey", "--api-keys-file", keys_file)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.keys_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.log = LogCapture()
        root = logging.getLogger()
        self.saved_level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self.log)
        self.addCleanup(root.removeHandler, self.log)
        self.addCleanup(root.setLevel, self.saved_level)

    def assertNoKeyIn(self, text: str, where: str):
        self.assertNotIn(self.key, text, f"the key leaked into {where}")
        self.assertNotIn(self.key[len("sk_sonic_"):][:16], text, f"part of the key leaked into {where}")

    def test_the_key_comes_from_the_environment_and_is_saved_nowhere(self):
        widgets = {"url": self.server.url, "token_env": KEY_ENV, "timeout_s": 30.0, "job_timeout_s": 600,
                   "max_retries": 2}
        with environment(**{KEY_ENV: self.key}):
            connection = harness.run_node("SonicServerConnection", widgets, unique_id="2")
            self.assertEqual(connection.status, "success", connection.message)
            settings = connection.outputs[0]
            outcome = self.generate(server=settings, seed=1)
        self.assertSucceeded(outcome)
        job = self.server.job(job_id_of(outcome), headers={"Authorization": "Bearer " + self.key})
        self.assertEqual(job["status"], "succeeded")

        # The workflow as ComfyUI would save it (API format: every widget value and link).
        generate = {name: value for name, value in generate_inputs(seed=1).items()
                    if not isinstance(value, harness.Linked)}
        prompt = {"2": {"class_type": "SonicServerConnection", "inputs": widgets},
                  "5": {"class_type": "SonicServerGenerate", "inputs": {**generate, "server": ["2", 0]}}}
        self.assertNoKeyIn(json.dumps(prompt), "the API-format workflow")
        self.assertIn(KEY_ENV, json.dumps(prompt))
        # UI format: widgets_values of the same node.
        ui_values = harness.ui_widget_values(harness.node_class("SonicServerConnection"), widgets)
        self.assertNoKeyIn(json.dumps(ui_values), "the UI-format workflow")
        # ComfyUI prints a node's inputs with str() in its error report.
        self.assertNoKeyIn(str(settings) + repr(settings), "the connection's printed form")
        self.assertNoKeyIn("\n".join(self.log.lines), "the log")
        self.assertNoKeyIn(json.dumps(self.recorder.texts), "the progress texts")
        self.assertTrue(any("Sonic (server)" in line for line in self.log.lines), self.log.lines)

    def test_without_the_variable_the_servers_sentence_says_which_variable(self):
        with environment(**{KEY_ENV: None}):
            outcome = self.generate(server=self.connection(token_env=KEY_ENV), seed=2)
        self.assertEqual(outcome.status, "error")
        self.assertIn(KEY_ENV, outcome.message)
        self.assertIn("not set", outcome.message)
        status, _, body = self.server.request("GET", "/api/jobs")
        self.assertEqual(status, 401)
        self.assertIn(json.loads(body)["error"], outcome.message)  # the server's own sentence first

    def test_a_wrong_key_is_refused_without_showing_it(self):
        wrong = "sk_sonic_" + "0" * 64
        with environment(**{KEY_ENV: wrong}):
            outcome = self.generate(server=self.connection(token_env=KEY_ENV), seed=3)
        self.assertEqual(outcome.status, "error")
        self.assertNotIn(wrong, outcome.message)
        self.assertIn(KEY_ENV, outcome.message)
        self.assertNoKeyIn("\n".join(self.log.lines), "the log")

    def test_a_token_typed_into_token_env_is_refused_without_echoing_it(self):
        jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb21meXVpIn0.c2lnbmF0dXJl"
        for pasted in (self.key, jwt_like, "Bearer " + self.key):
            outcome = harness.run_node("SonicServerConnection",
                                       {"url": self.server.url, "token_env": pasted, "timeout_s": 30.0,
                                        "job_timeout_s": 600, "max_retries": 2}, unique_id="2")
            self.assertEqual(outcome.status, "error", pasted)
            self.assertIn("NAME of an environment variable", outcome.message)
            self.assertNotIn(pasted, outcome.message)
            self.assertNoKeyIn(outcome.message, "the error message")

    def test_the_key_goes_only_to_the_configured_server(self):
        api = harness.node_package().sonic_api
        with environment(**{KEY_ENV: self.key}):
            client = api.SonicClient(api.ServerSettings(url=self.server.url, token_env=KEY_ENV))
            same = client._headers(self.server.url + "/output/x.mp4?sig=1", None)
            elsewhere = client._headers("http://127.0.0.2:9/output/x.mp4?sig=1", None)
            other_port = client._headers(f"http://127.0.0.1:{self.server.port + 1}/x", None)
        self.assertEqual(same.get("Authorization"), "Bearer " + self.key)
        self.assertNotIn("Authorization", elsewhere)
        self.assertNotIn("Authorization", other_port)


if __name__ == "__main__":
    unittest.main()
