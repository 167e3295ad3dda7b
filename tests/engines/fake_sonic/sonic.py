"""Stand-in for the official sonic.py (jixiaozhong/Sonic), for sonic-server's tests.

Same module layout and public interface as the official checkout, as ../shared/engines/
sonic.md describes it: the module-level function test(pipe, config, wav_enc, audio_pe,
audio2bucket, image_encoder, width, height, batch) looping with `tqdm` over audio windows,
and the class Sonic(device_id=0, enable_interpolate_frame=True) with its class attribute
`config` (loaded from config/inference/sonic.yaml and mutated by process()), preprocess(),
crop_image() and process() — including the official quirks an adapter must handle:
preprocess() raises when no face is found, process() ignores seed 0 (`if seed:`), mutates the
shared config, and shells out to ffmpeg with a string-built command; `init done` is printed
on stdout.

It needs only Python, numpy and OpenCV (Debian's python3-numpy, python3-opencv and
opencv-data): no torch, no weights, no GPU. Frames are real pictures whose mouth opens with
the audio's loudness (src/pipelines/pipeline_sonic.py). Failure switches:
src/utils/stand_in.py.
"""
import os
import sys
import time

import cv2
import numpy as np

try:
    from tqdm import tqdm
except ImportError:  # Debian has no python3-tqdm on every machine: the same interface
    from src.utils.stand_in import tqdm

from src.utils.util import save_videos_grid, seed_everything
from src.dataset.test_preprocess import process_bbox, image_audio_to_tensor
from src.pipelines.pipeline_sonic import SonicPipeline, FakeUNet
from src.utils.RIFE.RIFE_HDv3 import RIFEModel
from src.dataset.face_align.align import AlignImage
from src.utils.stand_in import failure_due, fail, load_config, switch

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
STAND_IN = "fake_sonic 1 (sonic-server tests/engines/fake_sonic)"


class _FeatureExtractor:
    """Stand-in for whisper's AutoFeatureExtractor: one value per 20 ms (whisper's encoder
    rate), here the loudness in dBFS instead of a log-mel frame."""

    class _Features:
        def __init__(self, values):
            self.input_features = values

    def __call__(self, audio, sampling_rate=16000, return_tensors="pt"):
        hop = sampling_rate // 50
        n = max(1, int(np.ceil(len(audio) / hop)))
        padded = np.zeros(n * hop, dtype=np.float32)
        padded[:len(audio)] = audio
        rms = np.sqrt(np.mean(padded.reshape(n, hop) ** 2, axis=1))
        return self._Features((20 * np.log10(rms + 1e-5)).astype(np.float32)[None, None, :])


