"""The ComfyUI nodes: **Sonic (server)** makes a talking-head video on a sonic-server, and
**Sonic server** says which server and how to reach it.

Written against ComfyUI's classic node contract (INPUT_TYPES / RETURN_TYPES / FUNCTION,
NODE_CLASS_MAPPINGS), which every ComfyUI since 2023 loads, and ComfyUI's own VIDEO type
(`comfy_api.latest`, ComfyUI ≥ 0.3.47) so the core Save Video node takes the result. The
ComfyUI modules used are exactly: comfy.utils (ProgressBar), comfy.model_management (the
interrupt flag), server (PromptServer, for the stage text under the node), folder_paths
(the temp folder) and comfy_api.latest (VideoFromFile). The tests provide stand-ins for
exactly these (tests/comfyui/stand_ins/).

Widgets keep ComfyUI_Sonic's names, defaults and ranges where it has them (min_resolution,
duration, expand_ratio, seed, inference_steps, dynamic_scale, fps) so its users feel at
home; the server is the judge of what it accepts and its sentence is shown when it refuses.
The node defines no IS_CHANGED: ComfyUI then reruns it only when an input changed, and
`seed` (randomized after each run by default, like ComfyUI_Sonic's) is such an input.
"""
from __future__ import annotations

import logging
import os
import uuid

import comfy.model_management
import comfy.utils
import folder_paths
from comfy_api.latest import InputImpl
from server import PromptServer

from .media_encoding import audio_seconds, audio_to_wav, image_to_png
from .remote_job import make_video
from .sonic_api import DEFAULT_TOKEN_ENV, DEFAULT_URL, ServerSettings, SonicClient

log = logging.getLogger("sonic_server")

CATEGORY = "Sonic"
SERVER_TYPE = "SONIC_SERVER"
PROGRESS_STEPS = 100
MAX_SEED = 2**31 - 1  # ComfyUI_Sonic's range; the server takes more
# The server's presets (GET /api/presets). A combo is fixed when ComfyUI starts, so the
# names are listed here; a server without one says so in its own words.
PRESETS = ["none", "natural", "expressive", "news-anchor", "singing", "presenter_9x16"]
ASPECT_RATIOS = ["1:1", "9:16", "4:5", "16:9", "original"]
DEFAULT_ASPECT_RATIO = "1:1"


