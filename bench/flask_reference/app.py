"""A reference for measurements, NOT part of the product.

A small Flask app modelled on the original Sonic Flask endpoint (its reference backend:
one POST route that stores the uploaded portrait and recording, runs the model and
answers JSON with the video's URL), plus a status route, so bench/server_load_bench.cpp
and bench/http_attack_bench.cpp can measure the transport of that design side by side
with sonic-server's (docs/http-transport.md). The model run is left out: only HTTP,
upload storage and a job table are measured.

Run under gunicorn (Debian's python3-flask + gunicorn), e.g. bench/flask_reference/compare.sh.
"""
import os
import threading
import uuid

from flask import Flask, jsonify, request

app = Flask(__name__)
DATA = os.environ.get("FLASK_REF_DATA", "/tmp/flask-reference")
UPLOADS = os.path.join(DATA, "uploads")
os.makedirs(UPLOADS, exist_ok=True)
app.config["MAX_CONTENT_LENGTH"] = 50 * 1024 * 1024

_jobs = {}
_lock = threading.Lock()


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.get("/api/jobs/<job_id>")
def job_status(job_id):
    with _lock:
        job = _jobs.get(job_id)
    if job is None:
        return jsonify(success=False, error="No job with id " + job_id, code="not_found"), 404
    return jsonify(job)


@app.post("/api/sonic/generate")
def generate():
    image = request.files.get("image")
    audio = request.files.get("audio")
    if image is None or audio is None:
        return jsonify(success=False, error="image and audio are required", code="missing_file"), 400
    job_id = str(uuid.uuid4())
    image.save(os.path.join(UPLOADS, job_id + "-image"))
    audio.save(os.path.join(UPLOADS, job_id + "-audio"))
    job = {"success": True, "job_id": job_id, "status": "succeeded",
           "video_url": request.host_url + "output/" + job_id + ".mp4"}
    with _lock:
        _jobs[job_id] = job
    return jsonify(job)
