"""The sonic-server HTTP API (docs/api.md) as the ComfyUI nodes use it, on the standard library.

ComfyUI custom nodes may not install anything, so this is `http.client`, not a third-party
HTTP library. What it adds to bare requests:

- **Retries that are safe.** 429 waits for the server's `Retry-After`; 5xx and network
  errors are retried with exponential back-off; both bounded by `max_retries`. Every
  generate request carries an `Idempotency-Key` fixed for the node execution, so a retry
  after a lost answer is the same request to a server that honours the key; one that does
  not yet still joins the identical job in flight (docs/api.md, result cache).
- **Interrupts.** A node must stop when the user presses Cancel in ComfyUI, but ComfyUI can
  only raise a flag. Every wait here is sliced and calls `check_interrupt` (which raises
  ComfyUI's InterruptProcessingException), the upload goes out in slices, and the event
  stream is read on its own thread so the waiting side never blocks for long.
- **Errors people can act on.** The server's own sentence (`error` in its JSON) is the
  message; a server that cannot be reached is named by its URL.
- **The token stays secret.** It is read from an environment variable at request time and
  only ever goes into an Authorization header to the configured server's origin; it is not
  a field of anything ComfyUI stores, prints or saves with a workflow.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import os
import random
import re
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import quote, urlsplit

from .event_stream import EventStream

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TOKEN_ENV = "SONIC_SERVER_TOKEN"
USER_AGENT = "comfyui-sonic-server/0.1"

MAX_RETRY_AFTER_S = 300.0  # a longer Retry-After is reported, not waited for
MAX_BACKOFF_S = 30.0
SEND_SLICE_BYTES = 256 * 1024
READ_SLICE_BYTES = 256 * 1024
WAIT_SLICE_S = 0.1

# Environment variable names as they are written by convention: capitals, digits and _. Keys
# and tokens are mixed-case or lower-case hex (and JWTs have dots), so one pasted here by
# mistake is refused instead of being looked up (and shown in messages) as a name.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
NETWORK_ERRORS = (OSError, http.client.HTTPException)


class SonicError(Exception):
    """An error to show the user: the server's own sentence when the server said something."""

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None,
                 field: Optional[str] = None, job_id: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field
        self.job_id = job_id


class ServerUnreachable(SonicError):
    """No answer from the server after the allowed retries; the message names its URL."""


@dataclass(frozen=True)
class ServerSettings:
    """Where the server is and how patient to be: the output of the Sonic server node.

    Holds the *name* of the environment variable with the token, never the token, so
    ComfyUI's caches, error reports (which print node inputs) and saved workflows cannot
    leak it.
    """

    url: str = DEFAULT_URL
    token_env: str = DEFAULT_TOKEN_ENV
    timeout_s: float = 30.0
    job_timeout_s: float = 3600.0  # 0 = wait as long as the job takes
    max_retries: int = 5

    def __post_init__(self):
        url = (self.url or "").strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SonicError(f"The server URL '{self.url}' is not an http:// or https:// address; "
                             f"use e.g. {DEFAULT_URL}.", field="url")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise SonicError("The server URL must be scheme://host:port (and an optional path), without a "
                             "user, password, query or fragment: put a token in the environment variable "
                             "named by token_env instead.", field="url")
        try:
            parts.port
        except ValueError:
            raise SonicError(f"The server URL '{self.url}' has an invalid port.", field="url") from None
        object.__setattr__(self, "url", url)
        name = (self.token_env or "").strip()
        if name and not _ENV_NAME.match(name):
            # Never echo the value: it may be a token pasted into the wrong field.
            raise SonicError("token_env takes the NAME of an environment variable (capitals, digits and _, e.g. "
                             f"{DEFAULT_TOKEN_ENV}), not the token itself: a token typed into a node is saved "
                             "with the workflow and with every video's metadata. Clear the field, set the "
                             "variable where ComfyUI starts, and restart ComfyUI.", field="token_env")
        object.__setattr__(self, "token_env", name)
        if not self.timeout_s > 0:
            raise SonicError("timeout_s must be above 0.", field="timeout_s")
        if self.max_retries < 0:
            raise SonicError("max_retries must be 0 or more.", field="max_retries")

    def token(self) -> str:
        return os.environ.get(self.token_env, "").strip() if self.token_env else ""


