"""Sonic (server) against the real sonic-server: ComfyUI tensors in, a real MP4 out.

IMAGE [B,H,W,C] float 0..1 and AUDIO {waveform [B,C,T], sample_rate} go in; the VIDEO,
IMAGE frames and FLOAT fps that come out must match what the server made (same bytes, frame
count = round(duration × fps), the duration asked for), the widgets must arrive as the API's
parameters, progress must only go up, and ComfyUI's caching rules must hold (an unchanged
run costs the server nothing new; a changed seed is a new video).
"""
from __future__ import annotations

import hashlib
import json
import unittest

import torch

import harness
from node_test_case import PORTRAIT, SPEECH_5S, NodeTestCase, generate_inputs, job_id_of


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class GenerateTest(NodeTestCase):
    def test_video_images_and_fps_match_the_servers_video(self):
        outcome = self.generate(duration=2.0, fps=25, seed=11, expand_ratio=0.3, dynamic_scale=1.2,
                                motion_scale=0.7, smooth_motion=False)
        self.assertSucceeded(outcome)
        video, images, fps = outcome.outputs
        job = self.server.job(job_id_of(outcome))

        # The widgets reached the server as the API's parameters.
        params = job["params"]
        self.assertAlmostEqual(params["duration"], 2.0)
        self.assertEqual(params["min_resolution"], 256)
        self.assertEqual(params["fps"], 25)
        self.assertEqual(params["seed"], 11)
        self.assertAlmostEqual(params["expand_ratio"], 0.3)
        self.assertAlmostEqual(params["dynamic_scale"], 1.2)
        self.assertAlmostEqual(params["motion_scale"], 0.7)
        self.assertIs(params["smooth_motion"], False)
        self.assertIs(params["align_mouth"], True)
        self.assertIs(params["full_frame"], False)

        # The VIDEO is the server's file, byte for byte.
        served = self.server.data_dir / "outputs" / job["video_url"].split("/output/")[1].split("?")[0]
        self.assertEqual(sha256(video.get_stream_source()), sha256(served))
        self.assertAlmostEqual(video.get_duration(), 2.0, delta=0.1)
        width, height = video.get_dimensions()
        self.assertEqual(min(width, height), 256)

        # IMAGE frames: [frames, H, W, 3] float in 0..1, as many as round(duration × fps).
        self.assertEqual(images.dtype, torch.float32)
        self.assertEqual(tuple(images.shape), (50, height, width, 3))
        self.assertGreaterEqual(float(images.min()), 0.0)
        self.assertLessEqual(float(images.max()), 1.0)
        self.assertGreater(float(images.std()), 0.05, "frames are not blank")
        self.assertEqual(job["result"]["frames"], 50)
        self.assertIsInstance(fps, float)
        self.assertEqual(fps, 25.0)
        components = video.get_components()
        self.assertIsNotNone(components.audio, "the video has its sound")

        # Progress: only up, through the render, ending full; stage texts under the node.
        values = [value for node, value, total in self.recorder.values if node == "5"]
        self.assertEqual(values, sorted(values), values)
        self.assertEqual(values[-1], 100)
        self.assertTrue(any(0 < v < 90 for v in values), f"no progress during the render: {values}")
        self.assertGreaterEqual(len(set(values)), 5, values)
        texts = [text for node, text in self.recorder.texts if node == "5"]
        self.assertTrue(any(text.startswith("render") for text in texts), texts)
        self.assertTrue(texts[-1].startswith("done"), texts)
        # Nothing but the video in ComfyUI's temp folder (no partial downloads).
        self.assertEqual(self.temp_files(), [f"sonic_server/sonic_{job['job_id']}.mp4"])

    def test_duration_is_capped_at_the_audios_length(self):
        audio = harness.load_audio(SPEECH_5S)
        seconds = audio["waveform"].shape[-1] / audio["sample_rate"]
        outcome = self.generate(audio=audio, duration=10.0, fps=10)
        self.assertSucceeded(outcome)
        job = self.server.job(job_id_of(outcome))
        self.assertAlmostEqual(job["params"]["duration"], round(seconds, 3), places=3)
        self.assertEqual(outcome.outputs[1].shape[0], round(round(seconds, 3) * 10))
        self.assertAlmostEqual(outcome.outputs[0].get_duration(), seconds, delta=0.15)

    def test_only_the_first_image_of_a_batch_is_used(self):
        portrait = harness.load_image(PORTRAIT)
        blank = torch.full_like(portrait, 0.5)
        outcome = self.generate(image=torch.cat([portrait, blank]), seed=21)
        self.assertSucceeded(outcome)  # the blank second picture (no face) was not sent
        # The same picture alone is the same request: the server answers from its cache.
        again = self.generate(image=portrait, seed=21)
        self.assertSucceeded(again)
        self.assertTrue(self.server.job(job_id_of(again))["cached"])

    def test_a_changed_seed_makes_a_new_video_and_an_unchanged_run_costs_nothing(self):
        cls = harness.node_class("SonicServerGenerate")
        # No IS_CHANGED: ComfyUI reruns the node only when an input changed (seed is one).
        self.assertFalse(hasattr(cls, "IS_CHANGED"))
        self.assertFalse(getattr(cls, "NOT_IDEMPOTENT", False))
        first = self.generate(seed=31)
        self.assertSucceeded(first)
        # Even if ComfyUI's cache was evicted, the same inputs cost the server no new render.
        same = self.generate(seed=31)
        self.assertSucceeded(same)
        same_job = self.server.job(job_id_of(same))
        self.assertTrue(same_job["cached"], same_job)
        other = self.generate(seed=32)
        self.assertSucceeded(other)
        other_job = self.server.job(job_id_of(other))
        self.assertFalse(other_job["cached"])
        self.assertEqual(other_job["params"]["seed"], 32)

    def test_a_local_batch_of_50_runs_is_never_refused(self):
        # Issue 13: auth off on loopback (this server's defaults) limits no one. Every run is a
        # generate request that the per-user limiter would count (10 a minute, burst 3 with
        # auth on); the same inputs each time keep it cheap: one render, 49 cache answers.
        refused = self.server.metric("sonic_http_requests_total", status="429")
        server = self.connection(max_retries=0)  # a 429 would fail the run instead of waiting
        small = torch.nn.functional.interpolate(harness.load_image(PORTRAIT).permute(0, 3, 1, 2), size=(320, 320),
                                                mode="area").permute(0, 2, 3, 1)
        for run in range(50):
            outcome = self.generate(server=server, image=small, duration=0.5, seed=71)
            self.assertSucceeded(outcome)
        self.assertEqual(self.server.metric("sonic_http_requests_total", status="429"), refused)
        self.assertGreaterEqual(self.server.metric("sonic_http_requests_total", route="/api/sonic/generate"), 50)

    def test_a_preset_replaces_the_widgets_it_sets(self):
        presets = {p["name"]: p["config"] for p in self.server.get_json("/api/presets")["presets"]}
        outcome = self.generate(preset="expressive", dynamic_scale=0.5, motion_scale=0.0, expand_ratio=0.9,
                                inference_steps=7, seed=41)
        self.assertSucceeded(outcome)
        params = self.server.job(job_id_of(outcome))["params"]
        for key, value in presets["expressive"].items():
            self.assertAlmostEqual(params[key], value, msg=key)
        self.assertEqual(params["inference_steps"], 7)  # not in the preset: the widget's value
        # Every preset the node offers exists on the server.
        offered = harness.node_class("SonicServerGenerate").INPUT_TYPES()["required"]["preset"][0]
        self.assertEqual(sorted(offered), sorted(["none", *presets]))

    def test_engine_and_full_frame_reach_the_server(self):
        engines = self.server.get_json("/api/engines")
        outcome = self.generate(engine=engines["default"], full_frame=True, seed=51)
        self.assertSucceeded(outcome)
        job = self.server.job(job_id_of(outcome))
        self.assertEqual(job["params"]["engine"], engines["default"])
        self.assertIs(job["params"]["full_frame"], True)
        # The whole portrait comes back, not the crop around the face.
        with open(PORTRAIT, "rb") as f:
            f.read(16)
            header = f.read(8)
        width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
        out_width, out_height = outcome.outputs[0].get_dimensions()
        self.assertAlmostEqual(out_width / out_height, width / height, delta=0.02)

    def test_aspect_ratio_left_at_1_1_works_on_every_server(self):
        # Sent only when changed: a server that does not know aspect_ratio refuses the key.
        default = self.generate(seed=61)
        self.assertSucceeded(default)
        self.assertEqual(self.server.job(job_id_of(default))["params"].get("aspect_ratio", "1:1"), "1:1")
        accepted = set()
        for engine in self.server.get_json("/api/engines")["engines"]:
            accepted.update(engine["parameters"]["accepted"])
        tall = self.generate(seed=62, aspect_ratio="9:16")
        if "aspect_ratio" in accepted:  # a server that knows the parameter makes a tall video
            self.assertSucceeded(tall)
            width, height = tall.outputs[0].get_dimensions()
            self.assertAlmostEqual(width / height, 9 / 16, delta=0.02)
        else:  # one that does not says so in its own words
            self.assertEqual(tall.status, "error")
            self.assertIn("aspect_ratio", tall.message)
            self.assertIn("Unknown parameter", tall.message)

    def test_the_example_api_workflow_runs(self):
        """The API-format example's values, with the fixtures in place of its file names."""
        with open(harness.PACKAGE_DIR / "workflows" / "sonic_server_api.json") as f:
            workflow = json.load(f)
        node = next(n for n in workflow.values() if n["class_type"] == "SonicServerGenerate")
        widgets = {k: v for k, v in node["inputs"].items() if not isinstance(v, list)}
        widgets["min_resolution"] = 256  # the example's 512 renders four times the pixels
        outcome = harness.run_node("SonicServerGenerate",
                                   generate_inputs(server=self.connection(), **widgets), unique_id="3")
        self.assertSucceeded(outcome)
        job = self.server.job(job_id_of(outcome))
        self.assertEqual(job["params"]["fps"], widgets["fps"])
        self.assertEqual(outcome.outputs[1].shape[0], job["result"]["frames"])


if __name__ == "__main__":
    unittest.main()
