"""Stand-in for src/utils/util.py: seed_everything and save_videos_grid (same names and
signatures; numpy arrays instead of torch tensors, OpenCV instead of imageio)."""
import random

import cv2
import numpy as np


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))


def save_videos_grid(videos, path, rescale=False, n_rows=6, fps=8):
    """videos: [B, C, T, H, W] in 0..1 (or -1..1 with rescale)."""
    video = np.asarray(videos)[0]
    if rescale:
        video = (video + 1.0) / 2.0
    channels, frames, height, width = video.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    for t in range(frames):
        rgb = (np.clip(video[:, t].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
