"""One Sonic job, driven through the official interface of a Sonic checkout:

    Sonic.preprocess(image, expand_ratio) -> crop box      (or our face_box, squared the same way)
    Sonic.crop_image(image, crop, box)
    sonic.image_audio_to_tensor(face_det, feature_extractor, crop, audio, limit, image_size, area)
    sonic.test(pipe, config, wav_enc, audio_pe, audio2bucket, image_encoder, width, height, batch)
    rife.inference(frame, next_frame)                       (frame interpolation, 12.5 -> 25 fps)

These are the steps of the official Sonic.process(), taken one by one so that (1) the frames
come back to sonic-server without process()'s own ffmpeg re-encode, which is built as a shell
string and breaks on paths with quotes or '$'; (2) seed 0 is a seed (process() has
`if seed:`); (3) progress is reported and cancel is honoured between steps. Progress hooks
replace names at run time — the module's `tqdm`, the pipeline's `progress_bar`, a forward
pre-hook on the UNet — and never edit the checkout's files."""
import contextlib
import os
import resource
import sys
import time

from engine_protocol import FrameFile

# Our parameters and what Sonic does with them (../shared/engines/sonic.md).
ACCEPTED = ["duration", "min_resolution", "expand_ratio", "inference_steps", "dynamic_scale", "fps", "seed",
            "face_box", "full_frame", "align_mouth", "engine"]
IGNORED = [
    {"param": "motion_scale",
     "reason": "Sonic has no head-motion control of its own; dynamic_scale moves mouth and head together"},
    {"param": "smooth_motion", "reason": "Sonic's motion comes from its video diffusion model, which is smooth by itself"},
]
# Stage weights within the engine's part of the job.
STAGES = {"detect": (0.0, 0.04), "audio": (0.04, 0.08), "denoise": (0.08, 0.86), "interpolate": (0.86, 0.97),
          "frames": (0.97, 1.0)}
OOM_MESSAGE = "the GPU ran out of memory; try a lower min_resolution or shorter audio"


class JobCanceled(Exception):
    pass


class JobError(Exception):
    def __init__(self, code, message, field=None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def is_out_of_memory(error):
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


def as_array(tensor):
    """A torch tensor (any device) or a numpy array -> a float numpy array."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().float().cpu().numpy()
    import numpy as np
    return np.asarray(tensor, dtype=np.float32)


class Progress:
    """Turns stage-local progress into protocol messages, and is where cancel is checked."""

    def __init__(self, send, job_id, canceled):
        self.send, self.job_id, self.canceled = send, job_id, canceled
        self.last_sent = 0.0
        self.started = time.monotonic()

    def check(self):
        if self.canceled.is_set():
            raise JobCanceled()

    def __call__(self, stage, fraction, force=False):
        self.check()
        lo, hi = STAGES[stage]
        overall = lo + (hi - lo) * max(0.0, min(1.0, fraction))
        now = time.monotonic()
        if not force and now - self.last_sent < 0.2 and fraction < 1.0:
            return
        self.last_sent = now
        message = {"type": "progress", "job": self.job_id, "stage": stage, "fraction": round(overall, 4)}
        elapsed = now - self.started
        if overall > 0.05:
            message["eta_s"] = round(elapsed * (1 - overall) / overall, 1)
        self.send(message)


class _ProgressTqdm:
    """Replaces `tqdm` in the sonic module for one job: same constructor, iteration and
    update; reports the audio-window loop of test() as the 'audio' stage."""

    def __init__(self, report, iterable=None, total=None, **kwargs):
        self.report, self.iterable = report, iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else 0)
        self.n = 0

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n=1):
        self.n += n
        self.report("audio", self.n / max(1, self.total))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass


class _DenoiseBar:
    """Replaces diffusers' progress_bar(total=num_inference_steps) for one job."""

    def __init__(self, report, total):
        self.report, self.total, self.n = report, total or 1, 0

    def update(self, n=1):
        self.n += n
        self.report("denoise", self.n / self.total, force=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@contextlib.contextmanager
def hooks(sonic_module, model, report, batches_total):
    """Installs the progress and cancel hooks for one job and removes them afterwards."""
    saved_tqdm = getattr(sonic_module, "tqdm", None)
    sonic_module.tqdm = lambda iterable=None, total=None, **kw: _ProgressTqdm(report, iterable, total, **kw)
    model.pipe.progress_bar = lambda iterable=None, total=None: _DenoiseBar(report, total)
    handle = None
    unet = getattr(model.pipe, "unet", None)
    if unet is not None and hasattr(unet, "register_forward_pre_hook"):
        calls = [0]

        def per_batch(module, inputs):
            calls[0] += 1
            report("denoise", calls[0] / max(1, batches_total))

        handle = unet.register_forward_pre_hook(per_batch)
    try:
        yield
    finally:
        if saved_tqdm is not None:
            sonic_module.tqdm = saved_tqdm
        model.pipe.__dict__.pop("progress_bar", None)
        if handle is not None:
            handle.remove()


def _torch():
    """torch when the model's code loaded it (the official sonic.py does), else None. Never
    imported here: importing it costs seconds, and a model without torch does not need it."""
    return sys.modules.get("torch")


def peak_memory(device):
    """(bytes, kind): the job's peak GPU memory on CUDA, else the process's peak RSS."""
    torch = _torch()
    if torch is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated(device)), "gpu"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "host"


def reset_peak_memory(device):
    torch = _torch()
    if torch is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)


