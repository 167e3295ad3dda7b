"""One open Server-Sent Events stream of a sonic-server job (GET /api/jobs/{id}/events).

The stream is read on a thread of its own because a blocking socket read cannot look at
ComfyUI's interrupt flag: the reader parses events (id, event, data lines, keep-alive
comments; the SSE format as docs/api.md shows it) and hands them over a queue, and the
waiting side takes them with a short timeout and checks the flag in between. close()
shuts the socket down, which ends the reader's read at once, and joins the thread.
"""
from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Optional


@dataclass
class SseEvent:
    id: int
    type: str
    data: dict


class StreamClosed(Exception):
    """The event stream ended (cleanly, or with `error`)."""

    def __init__(self, error: Optional[BaseException] = None):
        super().__init__(str(error) if error else "the event stream ended")
        self.error = error


class EventStream:
    """An open event stream; next() gives its events, close() ends it."""

    def __init__(self, connection: http.client.HTTPConnection, sock, response: http.client.HTTPResponse):
        self._connection = connection
        self._sock = sock
        self._response = response
        self._events: "queue.Queue" = queue.Queue()
        self._thread = threading.Thread(target=self._read, name="sonic-server-events", daemon=True)
        self._thread.start()

    def _read(self):
        try:
            event_id, event_type, data_lines = 0, "", []
            while True:
                raw = self._response.readline(1 << 20)
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if event_type or data_lines:
                        text = "\n".join(data_lines)
                        try:
                            data = json.loads(text) if text else {}
                        except ValueError:
                            data = {"text": text}
                        self._events.put(SseEvent(event_id, event_type or "message", data))
                    event_type, data_lines = "", []
                    continue
                if line.startswith(":"):
                    continue  # keep-alive comment
                name, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if name == "id" and value.isdigit():
                    event_id = int(value)
                elif name == "event":
                    event_type = value
                elif name == "data":
                    data_lines.append(value)
            self._events.put(StreamClosed())
        except BaseException as error:  # a read timeout, a reset, or close() from the other thread
            self._events.put(StreamClosed(error))

    def next(self, timeout_s: float) -> Optional[SseEvent]:
        """The next event, or None when none came within `timeout_s`; raises StreamClosed at the end."""
        try:
            item = self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, StreamClosed):
            self._events.put(item)  # stay closed for later calls
            raise item
        return item

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._response.close()
        self._connection.close()
        self._thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
