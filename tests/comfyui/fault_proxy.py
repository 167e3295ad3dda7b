"""A loopback HTTP proxy in front of the real sonic-server that breaks chosen requests.

The network faults the nodes must survive — an answer lost after the server acted on the
request, a 503 from a load balancer, a proxy that does not pass Server-Sent Events, a stream
cut in the middle — cannot be had from a healthy local server, so this proxy makes them on
purpose and passes everything else through unchanged (one request per connection, with
`Connection: close` added so the server ends each answer). It records every request it saw.

Faults are planned per route: `plan("POST", "/api/sonic/generate", "drop_response")` makes
the next matching request suffer that fault; later ones pass. Faults:
- "reset": hang up without answering;
- "drop_response": send the request on, read the server's whole answer, hang up instead of
  passing it back (the server did the work; the client never hears of it);
- ("status", code, headers, body): answer this instead of the server;
- "cut_after_first_event": pass an event stream through up to its first event, then hang up;
- ("cut_after_bytes", n): pass the first n bytes of the answer (headers included), then hang up;
- ("slow", n): pass the answer n bytes at a time, 20 ms apart (a slow link).
"""
from __future__ import annotations

import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict  # lower-case names


def _read_request(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    # Forward with Connection: close so the server ends its answer by closing.
    kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
    raw = ("\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1") + body
    return method, target, headers, raw


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.seen: list[SeenRequest] = []
        self._plans: list = []  # [method, path regex, [faults]]
        self._lock = threading.Condition()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy")
        self._thread.start()

    def plan(self, method: str, path_pattern: str, *faults):
        with self._lock:
            self._plans.append([method, re.compile(path_pattern), list(faults)])

    def requests(self, method: str, path_pattern: str) -> list:
        pattern = re.compile(path_pattern)
        with self._lock:
            return [r for r in self.seen if r.method == method and pattern.search(r.path)]

    def wait_for_request(self, method: str, path_pattern: str, timeout_s: float = 60.0) -> bool:
        """Waits until a matching request has arrived (True) or the time is up (False)."""
        pattern = re.compile(path_pattern)
        with self._lock:
            return self._lock.wait_for(
                lambda: any(r.method == method and pattern.search(r.path) for r in self.seen), timeout=timeout_s)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _fault_for(self, method, path):
        with self._lock:
            for plan_method, pattern, faults in self._plans:
                if plan_method == method and pattern.search(path) and faults:
                    return faults.pop(0)
        return "forward"

    def _handle(self, client):
        request = _read_request(client)
        if request is None:
            return
        method, path, headers, raw = request
        with self._lock:
            self.seen.append(SeenRequest(method, path, headers))
            self._lock.notify_all()
        fault = self._fault_for(method, path)
        if fault == "reset":
            client.close()
            return
        if isinstance(fault, tuple) and fault[0] == "status":
            _, code, extra_headers, body = fault
            head = [f"HTTP/1.1 {code} Injected", f"Content-Length: {len(body)}", "Connection: close"]
            head += [f"{name}: {value}" for name, value in extra_headers.items()]
            client.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            client.close()
            return
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120) as upstream:
            upstream.sendall(raw)
            self._relay(upstream, client, fault)
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        client.close()

    @staticmethod
    def _relay(upstream, client, fault):
        """Passes the server's answer back to the client, as far as the fault allows."""
        cut_at = fault[1] if isinstance(fault, tuple) and fault[0] == "cut_after_bytes" else None
        passed = 0
        stream = b""  # kept only to find the end of the first event
        while True:
            try:
                chunk = upstream.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            if fault == "drop_response":
                continue
            if cut_at is not None:
                chunk = chunk[: max(0, cut_at - passed)]
            try:
                if isinstance(fault, tuple) and fault[0] == "slow":
                    for offset in range(0, len(chunk), fault[1]):
                        client.sendall(chunk[offset:offset + fault[1]])
                        time.sleep(0.02)
                else:
                    client.sendall(chunk)
            except OSError:
                return
            passed += len(chunk)
            if cut_at is not None and passed >= cut_at:
                return
            if fault == "cut_after_first_event":
                stream += chunk
                event = stream.partition(b"\r\n\r\n")[2].split(b"event:", 1)
                if len(event) == 2 and b"\n\n" in event[1]:
                    return
