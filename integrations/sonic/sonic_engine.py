#!/usr/bin/env python3
"""sonic-server engine adapter for Sonic (jixiaozhong/Sonic), engine protocol 1.

    /usr/bin/python3 integrations/sonic/sonic_engine.py --sonic-dir /opt/Sonic --device cuda:0

Loads the official Sonic class once from the checkout at --sonic-dir, announces itself
with `ready`, then runs one job at a time as sonic-server hands them over (JSON lines on
stdin/stdout, docs/engine-protocol.md). Logs go to stderr, which the server copies into its
own log under the engine's name. See README.md beside this file."""
import argparse
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from engine_protocol import PROTOCOL_VERSION, Inbox, ProtocolStream, take_stdout  # noqa: E402

ADAPTER_VERSION = "1.0.0"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sonic-dir", required=True, help="the official Sonic checkout (sonic.py, checkpoints/)")
    parser.add_argument("--device", default="cuda:0", help="cuda:N or cpu (cpu is impractically slow)")
    parser.add_argument("--no-interpolate", action="store_true", help="skip RIFE frame interpolation (12.5 fps)")
    return parser.parse_args()


def log(message):
    sys.stderr.write("sonic adapter: " + message + "\n")
    sys.stderr.flush()


def checkout_version(sonic_dir, module):
    stand_in = getattr(module, "STAND_IN", None)
    if stand_in:
        return "stand-in " + stand_in
    try:
        with open(os.path.join(sonic_dir, ".git", "HEAD")) as f:
            head = f.read().strip()
        if head.startswith("ref: "):
            with open(os.path.join(sonic_dir, ".git", head[5:])) as f:
                head = f.read().strip()
        return "checkout " + head[:12]
    except OSError:
        return "checkout of unknown version"


def main():
    args = parse_args()
    protocol = ProtocolStream(take_stdout())  # before anything can print
    sonic_dir = os.path.abspath(args.sonic_dir)
    if not os.path.isfile(os.path.join(sonic_dir, "sonic.py")):
        log("no sonic.py in %s: --sonic-dir must be the official Sonic checkout" % sonic_dir)
        return 2
    if args.device == "cpu":
        device_id = -1
    elif args.device.startswith("cuda:") and args.device[5:].isdigit():
        device_id = int(args.device[5:])
    else:
        log("--device must be cuda:N or cpu, not %r" % args.device)
        return 2

    sys.path.insert(0, sonic_dir)
    try:
        import sonic as sonic_module
        log("loading Sonic from %s on %s" % (sonic_dir, args.device))
        model = sonic_module.Sonic(device_id=device_id, enable_interpolate_frame=not args.no_interpolate)
    except Exception:
        log("cannot load Sonic:\n" + traceback.format_exc())
        return 3
    import sonic_job

    version = "%s (adapter %s)" % (checkout_version(sonic_dir, sonic_module), ADAPTER_VERSION)
    protocol.send({
        "type": "ready", "protocol": PROTOCOL_VERSION, "name": "sonic", "version": version,
        "description": "Sonic (Tencent / Zhejiang University, CVPR 2025) portrait animation on %s" % model.device,
        "device": str(model.device),
        "parameters": {"accepted": sonic_job.ACCEPTED, "ignored": sonic_job.IGNORED},
        # Sonic's config is shared by the whole instance and mutated per job: one at a time.
        "limits": {"max_concurrent_jobs": 1, "frame_formats": ["rgb24"], "native_fps": 25.0},
    })
    log("ready")

    inbox = Inbox()
    while True:
        job = inbox.jobs.get()
        if job is None:
            log("end of input; exiting")
            return 0
        job_id = job.get("job", "")
        canceled = inbox.cancel_event(job_id)
        try:
            if canceled.is_set():
                raise sonic_job.JobCanceled()
            protocol.send(sonic_job.run(sonic_module, model, job, protocol.send, canceled))
        except sonic_job.JobCanceled:
            log("job %s canceled" % job_id)
            protocol.send({"type": "error", "job": job_id, "code": "canceled", "message": "The job was canceled."})
        except sonic_job.JobError as error:
            message = {"type": "error", "job": job_id, "code": error.code, "message": error.message}
            if error.field:
                message["field"] = error.field
            protocol.send(message)
        except Exception as error:  # the model's own failure: say it plainly, keep serving
            log("job %s failed:\n%s" % (job_id, traceback.format_exc()))
            if sonic_job.is_out_of_memory(error):
                sonic_job.release_gpu_memory()
                text = "Sonic failed: " + sonic_job.OOM_MESSAGE + "."
            else:
                text = "Sonic failed: %s: %s" % (type(error).__name__, error)
            protocol.send({"type": "error", "job": job_id, "code": "engine_failed", "message": text})
        finally:
            inbox.forget(job_id)


if __name__ == "__main__":
    sys.exit(main())