def _origin(url: str):
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


def _reason(error: BaseException, timeout_s: float) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, socket.gaierror):
        return "unknown host name"
    if isinstance(error, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "the connection was closed"
    text = str(error) or type(error).__name__
    return text


def backoff_s(attempt: int) -> float:
    """1 s, 2 s, 4 s, … up to 30 s, with ±20 % jitter so many clients do not retry in step."""
    return min(MAX_BACKOFF_S, 2.0 ** attempt) * random.uniform(0.8, 1.2)


def _multipart(files, fields):
    """A multipart/form-data body: `files` as (name, filename, type, bytes), `fields` as name → text."""
    boundary = "sonic-" + uuid.uuid4().hex
    chunks = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        chunks.append(value.encode("utf-8") + b"\r\n")
    for name, filename, content_type, data in files:
        chunks.append((f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                       f"Content-Type: {content_type}\r\n\r\n").encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class Reply:
    """A whole HTTP answer."""

    def __init__(self, status: int, reason: str, headers, body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def retry_after_s(self) -> Optional[float]:
        value = (self.headers.get("Retry-After") or "").strip()
        if not value:
            return None
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


class SonicClient:
    """Requests to one sonic-server, with the retry and interrupt rules above."""

    def __init__(self, settings: ServerSettings, check_interrupt: Callable[[], None] = lambda: None):
        self.settings = settings
        self.check_interrupt = check_interrupt

    # -- plumbing -------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        return self.settings.url + path

    def wait(self, seconds: float, interruptible: bool = True):
        """Sleeps `seconds`, looking at the interrupt flag every 0.1 s."""
        end = time.monotonic() + seconds
        while True:
            if interruptible:
                self.check_interrupt()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(WAIT_SLICE_S, left))

    def _headers(self, url: str, extra) -> dict:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "X-Request-Id": "comfyui-" + uuid.uuid4().hex}
        token = self.settings.token()
        if token and _origin(url) == _origin(self.settings.url):  # never hand the token to another host
            headers["Authorization"] = "Bearer " + token
        headers.update(extra or {})
        return headers

    def _open(self, method: str, url: str, body: Optional[bytes] = None, headers=None,
              timeout_s: Optional[float] = None, interruptible: bool = True):
        """Sends one request; returns (connection, socket, response) with the body unread."""
        parts = urlsplit(url)
        timeout = timeout_s or self.settings.timeout_s
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~") + ("?" + parts.query if parts.query else "")
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            all_headers = self._headers(url, headers)
            if body is not None:
                all_headers["Content-Length"] = str(len(body))
            for name, value in all_headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            sock = connection.sock
            try:
                for offset in range(0, len(body or b""), SEND_SLICE_BYTES):
                    if interruptible:
                        self.check_interrupt()
                    connection.send(body[offset:offset + SEND_SLICE_BYTES])
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer before reading a whole upload (a 429 or 401 is decided
                # from the headers) and then hang up: its answer is still worth reading.
                pass
            return connection, sock, connection.getresponse()
        except BaseException:
            connection.close()
            raise

    def _exchange(self, method, url, body, headers, interruptible) -> Reply:
        connection, _, response = self._open(method, url, body, headers, interruptible=interruptible)
        try:
            return Reply(response.status, response.reason, response.headers, response.read())
        finally:
            connection.close()

    def call(self, method: str, path: str, *, body: Optional[bytes] = None, headers=None,
             retry: bool = True, interruptible: bool = True) -> Reply:
        """One API request, retried on 429, 5xx and network errors (at most max_retries times)."""
        url = self.url_for(path)
        attempt = 0
        while True:
            if interruptible:
                self.check_interrupt()
            try:
                reply = self._exchange(method, url, body, headers, interruptible)
            except ssl.SSLCertVerificationError as error:
                raise ServerUnreachable(f"sonic-server at {self.settings.url} has a TLS certificate this machine "
                                        f"does not trust ({error.verify_message}).") from None
            except NETWORK_ERRORS as error:
                if retry and attempt < self.settings.max_retries:
                    self.wait(backoff_s(attempt), interruptible)
                    attempt += 1
                    continue
                tries = f" (tried {attempt + 1} times)" if attempt else ""
                raise ServerUnreachable(
                    f"Cannot reach sonic-server at {self.settings.url}: {_reason(error, self.settings.timeout_s)}"
                    f"{tries}. Is it running, and is the url in the Sonic server node right?") from None
            if retry and attempt < self.settings.max_retries and (reply.status == 429 or reply.status >= 500):
                delay = reply.retry_after_s()
                if delay is None:
                    delay = backoff_s(attempt)
                if delay <= MAX_RETRY_AFTER_S:
                    self.wait(delay, interruptible)
                    attempt += 1
                    continue
            return reply

    def error_from(self, reply: Reply, job_id: Optional[str] = None) -> SonicError:
        body = reply.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
            message = body["error"]
            code = body.get("code")
            field = body.get("field")
        else:
            message = f"sonic-server at {self.settings.url} answered HTTP {reply.status} {reply.reason}."
            code = field = None
        if reply.status == 401:
            if not self.settings.token_env:
                message += " The Sonic server node's token_env is empty, so no token was sent."
            elif not self.settings.token():
                message += (f" No token was sent: the environment variable {self.settings.token_env} is not set "
                            "where ComfyUI runs (set it and restart ComfyUI).")
            else:
                message += f" (The token comes from the environment variable {self.settings.token_env}.)"
        elif reply.status == 429:
            wait = reply.retry_after_s()
            if wait is not None and wait > MAX_RETRY_AFTER_S:
                message += f" (The server asks for a wait of {wait:.0f} s, longer than the node waits.)"
            elif self.settings.max_retries == 0:
                message += " (max_retries in the Sonic server node is 0, so the node did not wait.)"
            else:
                message += f" (Still refused after {self.settings.max_retries} retries.)"
        elif reply.status >= 500:
            request_id = reply.headers.get("X-Request-Id")
            if request_id:
                message += f" (request id {request_id} finds it in the server's log)"
        if isinstance(body, dict) and body.get("job_id") and not job_id:
            job_id = body["job_id"]
        return SonicError(message, code=code, status=reply.status, field=field, job_id=job_id)

    def _json_or_raise(self, reply: Reply, ok=(200,), job_id: Optional[str] = None) -> dict:
        if reply.status in ok:
            body = reply.json()
            if isinstance(body, dict):
                return body
            raise SonicError(f"sonic-server at {self.settings.url} answered something that is not JSON "
                             f"(HTTP {reply.status}); is the url that of a sonic-server?")
        raise self.error_from(reply, job_id)

    # -- the API --------------------------------------------------------------------------

    def submit(self, image_png: bytes, audio_wav: bytes, config: dict, preset: Optional[str],
               idempotency_key: str) -> dict:
        """POST /api/sonic/generate with Prefer: respond-async: 202 (queued) or 200 (a cache hit)."""
        fields = {"config": json.dumps(config, separators=(",", ":"))}
        if preset:
            fields["preset"] = preset
        body, content_type = _multipart([("image", "image.png", "image/png", image_png),
                                         ("audio", "audio.wav", "audio/wav", audio_wav)], fields)
        reply = self.call("POST", "/api/sonic/generate", body=body,
                          headers={"Content-Type": content_type, "Prefer": "respond-async",
                                   "Idempotency-Key": idempotency_key})
        return self._json_or_raise(reply, ok=(200, 202))

    def job(self, job_id: str) -> dict:
        return self._json_or_raise(self.call("GET", "/api/jobs/" + quote(job_id)), job_id=job_id)

    def presets(self) -> list:
        return self._json_or_raise(self.call("GET", "/api/presets")).get("presets", [])

    def cancel_quietly(self, job_id: str) -> Optional[dict]:
        """POST /api/jobs/{id}/cancel once, not interruptible and never raising: it runs while
        the node is already stopping for another reason, which must stay the one reported."""
        try:
            reply = self._exchange("POST", self.url_for("/api/jobs/" + quote(job_id) + "/cancel"), b"",
                                   {"Content-Type": "application/json"}, interruptible=False)
            return reply.json() if reply.status == 200 else None
        except Exception:
            return None

    def open_events(self, job_id: str, last_event_id: int = 0) -> Optional[EventStream]:
        """The job's event stream, or None when the server (or a proxy) does not serve one.

        Network errors are raised as they are; the caller decides how often to reconnect.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = str(last_event_id)
        # Keep-alive comments come every 15 s by default; silence for much longer means the
        # stream is stuck (a proxy holding it back), and the caller reconnects or polls.
        timeout = max(45.0, self.settings.timeout_s)
        connection, sock, response = self._open("GET", self.url_for("/api/jobs/" + quote(job_id) + "/events"),
                                                headers=headers, timeout_s=timeout)
        content_type = response.headers.get("Content-Type", "")
        if response.status == 200 and content_type.startswith("text/event-stream"):
            return EventStream(connection, sock, response)
        # Anything else (a proxy's error page, a 404 for a path it does not pass on): the
        # caller polls GET /api/jobs/{id}, whose answer says what is really wrong, if anything.
        try:
            response.read()
        finally:
            connection.close()
        return None

    def download(self, url: str, destination: str, on_progress: Callable[[int, Optional[int]], None]) -> int:
        """GET the video into `destination` in slices, resuming with Range after a broken
        connection; the file appears under its name only when complete."""
        partial = destination + ".part"
        received = 0
        total: Optional[int] = None
        attempt = 0
        try:
            with open(partial, "wb") as out:
                while True:
                    self.check_interrupt()
                    headers = {"Accept": "video/mp4"}
                    if received:
                        headers["Range"] = f"bytes={received}-"
                    try:
                        connection, _, response = self._open("GET", url, headers=headers)
                        try:
                            if response.status == 200:
                                out.seek(0)
                                out.truncate()
                                received = 0
                                length = response.headers.get("Content-Length")
                                total = int(length) if length and length.isdigit() else None
                            elif response.status == 206 and received:
                                content_range = response.headers.get("Content-Range", "")
                                size = content_range.rpartition("/")[2]
                                total = int(size) if size.isdigit() else total
                            else:
                                reply = Reply(response.status, response.reason, response.headers, response.read())
                                if (reply.status == 429 or reply.status >= 500) and attempt < self.settings.max_retries:
                                    self.wait(reply.retry_after_s() or backoff_s(attempt))
                                    attempt += 1
                                    continue
                                raise self.error_from(reply)
                            while True:
                                self.check_interrupt()
                                chunk = response.read1(READ_SLICE_BYTES)  # what has arrived, not a full slice
                                if not chunk:
                                    break
                                out.write(chunk)
                                received += len(chunk)
                                on_progress(received, total)
                        finally:
                            connection.close()
                        if total is not None and received < total:
                            raise http.client.IncompleteRead(b"", total - received)
                        break
                    except NETWORK_ERRORS as error:
                        if attempt >= self.settings.max_retries:
                            raise ServerUnreachable(f"The download of {url.split('?')[0]} from sonic-server at "
                                                    f"{self.settings.url} failed: "
                                                    f"{_reason(error, self.settings.timeout_s)}.") from None
                        self.wait(backoff_s(attempt))
                        attempt += 1
            os.replace(partial, destination)
            return received
        finally:
            if os.path.exists(partial):
                os.remove(partial)