class NodeProgress:
    """ComfyUI's progress bar plus a one-line stage text under the node, for one run."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.bar = comfy.utils.ProgressBar(PROGRESS_STEPS, node_id=node_id)
        self.value = -1
        self.text = ""

    def __call__(self, fraction: float, text: str):
        value = min(PROGRESS_STEPS, max(0, int(fraction * PROGRESS_STEPS)))
        if value > self.value:  # never backwards
            self.value = value
            self.bar.update_absolute(value, PROGRESS_STEPS)
        if text and text != self.text:
            self.text = text
            if self.node_id is not None and PromptServer.instance is not None:
                PromptServer.instance.send_progress_text(text, self.node_id)


class SonicServerConnection:
    DESCRIPTION = ("Which sonic-server to use and how to reach it. The token (JWT or API key) is read from the "
                   "environment variable named here, so it is never stored in the workflow.")
    CATEGORY = CATEGORY
    RETURN_TYPES = (SERVER_TYPE,)
    RETURN_NAMES = ("server",)
    OUTPUT_TOOLTIPS = ("Connect to the server input of Sonic (server).",)
    FUNCTION = "connect"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "url": ("STRING", {"default": DEFAULT_URL,
                                   "tooltip": "Address of sonic-server, as `sonic-server serve` prints it."}),
                "token_env": ("STRING", {"default": DEFAULT_TOKEN_ENV,
                                         "tooltip": "NAME of the environment variable that holds the token or API "
                                                    "key, for a server with --auth jwt or apikey. Never the token "
                                                    "itself: that would be saved with the workflow. Unset = no token."}),
                "timeout_s": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 600.0, "step": 1.0,
                                        "tooltip": "Seconds to wait for the server to connect and answer a request."}),
                "job_timeout_s": ("INT", {"default": 3600, "min": 0, "max": 86400, "step": 60,
                                          "tooltip": "Longest wait for one video; then the job is canceled on the "
                                                     "server. 0 = no limit."}),
                "max_retries": ("INT", {"default": 5, "min": 0, "max": 20,
                                        "tooltip": "Retries after 'too many requests' (waiting as long as the server "
                                                   "asks), server errors and network errors, with back-off."}),
            }
        }

    def connect(self, url, token_env, timeout_s, job_timeout_s, max_retries):
        return (ServerSettings(url=url, token_env=token_env, timeout_s=float(timeout_s),
                               job_timeout_s=float(job_timeout_s), max_retries=int(max_retries)),)


class SonicServerGenerate:
    DESCRIPTION = ("A lip-synced talking-head video of the portrait speaking the audio, made on a sonic-server "
                   "(this machine's by default; add a Sonic server node for another). Progress shows on the node; "
                   "Cancel in ComfyUI cancels the job on the server.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("VIDEO", "IMAGE", "FLOAT")
    RETURN_NAMES = ("video", "images", "fps")
    OUTPUT_TOOLTIPS = ("The MP4 with its sound, for Save Video.",
                       "Every frame as an IMAGE batch, for Create Video and other image nodes.",
                       "Frames a second of the video.")
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The portrait. Only the first image of a batch is used."}),
                "audio": ("AUDIO", {"tooltip": "The voice. Only the first recording of a batch is used."}),
                "min_resolution": ("INT", {"default": 512, "min": 128, "max": 2048, "step": 64,
                                           "tooltip": "Shorter side of the video in pixels (the server takes "
                                                      "256-1024 today)."}),
                "duration": ("FLOAT", {"default": 10.0, "min": 0.5, "max": 3600.0, "step": 0.1,
                                       "tooltip": "Seconds of video; capped at the audio's length."}),
                "expand_ratio": ("FLOAT", {"default": 0.5, "min": 0.1, "max": 1.0, "step": 0.05,
                                           "tooltip": "Margin around the face, as a share of its size, so head "
                                                      "motion never cuts it off."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                                 "tooltip": "Same inputs and seed, same video."}),
                "inference_steps": ("INT", {"default": 25, "min": 1, "max": 100,
                                            "tooltip": "Denoising steps of diffusion engines such as Sonic; the "
                                                       "classic engine ignores it."}),
                "dynamic_scale": ("FLOAT", {"default": 1.0, "min": 0.5, "max": 2.0, "step": 0.1,
                                            "tooltip": "How wide the mouth moves."}),
                "fps": ("INT", {"default": 25, "min": 10, "max": 60, "tooltip": "Frames a second."}),
                "motion_scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 2.0, "step": 0.1,
                                           "tooltip": "How much the head and face move; 0 = a still head."}),
                "align_mouth": ("BOOLEAN", {"default": True,
                                            "tooltip": "Calibrate the delay between sound and mouth."}),
                "smooth_motion": ("BOOLEAN", {"default": True, "tooltip": "Smooth all motion over time."}),
                "full_frame": ("BOOLEAN", {"default": False,
                                           "tooltip": "Put the animated face back into the whole picture instead "
                                                      "of returning the crop around it."}),
                "engine": ("STRING", {"default": "",
                                      "tooltip": "Engine on the server (GET /api/engines), e.g. classic or sonic. "
                                                 "Empty = the server's default."}),
                "preset": (PRESETS, {"default": "none",
                                     "tooltip": "A named style from the server; its values replace the widgets it "
                                                "sets (e.g. expressive: dynamic_scale, motion_scale, expand_ratio)."}),
                "aspect_ratio": (ASPECT_RATIOS, {"default": DEFAULT_ASPECT_RATIO,
                                                 "tooltip": "Shape of the crop around the face. 1:1 works on every "
                                                            "server; the others need one that supports aspect_ratio."}),
            },
            "optional": {
                "server": (SERVER_TYPE, {"tooltip": "From a Sonic server node; without one, "
                                                    f"{DEFAULT_URL} with the token in ${DEFAULT_TOKEN_ENV} (if set)."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def generate(self, image, audio, min_resolution, duration, expand_ratio, seed, inference_steps, dynamic_scale,
                 fps, motion_scale, align_mouth, smooth_motion, full_frame, engine, preset, aspect_ratio,
                 server=None, unique_id=None):
        settings = server if server is not None else ServerSettings()
        client = SonicClient(settings, check_interrupt=comfy.model_management.throw_exception_if_processing_interrupted)
        progress = NodeProgress(unique_id)
        seconds = round(min(float(duration), audio_seconds(audio)), 3)
        config = {
            "duration": seconds,
            "min_resolution": int(min_resolution),
            "expand_ratio": float(expand_ratio),
            "seed": int(seed),
            "inference_steps": int(inference_steps),
            "dynamic_scale": float(dynamic_scale),
            "fps": int(fps),
            "motion_scale": float(motion_scale),
            "align_mouth": bool(align_mouth),
            "smooth_motion": bool(smooth_motion),
            "full_frame": bool(full_frame),
        }
        if engine and engine.strip():
            config["engine"] = engine.strip()
        if aspect_ratio and aspect_ratio != DEFAULT_ASPECT_RATIO:
            # Sent only when changed, so a server that does not know the parameter yet still
            # takes every workflow left at the default (unknown keys are refused, docs/api.md).
            config["aspect_ratio"] = aspect_ratio
        chosen_preset = preset if preset and preset != "none" else None
        if chosen_preset:
            for entry in client.presets():
                if entry.get("name") == chosen_preset:
                    for key in entry.get("config", {}):
                        config.pop(key, None)

        finished = make_video(client, image_png=image_to_png(image), audio_wav=audio_to_wav(audio, seconds),
                              config=config, preset=chosen_preset, idempotency_key=uuid.uuid4().hex,
                              directory=os.path.join(folder_paths.get_temp_directory(), "sonic_server"),
                              report=progress)
        video = InputImpl.VideoFromFile(finished.video_path)
        components = video.get_components()
        result = finished.job.get("result") or {}
        progress(1.0, f"done: {result.get('width', '?')}x{result.get('height', '?')}, "
                      f"{components.images.shape[0]} frames" + (" (from the server's cache)"
                                                                 if finished.job.get("cached") else ""))
        return (video, components.images, float(components.frame_rate))


NODE_CLASS_MAPPINGS = {
    "SonicServerGenerate": SonicServerGenerate,
    "SonicServerConnection": SonicServerConnection,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "SonicServerGenerate": "Sonic (server)",
    "SonicServerConnection": "Sonic server",
}
