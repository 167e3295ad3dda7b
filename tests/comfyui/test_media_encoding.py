"""ComfyUI tensors to the files the server takes (integrations/comfyui/media_encoding.py), with
real torch tensors: the PNG holds the first picture of the batch, the WAV the first
recording, cut to the seconds asked for, with its rate and (up to two) channels."""
from __future__ import annotations

import io
import math
import unittest
import wave

import harness  # first: it puts the ComfyUI stand-ins on sys.path

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

media = harness.node_package().media_encoding


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        kind = picture.format
        pixels = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0
    assert kind == "PNG", kind
    return pixels


def read_wav(data: bytes):
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").reshape(-1, wav.getnchannels()).T / 32767.0
        return wav.getnchannels(), wav.getframerate(), wav.getsampwidth(), samples


class ImageToPngTest(unittest.TestCase):
    def test_the_first_picture_of_the_batch_survives_within_rounding(self):
        generator = torch.Generator().manual_seed(7)
        batch = torch.rand((3, 40, 64, 3), generator=generator)
        pixels = decode_png(media.image_to_png(batch))
        self.assertEqual(pixels.shape, (40, 64, 3))
        self.assertLessEqual(float(np.abs(pixels - batch[0].numpy()).max()), 0.5 / 255 + 1e-6)
        self.assertGreater(float(np.abs(pixels - batch[1].numpy()).max()), 0.1)

    def test_alpha_grey_and_out_of_range_values(self):
        rgba = torch.zeros((1, 8, 8, 4))
        rgba[..., 0] = 1.0
        rgba[..., 3] = 0.2
        self.assertTrue(np.allclose(decode_png(media.image_to_png(rgba))[..., :3], [1, 0, 0]))
        grey = torch.full((1, 8, 8, 1), 0.5)
        self.assertTrue(np.allclose(decode_png(media.image_to_png(grey)), 128 / 255))
        wild = torch.tensor([[[[-3.0, 0.5, 9.0]]]])
        self.assertTrue(np.allclose(decode_png(media.image_to_png(wild)), [[[0, 128 / 255, 1]]]))
        self.assertEqual(decode_png(media.image_to_png(torch.zeros((5, 6, 3)))).shape, (5, 6, 3))

    def test_shapes_that_are_not_images_get_a_sentence(self):
        for bad in (torch.zeros((0, 8, 8, 3)), torch.zeros((1, 8, 8, 2)), torch.zeros((8,))):
            with self.assertRaises(ValueError) as caught:
                media.image_to_png(bad)
            self.assertIn("image", str(caught.exception).lower())


class AudioToWavTest(unittest.TestCase):
    def sine(self, channels, rate, seconds, batch=1):
        t = torch.arange(int(rate * seconds)) / rate
        tone = torch.stack([0.5 * torch.sin(2 * math.pi * 220 * (c + 1) * t) for c in range(channels)])
        return {"waveform": tone.unsqueeze(0).repeat(batch, 1, 1), "sample_rate": rate}

    def test_stereo_keeps_rate_channels_and_samples(self):
        audio = self.sine(2, 44100, 0.5)
        channels, rate, width, samples = read_wav(media.audio_to_wav(audio))
        self.assertEqual((channels, rate, width), (2, 44100, 2))
        self.assertEqual(samples.shape, (2, 22050))
        self.assertLess(float(np.abs(samples - audio["waveform"][0].numpy()).max()), 1e-3)
        self.assertAlmostEqual(media.audio_seconds(audio), 0.5)

    def test_cut_to_the_rendered_seconds_and_first_of_the_batch(self):
        audio = self.sine(1, 16000, 2.0, batch=2)
        audio["waveform"][1] = 0.0
        channels, rate, _, samples = read_wav(media.audio_to_wav(audio, seconds=0.75))
        self.assertEqual((channels, rate), (1, 16000))
        self.assertEqual(samples.shape[1], 12000)
        self.assertGreater(float(np.abs(samples).max()), 0.4)  # the first recording, not the silent one

    def test_many_channels_are_mixed_to_mono_and_loud_samples_clipped(self):
        audio = {"waveform": torch.full((1, 6, 800), 3.0), "sample_rate": 8000}
        channels, _, _, samples = read_wav(media.audio_to_wav(audio))
        self.assertEqual(channels, 1)
        self.assertTrue(np.allclose(samples, 1.0))

    def test_not_an_audio_gets_a_sentence(self):
        for bad in ({"waveform": torch.zeros((1, 1, 0)), "sample_rate": 8000},
                    {"waveform": torch.zeros((1, 1, 10)), "sample_rate": 0},
                    {"samples": torch.zeros((1, 1, 10))}, torch.zeros((1, 1, 10))):
            with self.assertRaises(ValueError) as caught:
                media.audio_to_wav(bad)
            self.assertIn("audio", str(caught.exception).lower())


if __name__ == "__main__":
    unittest.main()
