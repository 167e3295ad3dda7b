"""Stand-in for src/pipelines/pipeline_sonic.py: SonicPipeline(unet, image_encoder, vae,
scheduler) whose __call__ runs a "denoising" loop with the official loop structure — a
progress_bar(total=num_inference_steps) updated once per step, and one unet call per batch
of frames_per_batch frames within each step — and returns .frames, [1, C, T, H, W] in -1..1.

The frames are real pictures: the reference crop with its mouth opened in proportion to the
loudness that test() put in the audio prompts, so a landmark scorer can measure lip sync
through the whole serving path."""
import os
import time

import cv2
import numpy as np

from src.dataset.face_align.align import AlignImage
from src.utils.stand_in import fail, failure_due, switch, tqdm


class FakeUNet:
    """Calls forward pre-hooks like torch.nn.Module does (register_forward_pre_hook)."""

    def __init__(self):
        self._hooks = []
        self.dtype = "float16"

    def register_forward_pre_hook(self, hook):
        self._hooks.append(hook)
        hooks = self._hooks

        class Handle:
            def remove(self):
                if hook in hooks:
                    hooks.remove(hook)

        return Handle()

    def __call__(self, *args, **kwargs):
        for hook in list(self._hooks):
            hook(self, args)
        delay = float(switch("STEP_DELAY_S", "0") or 0)
        if delay > 0:
            time.sleep(delay)
        return args[0] if args else None


class Output:
    def __init__(self, frames):
        self.frames = frames


def _lip_row(bgr, face):
    """The row between the lips: the centre of the reddest pixels of the lower middle face
    (lips are redder than skin); the darkest row there when nothing stands out."""
    x, y, w, h = face
    r0, r1 = int(max(y + 0.6 * h, 0)), int(min(y + 1.0 * h, bgr.shape[0]))
    c0, c1 = int(max(x + 0.3 * w, 0)), int(min(x + 0.7 * w, bgr.shape[1]))
    f = bgr[r0:r1, c0:c1].astype(np.float32)
    if f.size == 0:
        return int(y + 0.8 * h)
    red = f[:, :, 2] - 0.5 * (f[:, :, 1] + f[:, :, 0])
    if red.max() - np.median(red) > 10:
        rows = np.nonzero(red >= np.percentile(red, 90))[0]
        return r0 + int(round(rows.mean()))
    return r0 + int(np.argmin(f.mean(axis=(1, 2))))


def open_mouth(frame_bgr, face, lip_row, openness):
    """The lower lip and jaw moved down by a gap proportional to openness, the gap dark."""
    x, y, w, h = face
    gap = int(round(openness * 0.16 * h))
    if gap <= 0:
        return frame_bgr
    out = frame_bgr.copy()
    cx, half = int(x + 0.5 * w), int(0.22 * w)
    bottom = min(int(y + 1.05 * h), out.shape[0])
    left, right = max(cx - half, 0), min(cx + half, out.shape[1])
    if bottom - gap <= lip_row:
        return out
    out[lip_row + gap:bottom, left:right] = frame_bgr[lip_row:bottom - gap, left:right]
    cv2.ellipse(out, (cx, lip_row + gap // 2), (int(half * 0.8), max(1, gap // 2)), 0, 0, 360, (30, 20, 40), -1)
    return out


class SonicPipeline:
    def __init__(self, unet=None, image_encoder=None, vae=None, scheduler=None):
        self.unet = unet or FakeUNet()
        self.image_encoder = image_encoder
        self.vae = vae
        self.scheduler = scheduler
        self.device = "cpu"

    def to(self, device=None, dtype=None):
        if device is not None:
            self.device = device
        return self

    def progress_bar(self, iterable=None, total=None):
        """diffusers' DiffusionPipeline.progress_bar."""
        return tqdm(iterable, total=total)

    def __call__(self, ref_image, clip_image, face_mask, audio_prompts, uncond_audio_prompts, motion_buckets,
                 height=576, width=1024, num_frames=None, num_inference_steps=25, min_guidance_scale1=1.0,
                 max_guidance_scale1=3.0, min_guidance_scale2=1.0, max_guidance_scale2=3.0, fps=7,
                 motion_bucket_scale=1.0, noise_aug_strength=0.02, decode_chunk_size=None, overlap=0,
                 shift_offset=0, frames_per_batch=14, i2i_noise_strength=1.0, **kwargs):
        num_frames = num_frames or len(audio_prompts)
        latents = np.zeros((1, num_frames, 4, height // 8, width // 8), dtype=np.float32)
        with self.progress_bar(total=num_inference_steps) as progress_bar:
            for i in range(num_inference_steps):
                for batch, index_start in enumerate(range(0, num_frames, frames_per_batch - overlap)):
                    if i == num_inference_steps // 2 and batch == 0:
                        kind = failure_due("mid")
                        if kind:
                            fail(kind)
                        gate = switch("GATE")
                        while gate and not os.path.exists(gate):  # held until a test opens the gate
                            time.sleep(0.02)
                    self.unet(latents[:, index_start:index_start + frames_per_batch], i)
                progress_bar.update()
        return Output(self._decode(ref_image, face_mask, audio_prompts, motion_bucket_scale, height, width))

    def _decode(self, ref_image, face_mask, audio_prompts, motion_bucket_scale, height, width):
        ref = np.asarray(ref_image, dtype=np.float32)[0]  # [3, H, W] in -1..1
        rgb = ((ref.transpose(1, 2, 0) * 0.5 + 0.5) * 255).clip(0, 255).astype(np.uint8)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        # Where the mouth is: the stand-in looks for the face in the reference picture
        # (the real UNet attends to the face_mask region); the mask is the fallback.
        found = AlignImage()(bgr, maxface=True)[2]
        if found:
            face = tuple(float(v) for v in found[0])
        else:
            ys, xs = np.nonzero(np.asarray(face_mask)[0, 0] > 0.5)
            if len(xs):
                face = (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
            else:
                face = (0.25 * width, 0.25 * height, 0.5 * width, 0.5 * height)
        lip = _lip_row(bgr, face)
        delay = int(switch("MOUTH_DELAY_FRAMES", "0") or 0)
        loudness = [float(np.asarray(p).mean()) for p in audio_prompts]
        frames = []
        for t in range(len(audio_prompts)):
            # Frames here are at 12.5 fps; the delay switch counts 25 fps frames.
            source = t - delay / 2.0
            k = int(np.floor(source)) if source >= 0 else -1
            db = loudness[k] if 0 <= k < len(loudness) else -100.0
            openness = float(np.clip((db + 50.0) / 30.0, 0.0, 1.0)) * float(motion_bucket_scale)
            frame = open_mouth(bgr, face, lip, min(openness, 1.5))
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0)
        video = np.stack(frames, axis=0).transpose(3, 0, 1, 2)  # [C, T, H, W]
        return video[None]
