"""Stand-in for ComfyUI's comfy_api.latest: the VIDEO type made from a file.

ComfyUI's VideoFromFile wraps a path and decodes it with PyAV on demand: get_components()
gives `images` (a float tensor [frames, height, width, 3] in 0..1, the IMAGE layout),
`audio` (an AUDIO dict, or None) and `frame_rate` (a Fraction); get_dimensions() gives
(width, height) and get_duration() seconds. This one does the same with Debian's PyAV.
Only what the Sonic nodes and their tests use is here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

import av
import numpy as np
import torch


@dataclass
class VideoComponents:
    images: torch.Tensor
    audio: Optional[dict] = None
    frame_rate: Fraction = Fraction(1)
    metadata: dict = field(default_factory=dict)


class VideoFromFile:
    def __init__(self, file: str):
        self._file = file

    def get_stream_source(self) -> str:
        return self._file

    def get_dimensions(self) -> tuple:
        with av.open(self._file) as container:
            stream = container.streams.video[0]
            return stream.width, stream.height

    def get_duration(self) -> float:
        with av.open(self._file) as container:
            return float(container.duration / av.time_base)

    def get_components(self) -> VideoComponents:
        with av.open(self._file) as container:
            video = container.streams.video[0]
            frames = [torch.from_numpy(frame.to_ndarray(format="rgb24")).float() / 255.0
                      for frame in container.decode(video)]
            images = torch.stack(frames) if frames else torch.zeros(0, 0, 0, 3)
            rate = Fraction(video.average_rate) if video.average_rate else Fraction(1)
            audio = None
            if container.streams.audio:
                container.seek(0)
                stream = container.streams.audio[0]
                chunks = [frame.to_ndarray() for frame in container.decode(stream)]
                if chunks:
                    samples = np.concatenate(chunks, axis=1)
                    audio = {"waveform": torch.from_numpy(samples).unsqueeze(0), "sample_rate": stream.sample_rate}
            return VideoComponents(images=images, audio=audio, frame_rate=rate, metadata=dict(container.metadata))


class InputImpl:
    VideoFromFile = VideoFromFile


class Types:
    VideoComponents = VideoComponents