def release_gpu_memory():
    torch = _torch()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def no_grad():
    torch = _torch()
    return torch.no_grad() if torch is not None else contextlib.nullcontext()


def run(sonic_module, model, job, send, canceled):
    """Runs one `job` message; returns the `done` message. Raises JobCanceled or JobError."""
    job_id, params, work_dir = job["job"], job["params"], job["work_dir"]
    report = Progress(send, job_id, canceled)
    stage_seconds = {}
    t0 = time.monotonic()
    config = sonic_module.Sonic.config
    device = getattr(model, "device", "cpu")
    reset_peak_memory(device)
    report("detect", 0.0, force=True)

    # detect + crop: the official preprocess (YOLO-face, expand_ratio, squared), or the
    # user's face_box squared the same way.
    image_path = job["image"]
    import cv2
    picture = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if picture is None:
        raise JobError("unreadable_media", "Sonic cannot read the picture.", "image")
    height, width = picture.shape[:2]
    expand_ratio = float(params.get("expand_ratio", 0.5))
    if params.get("face_box"):
        x, y, w, h = params["face_box"]
        from src.dataset.test_preprocess import process_bbox
        crop = process_bbox([x, y, x + w, y + h], expand_radio=expand_ratio, height=height, width=width)
    else:
        try:
            info = model.preprocess(image_path, expand_ratio=expand_ratio)
        except (UnboundLocalError, NameError):  # the official preprocess() when it finds no face
            info = {"face_num": 0}
        if info.get("face_num", 0) <= 0:
            raise JobError("no_face", "Sonic's face detector found no face in the picture. Use a clear, frontal "
                                      "photo, or pass face_box [x,y,w,h] to mark the face.", "image")
        crop = [int(v) for v in info["crop_bbox"]]
    crop_path = os.path.join(work_dir, "crop.png")
    model.crop_image(image_path, crop_path, crop)
    report("detect", 1.0, force=True)
    stage_seconds["detect"] = time.monotonic() - t0

    # The job's settings, written where the official process() writes them (the class
    # attribute config), seed included even when it is 0.
    config.seed = int(params.get("seed", 0))
    config.num_inference_steps = int(params.get("inference_steps", 25))
    config.motion_bucket_scale = float(params.get("dynamic_scale", 1.0))
    sonic_module.seed_everything(config.seed)

    with no_grad():
        t1 = time.monotonic()
        test_data = sonic_module.image_audio_to_tensor(
            model.face_det, model.feature_extractor, crop_path, job["audio"], limit=config.frame_num,
            image_size=int(params.get("min_resolution", 512)), area=config.area)
        if test_data is None:
            raise JobError("no_face", "Sonic's face detector found no face in the cropped picture. Try a larger "
                                      "expand_ratio, or pass face_box.", "image")
        report("audio", 0.0, force=True)
        frame_h, frame_w = test_data["ref_img"].shape[-2:]
        frames_total = int(test_data["audio_len"]) // int(config.step)
        per_batch = max(1, int(config.n_sample_frames) - int(config.overlap))
        batches_total = config.num_inference_steps * len(range(0, max(1, frames_total), per_batch))
        with hooks(sonic_module, model, report, batches_total):
            video = sonic_module.test(model.pipe, config, wav_enc=model.whisper, audio_pe=model.audio2token,
                                      audio2bucket=model.audio2bucket, image_encoder=model.image_encoder,
                                      width=frame_w, height=frame_h, batch=test_data)
        report.check()
        stage_seconds["denoise"] = time.monotonic() - t1

        # Frames out, with RIFE between each pair when interpolation is on (12.5 -> 25 fps).
        t2 = time.monotonic()
        interpolate = bool(config.use_interframe) and hasattr(model, "rife")
        native_fps = float(config.fps) * (2 if interpolate else 1)
        frames_path = os.path.join(work_dir, "frames.rgb")
        on_device = video.to(device) if hasattr(video, "to") else video
        count = on_device.shape[2]
        out = FrameFile(frames_path, int(frame_w), int(frame_h), int(round(native_fps * 2)), 2)
        try:
            for idx in range(count):
                frame = on_device[:, :, idx]
                out.write(_rgb24(frame))
                if interpolate and idx + 1 < count:
                    middle = model.rife.inference(frame, on_device[:, :, idx + 1])
                    out.write(_rgb24(middle))
                    report("interpolate", (idx + 1) / max(1, count - 1))
        finally:
            out.close()
        stage_seconds["interpolate" if interpolate else "frames"] = time.monotonic() - t2
    report("frames", 1.0, force=True)

    peak, kind = peak_memory(device)
    return {"type": "done", "job": job_id,
            "frames": {"format": "rgb24", "path": frames_path, "fps": native_fps},
            "crop_box": [crop[0], crop[1], crop[2] - crop[0], crop[3] - crop[1]],
            "ignored": IGNORED, "device": str(device), "peak_memory_bytes": peak, "memory_kind": kind,
            "stage_seconds": {k: round(v, 3) for k, v in stage_seconds.items()}}


def _rgb24(frame):
    """[1, C, H, W] in 0..1 (torch or numpy) -> H x W x 3 uint8."""
    import numpy as np
    array = as_array(frame)[0]
    return (np.clip(array, 0.0, 1.0).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)
