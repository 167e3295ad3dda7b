"""What ComfyUI does around a node, for tests that cannot have ComfyUI itself.

- puts the stand-ins (stand_ins/, see its README) on sys.path before the nodes import them;
- loads integrations/comfyui/ the way ComfyUI loads a folder in custom_nodes/ (its
  __init__.py as a package, NODE_CLASS_MAPPINGS read from it);
- validates inputs as ComfyUI's executor does before it runs a node (required inputs, INT /
  FLOAT / STRING / BOOLEAN conversion, min / max, combo lists, linked output types);
- runs a node as ComfyUI runs a classic node (interrupt check first, hidden inputs filled,
  InterruptProcessingException reported as "interrupted" and any other exception as an
  "error" with its message), with the progress hook ComfyUI's main.py installs (it raises
  on interrupt) recording what the node reports;
- makes ComfyUI's tensors from files: IMAGE as Load Image does, AUDIO as Load Audio does.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "stand_ins"))

import comfy.model_management  # noqa: E402  (stand-ins first)
import comfy.utils  # noqa: E402
import folder_paths  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from server import PromptServer  # noqa: E402

SOURCE_DIR = Path(os.environ.get("SONIC_SOURCE_DIR", HERE.parents[1]))
PACKAGE_DIR = SOURCE_DIR / "integrations" / "comfyui"
FIXTURES = Path(os.environ.get("SONIC_FIXTURES", SOURCE_DIR.parent / "shared" / "fixtures"))

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")
# Output types of the core nodes the example workflows use (ComfyUI's nodes.py and
# comfy_extras/nodes_audio.py, nodes_video.py).
CORE_NODES = {
    "LoadImage": {"outputs": ("IMAGE", "MASK"), "widgets": ["image", "upload"]},
    "LoadAudio": {"outputs": ("AUDIO",), "widgets": ["audio", "audioUI", "upload"]},
    "SaveVideo": {"outputs": (), "inputs": {"video": "VIDEO"}, "widgets": ["filename_prefix", "format", "codec"]},
}

_package = None


def node_package():
    """integrations/comfyui loaded like ComfyUI's load_custom_node (once per process)."""
    global _package
    if _package is None:
        name = str(PACKAGE_DIR).replace(".", "_x_")
        spec = importlib.util.spec_from_file_location(name, PACKAGE_DIR / "__init__.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _package = module
    return _package


def node_class(name: str):
    return node_package().NODE_CLASS_MAPPINGS[name]


def widget_names(cls) -> list:
    """Widget inputs in the order ComfyUI's frontend makes widgets (required, then optional)."""
    names = []
    spec = cls.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                names.append(name)
    return names


def ui_widget_values(cls, values: dict) -> list:
    """The widgets_values list the frontend saves for these widget values (a seed-like widget
    with control_after_generate is followed by its mode, "randomize" by default)."""
    spec = cls.INPUT_TYPES()
    options = {**spec.get("required", {}), **spec.get("optional", {})}
    out = []
    for name in widget_names(cls):
        out.append(values[name])
        extra = options[name][1] if len(options[name]) > 1 else {}
        if extra.get("control_after_generate"):
            out.append(values.get("control_after_generate", "randomize"))
    return out


def validate(cls, inputs: dict, linked_types: dict | None = None) -> list:
    """ComfyUI's checks before it runs a node; returns the errors (empty = valid).
    `linked_types` maps a linked input's name to the type of the output it is linked to."""
    linked_types = linked_types or {}
    spec = cls.INPUT_TYPES()
    errors = []
    for category in ("required", "optional"):
        for name, (kind, *rest) in spec.get(category, {}).items():
            extra = rest[0] if rest else {}
            if name in linked_types:
                if linked_types[name] != kind:
                    errors.append(f"{name}: received_type({linked_types[name]}) mismatch input_type({kind})")
                continue
            if name not in inputs:
                if category == "required":
                    errors.append(f"{name}: Required input is missing")
                continue
            value = inputs[name]
            try:
                if kind == "INT":
                    value = int(value)
                elif kind == "FLOAT":
                    value = float(value)
                elif kind == "STRING":
                    value = str(value)
                elif kind == "BOOLEAN":
                    value = bool(value)
            except (TypeError, ValueError) as error:
                errors.append(f"{name}: Failed to convert an input value to a {kind} value: {error}")
                continue
            if "min" in extra and value < extra["min"]:
                errors.append(f"{name}: Value {value} smaller than min of {extra['min']}")
            elif "max" in extra and value > extra["max"]:
                errors.append(f"{name}: Value {value} bigger than max of {extra['max']}")
            elif isinstance(kind, list) and value not in kind:
                errors.append(f"{name}: '{value}' not in {kind}")
    return errors


@dataclass
class Recorder:
    """What the nodes showed: progress values (per node) and stage texts."""

    values: list = field(default_factory=list)  # (node_id, value, total)
    texts: list = field(default_factory=list)  # (node_id, text)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate, timeout_s: float) -> bool:
        """Waits until predicate(recorder) holds (checked at every report) or the time is up."""
        with self.condition:
            return self.condition.wait_for(lambda: predicate(self), timeout=timeout_s)


class _RecordingServer(PromptServer):
    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder

    def send_progress_text(self, text, node_id, sid=None):
        super().send_progress_text(text, node_id, sid)
        with self.recorder.condition:
            self.recorder.texts.append((str(node_id), self.progress_texts[-1][1]))
            self.recorder.condition.notify_all()


def install_comfyui(temp_dir: str) -> Recorder:
    """The process-wide state ComfyUI sets up at start: the progress hook, PromptServer, temp."""
    recorder = Recorder()

    def hook(value, total, preview, node_id=None):
        comfy.model_management.throw_exception_if_processing_interrupted()  # as main.py's hook
        with recorder.condition:
            recorder.values.append((str(node_id), value, total))
            recorder.condition.notify_all()

    comfy.utils.set_progress_bar_global_hook(hook)
    _RecordingServer(recorder)
    folder_paths.set_temp_directory(temp_dir)
    comfy.model_management.interrupt_current_processing(False)
    return recorder


@dataclass
class Outcome:
    status: str  # "success", "interrupted" or "error"
    outputs: tuple = ()
    message: str = ""
    exception: BaseException | None = None


def run_node(class_name: str, inputs: dict, unique_id: str = "1", validate_inputs: bool = True) -> Outcome:
    """Runs one node as ComfyUI's executor runs a classic node."""
    cls = node_class(class_name)
    if validate_inputs:
        linked = {name: value.type_name for name, value in inputs.items() if isinstance(value, Linked)}
        errors = validate(cls, {k: v for k, v in inputs.items() if not isinstance(v, Linked)}, linked)
        if errors:
            return Outcome("error", message="; ".join(errors))
    arguments = {name: value.value if isinstance(value, Linked) else value for name, value in inputs.items()}
    for name, kind in cls.INPUT_TYPES().get("hidden", {}).items():
        if kind == "UNIQUE_ID":
            arguments[name] = unique_id
    try:
        comfy.model_management.throw_exception_if_processing_interrupted()  # nodes.before_node_execution
        outputs = getattr(cls(), cls.FUNCTION)(**arguments)
        return Outcome("success", outputs=outputs)
    except comfy.model_management.InterruptProcessingException as interrupted:
        return Outcome("interrupted", exception=interrupted)
    except Exception as error:  # ComfyUI shows str(error) as the node's error
        return Outcome("error", message=str(error), exception=error)


@dataclass
class Linked:
    """A value that reaches the node through a link from an output of type `type_name`."""

    value: object
    type_name: str


def load_image(path, extra: int = 0) -> torch.Tensor:
    """As Load Image: RGB, EXIF orientation applied, float 0..1, shape [1, H, W, 3]."""
    with Image.open(path) as picture:
        picture = ImageOps.exif_transpose(picture).convert("RGB")
        pixels = np.asarray(picture, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None]


def load_audio(path) -> dict:
    """As Load Audio: {"waveform": float32 [1, channels, samples] in -1..1, "sample_rate"}."""
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        data = wav.readframes(wav.getnframes())
    assert width == 2, f"{path}: the tests read 16-bit WAV"
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels).T.astype(np.float32) / 32768.0
    return {"waveform": torch.from_numpy(np.ascontiguousarray(samples))[None], "sample_rate": rate}


def blank_image(height: int = 360, width: int = 360) -> torch.Tensor:
    """A flat grey picture: no face for the detector."""
    return torch.full((1, height, width, 3), 0.5)
