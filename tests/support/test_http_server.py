#!/usr/bin/python3
"""Real HTTP servers on loopback for the integration tests of inputs by URL and webhooks.

Standard library only, run with Debian's /usr/bin/python3 by tests/integration/python_server.h.

  webhook   a webhook receiver. Every POST is verified with an implementation of the
            Standard Webhooks scheme written here with hmac/hashlib/base64 (independent of
            the server's C++), then logged as one JSON line to --log; the answer follows
            --responses, one entry per request (the last repeats): a status code, or
            "sleep:S" (wait S seconds, then 200), or "close" (hang up without an answer),
            optionally with "+retry-after:N".
  files     serves the files of --dir, plus test routes:
              /redirect?to=URL          302 to URL
              /chain/N/NAME             N redirects, then NAME
              /status/CODE              that status, empty body
              /stall                    headers, then nothing
              /drip/NAME                NAME one byte per 0.2 s
              /lying-length/NAME        Content-Length larger than NAME, then close
              /chunked/NAME             NAME in chunked encoding
              /huge                     an endless body without Content-Length
              /huge-length              Content-Length: 10 GB
            every request is logged as a JSON line to --log.

The bound port is written to --port-file once the server listens; --tls-cert/--tls-key
serve HTTPS.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def verify(secret, headers, body):
    """Standard Webhooks verification; returns (ok, why)."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return False, "missing webhook-* header"
    if not secret.startswith("whsec_"):
        return False, "secret is not whsec_"
    key = base64.b64decode(secret[len("whsec_"):])
    try:
        ts = int(timestamp)
    except ValueError:
        return False, "timestamp not an integer"
    if abs(time.time() - ts) > 300:
        return False, "timestamp outside 5 minutes"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for item in signatures.split(" "):
        version, _, value = item.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True, ""
    return False, "no matching v1 signature"


class Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.count = 0

    def write(self, record):
        with self.lock:
            self.count += 1
            record["n"] = self.count
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            return self.count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        server = self.server
        ok, why = verify(server.secret, self.headers, body)
        n = server.log.write({
            "at": time.time(), "method": "POST", "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"), "verified": ok, "why": why})
        answer = server.responses[min(n, len(server.responses)) - 1]
        retry_after = None
        if "+retry-after:" in answer:
            answer, _, retry_after = answer.partition("+retry-after:")
        if answer == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status = 200
        if answer.startswith("sleep:"):
            time.sleep(float(answer[6:]))
        else:
            status = int(answer)
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self):
        server = self.server
        server.log.write({"at": time.time(), "method": "GET", "path": self.path,
                          "host": self.headers.get("Host", "")})
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/redirect":
            return self.redirect(parse_qs(url.query)["to"][0])
        if len(parts) == 3 and parts[0] == "chain":
            left = int(parts[1])
            if left > 0:
                return self.redirect(f"/chain/{left - 1}/{parts[2]}")
            return self.send_file(parts[2])
        if len(parts) == 2 and parts[0] == "status":
            self.send_response(int(parts[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(120)
            return
        if len(parts) == 2 and parts[0] == "drip":
            data = self.read(parts[1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(0.2)
            return
        if len(parts) == 2 and parts[0] == "lying-length":
            data = self.read(parts[1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        if len(parts) == 2 and parts[0] == "chunked":
            data = self.read(parts[1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7000):
                piece = data[i:i + 7000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if url.path == "/huge":
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            block = b"\0" * 65536
            try:
                for _ in range(100000):
                    self.wfile.write(block)
            except OSError:
                pass
            self.close_connection = True
            return
        if url.path == "/huge-length":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024 ** 3))
            self.end_headers()
            self.close_connection = True
            return
        return self.send_file(url.path.lstrip("/"))

    def read(self, name):
        path = os.path.join(self.server.dir, os.path.basename(name))
        with open(path, "rb") as f:
            return f.read()

    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_file(self, name):
        try:
            data = self.read(name)
        except OSError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["webhook", "files"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", default="")
    p.add_argument("--responses", default="200")
    p.add_argument("--dir", default=".")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    a = p.parse_args()
    server = Server((a.host, a.port), Handler)
    if a.tls_cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.tls_cert, a.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.secret = a.secret
    server.responses = a.responses.split(",")
    server.dir = a.dir
    server.log = Log(a.log)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