def test(pipe, config, wav_enc, audio_pe, audio2bucket, image_encoder, width, height, batch):
    for k, v in batch.items():
        if isinstance(v, np.ndarray):
            batch[k] = v[None].astype(np.float32)
    ref_img = batch['ref_img']
    clip_img = batch['clip_images']
    face_mask = batch['face_mask']
    audio_feature = batch['audio_feature']
    audio_len = batch['audio_len']
    step = int(config.step)

    audio_tensor_list, uncond_audio_tensor_list, motion_buckets = [], [], []
    for i in tqdm(range(audio_len // step)):
        clip = audio_feature[..., i * 2 * step:i * 2 * step + 2 * step]
        audio_tensor_list.append(clip if clip.size else np.full((1, 1, 1), -100.0, np.float32))
        uncond_audio_tensor_list.append(np.zeros_like(audio_tensor_list[-1]))
        motion_buckets.append(np.array([16.0, 16.0], np.float32))

    video = pipe(ref_img, clip_img, face_mask, audio_tensor_list, uncond_audio_tensor_list, motion_buckets,
                 height=height, width=width, num_frames=len(audio_tensor_list),
                 decode_chunk_size=config.decode_chunk_size, motion_bucket_scale=config.motion_bucket_scale,
                 fps=config.fps, noise_aug_strength=config.noise_aug_strength,
                 min_guidance_scale1=config.min_appearance_guidance_scale,
                 max_guidance_scale1=config.max_appearance_guidance_scale,
                 min_guidance_scale2=config.audio_guidance_scale, max_guidance_scale2=config.audio_guidance_scale,
                 overlap=config.overlap, shift_offset=config.shift_offset, frames_per_batch=config.n_sample_frames,
                 num_inference_steps=config.num_inference_steps,
                 i2i_noise_strength=config.i2i_noise_strength).frames
    return np.clip(video * 0.5 + 0.5, 0, 1)


class Sonic():
    config_file = os.path.join(BASE_DIR, 'config/inference/sonic.yaml')
    config = load_config(config_file)

    def __init__(self, device_id=0, enable_interpolate_frame=True):
        config = self.config
        config.use_interframe = enable_interpolate_frame
        device = 'cuda:{}'.format(device_id) if device_id > -1 else 'cpu'
        if switch("JUNK"):
            print("Loading checkpoint shards: 100%|##########| 3/3")  # what libraries print
        while switch("NEVER_READY"):
            time.sleep(1)  # a model load that never ends
        self.feature_extractor = _FeatureExtractor()
        self.face_det = AlignImage(device, det_path=os.path.join(BASE_DIR, 'checkpoints/yoloface_v5m.pt'))
        if config.use_interframe:
            rife = RIFEModel(device=device)
            rife.load_model(os.path.join(BASE_DIR, 'checkpoints', 'RIFE/'))
            self.rife = rife
        self.pipe = SonicPipeline(unet=FakeUNet()).to(device=device)
        self.whisper = object()
        self.audio2token = object()
        self.audio2bucket = object()
        self.image_encoder = object()
        self.device = device
        print('init done')

    def preprocess(self, image_path, expand_ratio=1.0):
        kind = failure_due("start")
        if kind:
            fail(kind)
        face_image = cv2.imread(image_path)
        h, w = face_image.shape[:2]
        _, _, bboxes = self.face_det(face_image, maxface=True)
        face_num = len(bboxes)
        if face_num > 0:
            x1, y1, ww, hh = bboxes[0]
            bbox_s = process_bbox((x1, y1, x1 + ww, y1 + hh), expand_radio=expand_ratio, height=h, width=w)
        # As in the official code: with no face, bbox_s was never assigned and this raises.
        return {'face_num': face_num, 'crop_bbox': bbox_s}

    def crop_image(self, input_image_path, output_image_path, crop_bbox):
        face_image = cv2.imread(input_image_path)
        crop = face_image[crop_bbox[1]:crop_bbox[3], crop_bbox[0]:crop_bbox[2]]
        cv2.imwrite(output_image_path, crop)

    def process(self, image_path, audio_path, output_path, min_resolution=512, inference_steps=25,
                dynamic_scale=1.0, keep_resolution=False, seed=None):
        sys.stderr.write("stand-in Sonic: process() was called\n")
        config = self.config
        if seed:  # the official quirk: seed 0 means "no seed"
            config.seed = seed
        config.num_inference_steps = inference_steps
        config.motion_bucket_scale = dynamic_scale
        seed_everything(config.seed)
        video_path = output_path.replace('.mp4', '_noaudio.mp4')
        test_data = image_audio_to_tensor(self.face_det, self.feature_extractor, image_path, audio_path,
                                          limit=config.frame_num, image_size=min_resolution, area=config.area)
        if test_data is None:
            return -1
        height, width = test_data['ref_img'].shape[-2:]
        video = test(self.pipe, config, wav_enc=self.whisper, audio_pe=self.audio2token,
                     audio2bucket=self.audio2bucket, image_encoder=self.image_encoder, width=width, height=height,
                     batch=test_data)
        if config.use_interframe:
            results = []
            for idx in tqdm(range(video.shape[2] - 1), ncols=0):
                results.append(video[:, :, idx])
                results.append(np.clip(self.rife.inference(video[:, :, idx], video[:, :, idx + 1]), 0, 1))
            results.append(video[:, :, -1])
            video = np.stack(results, 2)
        save_videos_grid(video, video_path, n_rows=video.shape[0],
                         fps=config.fps * 2 if config.use_interframe else config.fps)
        os.system(f'ffmpeg -loglevel error -i "{video_path}" -i "{audio_path}" -vcodec libx264 -acodec aac '
                  f'-crf 18 -shortest -y "{output_path}"')
        os.remove(video_path)
        return 0
