"""What makes this a stand-in: the failure switches, and small replacements for the
packages the official code imports but Debian does not ship (omegaconf, tqdm, torch).

Switches (environment variables, read when used):
  FAKE_SONIC_STEP_DELAY_S=0.2     seconds per denoising batch (a slow GPU)
  FAKE_SONIC_FAIL=<mode>          crash_start | crash_mid | hang_mid | oom_mid
  FAKE_SONIC_FAIL_ONCE=<path>     the failure fires only while <path> does not exist (it is
                                  created as the failure fires), so the next job succeeds
  FAKE_SONIC_NEVER_READY=1        Sonic() never finishes loading
  FAKE_SONIC_JUNK=1               Sonic() prints junk on stdout while loading
  FAKE_SONIC_NO_FACE=1            the face detector finds nothing
  FAKE_SONIC_MOUTH_DELAY_FRAMES=N the mouth moves N frames (at 25 fps) after the sound
  FAKE_SONIC_GATE=<path>          halfway through denoising, wait until <path> exists
"""
import os
import sys
import time


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, with its message."""


def switch(name, default=None):
    return os.environ.get("FAKE_SONIC_" + name, default)


def failure_due(point):
    """True when FAKE_SONIC_FAIL asks for a failure at `point` (and, with FAIL_ONCE, it
    has not fired yet)."""
    mode = switch("FAIL", "")
    if not mode.endswith("_" + point):
        return None
    once = switch("FAIL_ONCE")
    if once:
        if os.path.exists(once):
            return None
        with open(once, "w") as marker:
            marker.write(mode)
    return mode.split("_")[0]


def fail(kind):
    sys.stderr.write("stand-in Sonic: failing on purpose (%s)\n" % kind)
    sys.stderr.flush()
    if kind == "crash":
        os.abort()  # like a CUDA driver fault: the process dies with SIGABRT
    if kind == "hang":
        while True:  # ignores cancel: only a kill ends it
            time.sleep(3600)
    if kind == "oom":
        raise OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 23.65 GiB total capacity; "
            "21.02 GiB already allocated; 1.21 GiB free; 21.50 GiB reserved in total by PyTorch)")


class Config(dict):
    """Attribute access like OmegaConf's DictConfig (config.seed = 7)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as error:
            raise AttributeError(key) from error

    def __setattr__(self, key, value):
        self[key] = value


def load_config(path):
    config = Config()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line or ":" not in line:
                continue
            key, value = (part.strip() for part in line.split(":", 1))
            value = value.strip("'\"")
            if value in ("True", "False"):
                config[key] = value == "True"
                continue
            for kind in (int, float):
                try:
                    config[key] = kind(value)
                    break
                except ValueError:
                    continue
            else:
                config[key] = value
    return config


class tqdm:
    """The part of tqdm's interface the official code uses: iterate, total, update."""

    def __init__(self, iterable=None, total=None, **kwargs):
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if iterable is not None else None)
        self.n = 0

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.n += 1

    def update(self, n=1):
        self.n += n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass
