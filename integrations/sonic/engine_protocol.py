"""The engine side of sonic-server's engine protocol, version 1 (docs/engine-protocol.md):
a private protocol stream, a stdin reader, and the rgb24 frame file.

Standard library only (numpy arrays are accepted by FrameFile.write but not required)."""
import json
import os
import queue
import struct
import sys
import threading

PROTOCOL_VERSION = 1
FRAME_MAGIC = b"SNCFRM01"


def take_stdout():
    """Keeps file descriptor 1 for the protocol and points fd 1 (and sys.stdout) at stderr,
    so that print() in any library — the official Sonic prints 'init done' — lands in the
    server's log instead of breaking the protocol stream. Returns the protocol's fd."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.set_inheritable(protocol_fd, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


class ProtocolStream:
    """One JSON message per line on the protocol fd; thread-safe."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message):
        data = (json.dumps(message, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        with self.lock:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]


class Inbox:
    """Reads stdin on a thread of its own, so a `cancel` arrives while a job runs. Jobs go
    to a queue for the main loop; cancels set the job's event; end of input or `shutdown`
    puts None in the queue."""

    def __init__(self):
        self.jobs = queue.Queue()
        self.canceled = {}  # job id -> threading.Event
        self.lock = threading.Lock()
        threading.Thread(target=self._read, name="protocol-stdin", daemon=True).start()

    def cancel_event(self, job_id):
        with self.lock:
            return self.canceled.setdefault(job_id, threading.Event())

    def forget(self, job_id):
        with self.lock:
            self.canceled.pop(job_id, None)

    def _read(self):
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                sys.stderr.write("engine: ignoring a line that is not JSON from the server\n")
                continue
            kind = message.get("type")
            if kind == "job":
                self.cancel_event(message.get("job", ""))
                self.jobs.put(message)
            elif kind == "cancel":
                self.cancel_event(message.get("job", "")).set()
            elif kind == "shutdown":
                break
        self.jobs.put(None)


class FrameFile:
    """The protocol's rgb24 frame file: a 32-byte header, then RGB24 frames."""

    def __init__(self, path, width, height, fps_num=25, fps_den=1):
        self.path, self.width, self.height = path, width, height
        self.fps_num, self.fps_den = fps_num, fps_den
        self.count = 0
        self.file = open(path, "wb")
        self.file.write(self._header())

    def _header(self):
        return FRAME_MAGIC + struct.pack("<6I", self.width, self.height, self.count, self.fps_num, self.fps_den, 0)

    def write(self, rgb):
        """rgb: height x width x 3 uint8 (a numpy array, or bytes)."""
        data = rgb.tobytes() if hasattr(rgb, "tobytes") else bytes(rgb)
        if len(data) != self.width * self.height * 3:
            raise ValueError("frame of the wrong size")
        self.file.write(data)
        self.count += 1

    def close(self):
        self.file.seek(0)
        self.file.write(self._header())
        self.file.close()
