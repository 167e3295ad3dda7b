"""ComfyUI's tensors as the files sonic-server takes.

ComfyUI hands a node an IMAGE as a torch tensor [batch, height, width, channels] of floats
in 0..1, and an AUDIO as {"waveform": tensor [batch, channels, samples], "sample_rate": int}.
sonic-server takes an image file and an audio file (docs/api.md). The first picture of a
batch becomes a PNG (lossless, so the face detector sees what the user sees) and the first
recording of a batch becomes 16-bit PCM WAV, written with the standard library's `wave`.

Only the part of the audio that will be rendered is sent: the server trims to `duration`
anyway, and a long stereo 48 kHz recording would otherwise cost seconds of upload (or pass
the server's upload limit) for sound that is thrown away.
"""
from __future__ import annotations

import io
import math
import wave

import numpy as np
from PIL import Image


class MediaError(ValueError):
    """An input that cannot become a file for the server; the message says what to change."""


def image_to_png(image) -> bytes:
    """The first picture of an IMAGE batch as PNG bytes (RGB; alpha is dropped)."""
    shape = tuple(getattr(image, "shape", ()))
    if len(shape) == 3:  # a single picture without its batch dimension
        image = image.unsqueeze(0)
        shape = tuple(image.shape)
    if len(shape) != 4 or shape[0] < 1 or shape[1] < 1 or shape[2] < 1:
        raise MediaError(f"The image input must be an IMAGE [batch, height, width, channels]; got shape {list(shape)}.")
    channels = shape[3]
    if channels not in (1, 3, 4):
        raise MediaError(f"The image has {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA).")
    pixels = image[0].detach().to("cpu").float().clamp(0.0, 1.0).numpy()
    pixels = np.rint(pixels * 255.0).astype(np.uint8)
    if channels == 1:
        picture = Image.fromarray(pixels[:, :, 0], mode="L").convert("RGB")
    else:
        picture = Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]), mode="RGB")
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=1)  # fast; the file only travels
    return out.getvalue()


def _waveform_and_rate(audio):
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise MediaError("The audio input must be an AUDIO ({'waveform', 'sample_rate'}), e.g. from Load Audio.")
    waveform = audio["waveform"]
    rate = int(audio["sample_rate"])
    shape = tuple(getattr(waveform, "shape", ()))
    if len(shape) == 2:  # [channels, samples] without the batch dimension
        waveform = waveform.unsqueeze(0)
        shape = tuple(waveform.shape)
    if len(shape) != 3 or shape[0] < 1 or shape[1] < 1:
        raise MediaError(f"The audio waveform must be [batch, channels, samples]; got shape {list(shape)}.")
    if rate < 1:
        raise MediaError(f"The audio's sample rate is {rate}; it must be a positive number of samples a second.")
    return waveform, rate


def audio_seconds(audio) -> float:
    """Length of the first recording of an AUDIO batch, in seconds."""
    waveform, rate = _waveform_and_rate(audio)
    return waveform.shape[-1] / rate


def audio_to_wav(audio, seconds: float | None = None) -> bytes:
    """The first recording of an AUDIO batch as 16-bit PCM WAV, cut to `seconds` when given.

    Mono and stereo stay as they are; more channels are mixed down to mono (WAV with more
    than two channels needs a channel mask that not every decoder reads the same way).
    """
    waveform, rate = _waveform_and_rate(audio)
    samples = waveform[0].detach().to("cpu").float()
    if seconds is not None:
        samples = samples[:, : max(1, math.ceil(seconds * rate))]
    if samples.shape[-1] == 0:
        raise MediaError("The audio is empty.")
    if samples.shape[0] > 2:
        samples = samples.mean(dim=0, keepdim=True)
    pcm = np.rint(samples.clamp(-1.0, 1.0).numpy() * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return out.getvalue()
