"""Stand-in for src/dataset/test_preprocess.py: process_bbox, get_audio_feature and
image_audio_to_tensor with the official names, signatures and return values (numpy arrays
where the official returns torch tensors; OpenCV and the wave module where it uses PIL and
librosa). Written from the interface facts, not from the official code."""
import wave

import cv2
import numpy as np


def process_bbox(bbox, expand_radio, height, width):
    """bbox [x1, y1, x2, y2] grown by expand_radio of its size on each side, kept inside the
    picture, made square around the face -> [x1, y1, x2, y2] as ints."""
    x1, y1, x2, y2 = bbox
    bw, bh = x2 - x1, y2 - y1
    ex1, ey1 = max(x1 - expand_radio * bw, 0), max(y1 - expand_radio * bh, 0)
    ex2, ey2 = min(x2 + expand_radio * bw, width), min(y2 + expand_radio * bh, height)
    side = min(ex2 - ex1, ey2 - ey1)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    sx1 = min(max(cx - side / 2.0, ex1), ex2 - side)
    sy1 = min(max(cy - side / 2.0, ey1), ey2 - side)
    return [int(round(sx1)), int(round(sy1)), int(round(sx1 + side)), int(round(sy1 + side))]


def _read_audio_16k(audio_path):
    with wave.open(audio_path, "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        raw = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError("the stand-in reads 16-bit WAV only")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != 16000:
        n = int(round(len(samples) * 16000 / rate))
        samples = np.interp(np.arange(n) * rate / 16000.0, np.arange(len(samples)), samples).astype(np.float32)
    return samples, 16000


def get_audio_feature(audio_path, feature_extractor):
    audio_input, sampling_rate = _read_audio_16k(audio_path)
    assert sampling_rate == 16000
    features = []
    window = 750 * 640
    for i in range(0, len(audio_input), window):
        features.append(feature_extractor(audio_input[i:i + window], sampling_rate=sampling_rate,
                                          return_tensors="pt").input_features)
    return np.concatenate(features, axis=-1), len(audio_input) // 640


def image_audio_to_tensor(align_instance, feature_extractor, image_path, audio_path, limit=100, image_size=512,
                          area=1.25):
    image = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("cannot read " + image_path)
    h, w = image.shape[:2]
    _, _, bboxes = align_instance(image, maxface=True)
    if len(bboxes) == 0:
        return None
    x1, y1, bw, bh = bboxes[0]
    x2, y2 = x1 + bw, y1 + bh
    mask = np.zeros((h, w), dtype=np.float32)
    ww, hh = (x2 - x1) * area, (y2 - y1) * area
    cx, cy = (x2 + x1) // 2, (y2 + y1) // 2
    mx1, my1 = max(cx - ww // 2, 0), max(cy - hh // 2, 0)
    mx2, my2 = min(cx + ww // 2, w), min(cy + hh // 2, h)
    mask[int(my1):int(my2), int(mx1):int(mx2)] = 1.0

    scale = image_size / min(w, h)
    new_w, new_h = int(round(w * scale / 64) * 64), int(round(h * scale / 64) * 64)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LANCZOS4)
        mask = cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    clip = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
    audio_input, audio_len = get_audio_feature(audio_path, feature_extractor)
    return dict(
        face_mask=mask[None],                                 # [1, H, W] in 0..1
        ref_img=(rgb.transpose(2, 0, 1) - 0.5) / 0.5,         # [3, H, W] in -1..1
        clip_images=clip,
        audio_feature=audio_input[0],
        audio_len=min(limit, audio_len),
    )
