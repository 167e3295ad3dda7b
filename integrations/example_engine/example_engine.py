#!/usr/bin/env python3
"""A minimal external engine for sonic-server (engine protocol 1, docs/engine-protocol.md):
the starting point for wrapping MuseTalk, LatentSync, EchoMimic, Hallo or your own model.

    sonic-server serve --external-engine 'example=/usr/bin/python3 integrations/example_engine/example_engine.py'

Its "model" only zooms a square crop of the picture a little with the loudness of the audio;
replace load_model() and animate() with yours. Everything else — the handshake, jobs,
progress, cancel, the frame file, errors — is what a real engine needs. Standard library,
numpy and OpenCV (Debian: python3-numpy, python3-opencv)."""
import json, os, queue, struct, sys, threading, time, wave

import cv2
import numpy as np

PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol keeps the real stdout ...
os.dup2(2, 1)                                       # ... and print() from any library goes to stderr
sys.stdout = sys.stderr
FPS = 25


def send(message):
    PROTOCOL.write(json.dumps(message) + "\n")


def load_model():
    return None  # load weights once here; this runs before `ready`


def animate(model, crop_bgr, loudness_db, report):
    """Yields one BGR frame per 1/FPS s of audio. Call report(fraction) now and then."""
    for i, db in enumerate(loudness_db):
        zoom = 1.0 + 0.03 * float(np.clip((db + 50) / 30, 0, 1))
        h, w = crop_bgr.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0, zoom)
        yield cv2.warpAffine(crop_bgr, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        report((i + 1) / len(loudness_db))


def loudness_per_frame(wav_path):
    with wave.open(wav_path) as f:  # the server hands over 16 kHz mono 16-bit PCM
        samples = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768
        hop = f.getframerate() // FPS
    n = max(1, len(samples) // hop)
    rms = np.sqrt(np.mean(samples[:n * hop].reshape(n, hop) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-5)


def run_job(model, job, canceled):
    picture = cv2.imread(job["image"])
    h, w = picture.shape[:2]
    side = min(h, w)  # a real engine crops around the face it detects (or params["face_box"])
    x, y = (w - side) // 2, (h - side) // 2
    size = job["params"]["min_resolution"] // 2 * 2
    crop = cv2.resize(picture[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    path = os.path.join(job["work_dir"], "frames.rgb")
    with open(path, "wb") as out:
        out.write(b"SNCFRM01" + struct.pack("<6I", size, size, 0, FPS, 1, 0))  # 0 frames = as many as follow

        def report(fraction):
            if canceled.is_set():
                raise InterruptedError
            send({"type": "progress", "job": job["job"], "stage": "animate", "fraction": round(fraction, 3)})

        for frame in animate(model, crop, loudness_per_frame(job["audio"]), report):
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).tobytes())
    return {"type": "done", "job": job["job"], "frames": {"format": "rgb24", "path": path, "fps": FPS},
            "crop_box": [x, y, side, side], "device": "cpu",
            "ignored": [{"param": p, "reason": "the example engine has no such control"}
                        for p in ("inference_steps", "dynamic_scale", "motion_scale", "expand_ratio")]}


def main():
    model = load_model()
    send({"type": "ready", "protocol": 1, "name": "example", "version": "1.0", "device": "cpu",
          "description": "Example engine: a loudness-driven zoom (replace with your model)",
          "parameters": {"accepted": ["duration", "min_resolution", "fps", "full_frame", "align_mouth"],
                         "ignored": [{"param": "inference_steps", "reason": "no diffusion"}]},
          "limits": {"max_concurrent_jobs": 1}})
    jobs, cancels = queue.Queue(), {}

    def read_stdin():  # on its own thread, so a cancel arrives while a job runs
        for line in sys.stdin:
            message = json.loads(line)
            if message["type"] == "job":
                cancels[message["job"]] = threading.Event()
                jobs.put(message)
            elif message["type"] == "cancel" and message["job"] in cancels:
                cancels[message["job"]].set()
            elif message["type"] == "shutdown":
                break
        jobs.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    while (job := jobs.get()) is not None:
        try:
            send(run_job(model, job, cancels[job["job"]]))
        except InterruptedError:
            send({"type": "error", "job": job["job"], "code": "canceled", "message": "The job was canceled."})
        except Exception as error:
            print("job failed:", repr(error))  # goes to stderr, i.e. the server's log
            send({"type": "error", "job": job["job"], "code": "engine_failed", "message": f"The example engine failed: {error}"})
        cancels.pop(job["job"], None)


if __name__ == "__main__":
    main()
