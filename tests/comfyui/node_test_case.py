"""The shape most node tests share: one real sonic-server per test class, a fresh ComfyUI
state (progress hook, PromptServer, temp folder) per test, and the two nodes run the way a
workflow runs them (Sonic server → Sonic (server))."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import traceback
import unittest
from pathlib import Path

import harness  # first: it puts the ComfyUI stand-ins on sys.path

import comfy.model_management  # noqa: E402
from harness import FIXTURES, Linked
from sonic_server import SonicServer

PORTRAIT = FIXTURES / "portrait.png"
SPEECH_5S = FIXTURES / "speech_en_5s.wav"
SPEECH_7S = FIXTURES / "speech_en_7s.wav"

# Small and short so every run is quick, even with sanitizers or a busy machine.
QUICK = {"min_resolution": 256, "duration": 1.0}


def generate_inputs(image=None, audio=None, server=None, **widgets) -> dict:
    """Inputs of Sonic (server): the node's own defaults, then QUICK, then `widgets`."""
    cls = harness.node_class("SonicServerGenerate")
    spec = cls.INPUT_TYPES()
    values = {name: options[1]["default"] if len(options) > 1 and "default" in options[1] else options[0][0]
              for name, options in spec["required"].items() if name not in ("image", "audio")}
    values.update(QUICK)
    values.update(widgets)
    values["image"] = Linked(harness.load_image(PORTRAIT) if image is None else image, "IMAGE")
    values["audio"] = Linked(harness.load_audio(SPEECH_5S) if audio is None else audio, "AUDIO")
    if server is not None:
        values["server"] = Linked(server, "SONIC_SERVER")
    return values


def job_id_of(outcome) -> str:
    """The job id a successful run downloaded (its file is sonic_<job id>.mp4)."""
    match = re.search(r"sonic_([0-9a-f-]{36})\.mp4$", outcome.outputs[0].get_stream_source())
    assert match, outcome.outputs[0].get_stream_source()
    return match.group(1)


class NodeTestCase(unittest.TestCase):
    server_args: tuple = ()
    server_env: dict | None = None
    server: SonicServer

    @classmethod
    def setUpClass(cls):
        cls.server = SonicServer(*cls.server_args, env=cls.server_env)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def setUp(self):
        self.temp = Path(tempfile.mkdtemp(prefix="comfyui-temp-"))
        self.addCleanup(shutil.rmtree, self.temp, True)
        self.recorder = harness.install_comfyui(str(self.temp))
        self.addCleanup(comfy.model_management.interrupt_current_processing, False)

    def connection(self, url: str | None = None, **widgets):
        """Runs a Sonic server node and returns its output (the settings object)."""
        values = {"url": url or self.server.url, "token_env": "SONIC_SERVER_TOKEN", "timeout_s": 30.0,
                  "job_timeout_s": 600, "max_retries": 3}
        values.update(widgets)
        outcome = harness.run_node("SonicServerConnection", values, unique_id="2")
        self.assertEqual(outcome.status, "success", outcome.message)
        return outcome.outputs[0]

    def generate(self, unique_id: str = "5", **inputs):
        if "server" not in inputs:
            inputs["server"] = self.connection()
        return harness.run_node("SonicServerGenerate", generate_inputs(**inputs), unique_id=unique_id)

    def assertSucceeded(self, outcome):
        # The node's exception with its traceback: a bare message can be as little as a number
        # (one CI run failed here with only "140559474800320" to go on).
        where = "".join(traceback.format_exception(outcome.exception)) if outcome.exception else ""
        self.assertEqual(outcome.status, "success",
                         f"{outcome.message}\n{where}server log:\n{self.server.log()[-4000:]}")

    def temp_files(self) -> list:
        return sorted(str(p.relative_to(self.temp)) for p in self.temp.rglob("*") if p.is_file())


def environment(**values):
    """A context manager that sets (value) or removes (None) environment variables."""

    class _Environment:
        def __enter__(self):
            self.saved = {name: os.environ.get(name) for name in values}
            for name, value in values.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

        def __exit__(self, *exc):
            for name, value in self.saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    return _Environment()
